import EventLogCore
import Foundation
import PostgresNIO

extension PostgresEventStore {
    /// The schema's migrations, in order: migration n brings the schema from version n − 1 to n.
    /// Only appended to, never edited (a deployed node may have applied them).
    static let migrations: [[PostgresQuery]] = [
        // 1: the log, its identity.
        [
            """
            CREATE TABLE analytics_events (
                position BIGINT PRIMARY KEY,
                aggregate_type TEXT NOT NULL,
                aggregate_id TEXT NOT NULL,
                version BIGINT NOT NULL,
                event_type TEXT NOT NULL,
                payload TEXT NOT NULL,
                metadata TEXT NOT NULL,
                recorded_at BIGINT NOT NULL,
                UNIQUE (aggregate_type, aggregate_id, version)
            )
            """,
            "CREATE TABLE analytics_log_identity (id TEXT NOT NULL)",
            "INSERT INTO analytics_log_identity (id) VALUES (md5(random()::text || clock_timestamp()::text))",
        ],
    ]

    /// The advisory-lock key migrations serialise on (distinct from the appends').
    static let migrationLockKey: Int64 = 0x616E_616C_7973_6368

    /// Brings the schema to this release's version, applying each missing migration in order in
    /// one transaction, under an advisory lock: nodes starting at once wait for each other, and
    /// each migration is applied once.
    /// - Returns: the schema version afterwards
    /// - Throws: ``EventStoreError`` (`.inconsistentLog`) for a schema newer than this release knows
    @discardableResult
    public func migrate() async throws -> Int {
        try await transaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.migrationLockKey))", logger: self.logger)
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS analytics_schema_migrations (
                    version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
                """, logger: self.logger)
            var current = 0
            for try await version in try await connection.query(
                "SELECT COALESCE(MAX(version), 0) FROM analytics_schema_migrations", logger: self.logger
            ).decode(Int.self) {
                current = version
            }
            guard current <= Self.migrations.count else {
                throw EventStoreError(.inconsistentLog, "the event log's schema is version \(current), newer than this release's \(Self.migrations.count): upgrade this node")
            }
            for (index, statements) in Self.migrations.enumerated() where index + 1 > current {
                for statement in statements { try await connection.query(statement, logger: self.logger) }
                try await connection.query("INSERT INTO analytics_schema_migrations (version) VALUES (\(index + 1))", logger: self.logger)
            }
            return Self.migrations.count
        }
    }

    public func identity() async throws -> String {
        if let known = identityCache.withLock({ $0 }) { return known }
        var id = ""
        for try await value in try await client.query("SELECT id FROM analytics_log_identity", logger: logger).decode(String.self) {
            id = value
        }
        guard !id.isEmpty else { throw EventStoreError(.inconsistentLog, "the event log has no identity: was it migrated?") }
        identityCache.withLock { $0 = id }
        return id
    }

    /// Runs `body` in a transaction on a pooled connection: committed if it returns, rolled back if
    /// it throws. The closure's own error is rethrown as it is (not wrapped), so callers see
    /// ``EventStoreError``s; a connection whose rollback failed is closed, never handed out again
    /// inside a transaction.
    func transaction<R: Sendable>(_ body: (PostgresConnection) async throws -> R) async throws -> R {
        try await client.withConnection { connection in
            try await connection.query("BEGIN", logger: self.logger)
            let value: R
            do {
                value = try await body(connection)
            } catch {
                do {
                    try await connection.query("ROLLBACK", logger: self.logger)
                } catch {
                    try? await connection.close()
                }
                throw error
            }
            do {
                try await connection.query("COMMIT", logger: self.logger)
            } catch {
                // The outcome is unknown (the commit may have reached the server): close the
                // connection rather than guess its state.
                try? await connection.close()
                throw EventStoreError(.unknownOutcome, "the commit's outcome is unknown (\(error)); read the aggregate before retrying")
            }
            return value
        }
    }
}

import EventLogCore
import Foundation
import Logging
import PostgresNIO
import Synchronization

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
            // Other nodes may be migrating: wait for them longer than an append waits.
            try await Self.execute(connection, "SET LOCAL lock_timeout = '60s'", logger: self.logger)
            try await Self.execute(connection, "SELECT pg_advisory_xact_lock(\(Self.migrationLockKey))", logger: self.logger)
            // No DDL when the schema is there (a node may only have rights on the tables).
            var exists = false
            for try await name in try await connection.query(
                "SELECT to_regclass('analytics_schema_migrations')::text", logger: self.logger
            ).decode(String?.self) {
                exists = name != nil
            }
            if !exists {
                try await Self.execute(connection, """
                    CREATE TABLE analytics_schema_migrations (
                        version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
                    """, logger: self.logger)
            }
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
                for statement in statements { try await Self.execute(connection, statement, logger: self.logger) }
                try await Self.execute(connection, "INSERT INTO analytics_schema_migrations (version) VALUES (\(index + 1))", logger: self.logger)
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
    func transaction<R: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> R) async throws -> R {
        // The pool waits for a connection as long as it keeps trying to open one (a minute when
        // the server is unreachable): bounded here. Only the wait for a connection is: once one
        // is leased the transaction runs to its end (its lock waits are bounded by lock_timeout),
        // so a timeout never hides an append that committed.
        let lease = LeaseState()
        let timeout = configuration.connectionTimeout
        return try await withThrowingTaskGroup(of: R?.self) { group in
            group.addTask {
                do {
                    return try await self.attempt(lease, body)
                } catch let error as PSQLError where Self.isClosedConnection(error) && error.query?.sql == Self.begin.sql {
                    // The pool handed out a connection that had just closed (a terminated backend),
                    // and BEGIN failed on it: nothing was sent, so once more on another.
                    lease.state.store(0, ordering: .sequentiallyConsistent)
                    return try await self.attempt(lease, body)
                }
            }
            group.addTask {
                // Cancelled (the caller gave up, or the transaction finished): no verdict of its own —
                // the transaction's outcome is what the caller gets.
                do { try await Task.sleep(for: timeout) } catch { return nil }
                guard lease.state.compareExchange(expected: 0, desired: 2, ordering: .sequentiallyConsistent).exchanged else { return nil }
                throw EventStoreError(.unavailable, "no connection to the event log's server within \(timeout); nothing was written")
            }
            defer { group.cancelAll() }
            while let next = try await group.next() {
                if let value = next { return value }
            }
            throw EventStoreError(.unavailable, "the event log's transaction ended without a result")
        }
    }

    /// READ COMMITTED whatever the database's default: each statement's snapshot starts when the
    /// statement does, so the reads after the advisory lock see every append committed before.
    static let begin: PostgresQuery = "BEGIN ISOLATION LEVEL READ COMMITTED"

    static func isClosedConnection(_ error: PSQLError) -> Bool {
        [.serverClosedConnection, .clientClosedConnection, .connectionError, .uncleanShutdown].contains(error.code)
    }

    private func attempt<R: Sendable>(_ lease: LeaseState, _ body: (PostgresConnection) async throws -> R) async throws -> R {
        try await client.withConnection { connection in
            guard lease.state.compareExchange(expected: 0, desired: 1, ordering: .sequentiallyConsistent).exchanged else {
                throw EventStoreError(.unavailable, "no connection to the event log's server in time; nothing was written")
            }
            do {
                try await Self.execute(connection, Self.begin, logger: self.logger)
            } catch {
                try? await connection.close()
                throw error
            }
            let value: R
            do {
                value = try await body(connection)
            } catch {
                do {
                    try await Self.execute(connection, "ROLLBACK", logger: self.logger)
                } catch {
                    try? await connection.close()
                }
                throw error
            }
            do {
                try await Self.execute(connection, "COMMIT", logger: self.logger)
            } catch {
                // The outcome is unknown (the commit may have reached the server): close the
                // connection rather than guess its state.
                try? await connection.close()
                throw EventStoreError(.unknownOutcome, "the commit's outcome is unknown (\(error)); read the aggregate before retrying")
            }
            return value
        }
    }

    /// Runs a statement and drains its rows: a statement's error (a lock timeout, a constraint)
    /// can arrive with its rows, after `query` returned, and must not pass unseen.
    static func execute(_ connection: PostgresConnection, _ query: PostgresQuery, logger: Logger) async throws {
        for try await _ in try await connection.query(query, logger: logger) {}
    }
}

/// Whether a transaction got its connection or timed out waiting: 0 waiting, 1 leased, 2 timed
/// out. Whichever moves it from 0 first decides.
final class LeaseState: Sendable {
    let state = Atomic<Int>(0)
}

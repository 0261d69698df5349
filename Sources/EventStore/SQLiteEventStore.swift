import Foundation
import GRDB

/// The event log in a SQLite file (WAL mode) through GRDB.
///
/// - Appends run in one `IMMEDIATE` transaction each: every event of one call commits or none does.
///   Positions are assigned as the last position + 1 inside that transaction; SQLite admits one
///   writer at a time (across processes too), so positions are gap-free and commit in order.
/// - Versions are checked and assigned in the same transaction; the unique index on
///   (aggregate type, id, version) backs the check.
/// - Reads run on GRDB's reader connections, concurrently with appends.
/// - Subscribers in this process are woken after each commit; a ``EventStoreWatcher`` also wakes
///   them for commits by other processes on the same file.
public final class SQLiteEventStore: EventLog {
    /// Settings of the store.
    public struct Configuration: Sendable {
        /// The largest payload or metadata accepted, in UTF-8 bytes.
        public var maxPayloadBytes: Int
        /// How long an append waits for another process's write lock before failing.
        public var busyTimeout: Duration
        /// Events read (and held) at once by each subscription.
        public var subscriptionBatchSize: Int

        /// Creates settings.
        /// - Parameters:
        ///   - maxPayloadBytes: default 1 MiB
        ///   - busyTimeout: default 5 s
        ///   - subscriptionBatchSize: default 512
        public init(maxPayloadBytes: Int = 1 << 20, busyTimeout: Duration = .seconds(5), subscriptionBatchSize: Int = 512) {
            self.maxPayloadBytes = maxPayloadBytes
            self.busyTimeout = busyTimeout
            self.subscriptionBatchSize = subscriptionBatchSize
        }
    }

    let pool: DatabasePool
    let configuration: Configuration
    /// Woken after every commit in this process (and by a watcher for other processes').
    public let changes = ChangeSignal()

    /// Opens (creating if needed) the log at `path`.
    /// - Parameters:
    ///   - path: the SQLite file
    ///   - configuration: limits and timeouts
    public init(path: String, configuration: Configuration = Configuration()) throws {
        var config = GRDB.Configuration()
        let busy = configuration.busyTimeout.components
        config.busyMode = .timeout(TimeInterval(busy.seconds) + TimeInterval(busy.attoseconds) / 1e18)
        pool = try DatabasePool(path: path, configuration: config)
        self.configuration = configuration
        try pool.write { db in
            try db.execute(sql: """
                CREATE TABLE IF NOT EXISTS events (
                    position INTEGER PRIMARY KEY,
                    aggregate_type TEXT NOT NULL,
                    aggregate_id TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    event_type TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    metadata TEXT NOT NULL,
                    recorded_at INTEGER NOT NULL,
                    UNIQUE (aggregate_type, aggregate_id, version)
                )
                """)
        }
    }

    // MARK: Appending

    public func append(_ events: [NewEvent], to aggregate: AggregateID, expectedVersion: ExpectedVersion) async throws -> [RecordedEvent] {
        try validate(events, aggregate, expectedVersion)
        let recorded = try await Self.mappingBusy { try await pool.write { db in try self.insert(events, aggregate, expectedVersion, db) } }
        changes.signal()
        return recorded
    }

    /// Turns SQLite's "database is locked" after the busy timeout into ``EventStoreError/Kind/busy``.
    static func mappingBusy<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY {
            throw EventStoreError(.busy, "the event log's write lock stayed taken past the busy timeout: \(error.message ?? "SQLITE_BUSY")")
        }
    }

    static func mappingBusy<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY {
            throw EventStoreError(.busy, "the event log's write lock stayed taken past the busy timeout: \(error.message ?? "SQLITE_BUSY")")
        }
    }

    /// The same append, blocking the calling thread (for processes without an async context).
    public func appendSync(_ events: [NewEvent], to aggregate: AggregateID, expectedVersion: ExpectedVersion) throws -> [RecordedEvent] {
        try validate(events, aggregate, expectedVersion)
        let recorded = try Self.mappingBusy { try pool.write { db in try self.insert(events, aggregate, expectedVersion, db) } }
        changes.signal()
        return recorded
    }

    /// Checks everything that does not need the database, before any write.
    func validate(_ events: [NewEvent], _ aggregate: AggregateID, _ expected: ExpectedVersion) throws {
        guard !events.isEmpty else { throw EventStoreError(.invalidArgument, "an append needs at least one event") }
        guard !aggregate.type.isEmpty, !aggregate.id.isEmpty else {
            throw EventStoreError(.invalidArgument, "the aggregate type and id must not be empty")
        }
        if case .exact(let n) = expected, n < 1 {
            throw EventStoreError(.invalidArgument, "expected version \(n) is not a version (versions start at 1; use .noStream)")
        }
        for (i, event) in events.enumerated() {
            guard !event.type.isEmpty else { throw EventStoreError(.invalidArgument, "event \(i) has no type") }
            for (field, text) in [("payload", event.payload), ("metadata", event.metadata)] {
                let size = text.utf8.count
                guard size <= configuration.maxPayloadBytes else {
                    throw EventStoreError(.tooLarge, "event \(i) (\(event.type)): \(field) of \(size) bytes exceeds the limit of \(configuration.maxPayloadBytes)")
                }
                guard (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed)) != nil else {
                    throw EventStoreError(.invalidJSON, "event \(i) (\(event.type)): \(field) is not valid JSON")
                }
            }
        }
    }

    func insert(_ events: [NewEvent], _ aggregate: AggregateID, _ expected: ExpectedVersion, _ db: Database) throws -> [RecordedEvent] {
        let current = try Int64.fetchOne(db.cachedStatement(sql: """
            SELECT COALESCE(MAX(version), 0) FROM events WHERE aggregate_type = ? AND aggregate_id = ?
            """), arguments: [aggregate.type, aggregate.id]) ?? 0
        switch expected {
        case .any: break
        case .noStream where current == 0: break
        case .exact(let n) where n == current: break
        default:
            throw EventStoreError(.versionConflict(expected: expected, actual: current),
                                  "\(aggregate): expected version \(Self.describe(expected)), actual \(current)")
        }
        var position = try Int64.fetchOne(db.cachedStatement(sql: "SELECT COALESCE(MAX(position), 0) FROM events")) ?? 0
        let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
        var recorded: [RecordedEvent] = []
        recorded.reserveCapacity(events.count)
        let statement = try db.cachedStatement(sql: """
            INSERT INTO events (position, aggregate_type, aggregate_id, version, event_type, payload, metadata, recorded_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """)
        for (i, event) in events.enumerated() {
            position += 1
            let version = current + Int64(i) + 1
            try statement.execute(arguments: [position, aggregate.type, aggregate.id, version, event.type, event.payload, event.metadata, now])
            recorded.append(RecordedEvent(position: position, aggregate: aggregate, version: version, type: event.type,
                                          payload: event.payload, metadata: event.metadata, recordedAt: now))
        }
        return recorded
    }

    static func describe(_ expected: ExpectedVersion) -> String {
        switch expected {
        case .any: "any"
        case .noStream: "none (no stream)"
        case .exact(let n): "\(n)"
        }
    }

    // MARK: Reading

    public func read(from position: Int64, limit: Int) async throws -> [RecordedEvent] {
        try await pool.read { db in try Self.fetch(db, from: position, limit: limit) }
    }

    /// The same read, blocking the calling thread.
    public func readSync(from position: Int64, limit: Int) throws -> [RecordedEvent] {
        try pool.read { db in try Self.fetch(db, from: position, limit: limit) }
    }

    static func fetch(_ db: Database, from position: Int64, limit: Int) throws -> [RecordedEvent] {
        try Row.fetchAll(db, sql: """
            SELECT position, aggregate_type, aggregate_id, version, event_type, payload, metadata, recorded_at
            FROM events WHERE position >= ? ORDER BY position LIMIT ?
            """, arguments: [position, limit]).map(Self.event)
    }

    public func read(aggregate: AggregateID) async throws -> [RecordedEvent] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT position, aggregate_type, aggregate_id, version, event_type, payload, metadata, recorded_at
                FROM events WHERE aggregate_type = ? AND aggregate_id = ? ORDER BY version
                """, arguments: [aggregate.type, aggregate.id]).map(Self.event)
        }
    }

    public func lastPosition() async throws -> Int64 {
        try await pool.read { db in try Self.lastPosition(db) }
    }

    /// The last position, blocking the calling thread.
    public func lastPositionSync() throws -> Int64 {
        try pool.read { db in try Self.lastPosition(db) }
    }

    static func lastPosition(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(position), 0) FROM events") ?? 0
    }

    static func event(_ row: Row) -> RecordedEvent {
        RecordedEvent(
            position: row[0], aggregate: AggregateID(type: row[1], id: row[2]), version: row[3], type: row[4],
            payload: row[5], metadata: row[6], recordedAt: row[7])
    }

    public func subscribe(from position: Int64, batchSize: Int?) -> EventSubscription {
        let pool = self.pool
        return EventSubscription(from: position, batchSize: batchSize ?? configuration.subscriptionBatchSize, signal: changes) { from, limit in
            try await pool.read { db in try Self.fetch(db, from: from, limit: limit) }
        }
    }
}

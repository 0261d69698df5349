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
        /// Bytes of event text (payload, metadata, type, aggregate type and id) read (and held) at
        /// once by each subscription: a batch ends before the event that would pass it (it always
        /// holds at least one event).
        public var subscriptionBatchBytes: Int
        /// How hard SQLite syncs each commit. See ``Synchronous``.
        public var synchronous: Synchronous

        /// SQLite's `synchronous` setting for the log (in WAL mode).
        public enum Synchronous: String, Sendable {
            /// Every commit is synced to disk before `append` returns (`synchronous=FULL`): an
            /// acknowledged append survives an OS crash or power loss. The default: a projection
            /// or a cache that has seen an append must never find the log without it.
            case full = "FULL"
            /// Commits are synced at WAL checkpoints only (`synchronous=NORMAL`): faster appends,
            /// but an OS crash or power loss can lose the last acknowledged ones (a process crash
            /// cannot). A projector then refuses to go on rather than skip (see the log identity).
            case normal = "NORMAL"
        }

        /// Creates settings.
        /// - Parameters:
        ///   - maxPayloadBytes: default 1 MiB
        ///   - busyTimeout: default 5 s
        ///   - subscriptionBatchSize: default 512
        ///   - subscriptionBatchBytes: default 4 MiB
        ///   - synchronous: default `.full`
        public init(
            maxPayloadBytes: Int = 1 << 20, busyTimeout: Duration = .seconds(5), subscriptionBatchSize: Int = 512,
            subscriptionBatchBytes: Int = 4 << 20, synchronous: Synchronous = .full
        ) {
            self.maxPayloadBytes = maxPayloadBytes
            self.busyTimeout = busyTimeout
            self.subscriptionBatchSize = subscriptionBatchSize
            self.subscriptionBatchBytes = subscriptionBatchBytes
            self.synchronous = synchronous
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
        // On the one writer connection, after GRDB's WAL set-up (which sets NORMAL). The value is
        // one of the enum's fixed strings.
        try pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = \(configuration.synchronous.rawValue)")
        }
        self.configuration = configuration
        logID = try pool.write { db in
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
            // The log's identity, drawn once when the log is created (or first opened by a release
            // that has it): a projection's checkpoint names the log it belongs to.
            try db.execute(sql: "CREATE TABLE IF NOT EXISTS log_identity (id TEXT NOT NULL)")
            if try String.fetchOne(db, sql: "SELECT id FROM log_identity") == nil {
                try db.execute(sql: "INSERT INTO log_identity (id) VALUES (?)", arguments: [UUID().uuidString.lowercased()])
            }
            return try String.fetchOne(db, sql: "SELECT id FROM log_identity") ?? ""
        }
    }

    /// The log's identity: a random id stored when the log was created. A copy of the file keeps
    /// it; another file, even with the same events, has another.
    public let logID: String

    public func identity() async throws -> String { logID }

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
        try AppendValidation.check(events, to: aggregate, expectedVersion: expected, maxPayloadBytes: configuration.maxPayloadBytes)
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
        let pool = self.pool, maxBytes = configuration.subscriptionBatchBytes
        return EventSubscription(from: position, batchSize: batchSize ?? configuration.subscriptionBatchSize, signal: changes) { from, limit in
            try await pool.read { db in try Self.fetch(db, from: from, limit: limit, maxBytes: maxBytes) }
        }
    }

    /// Events from `position` on, at most `limit`, ending before the event whose text (payload,
    /// metadata, type, aggregate type and id) would take the batch past `maxBytes` (but at least
    /// one event).
    static func fetch(_ db: Database, from position: Int64, limit: Int, maxBytes: Int) throws -> [RecordedEvent] {
        let cursor = try Row.fetchCursor(db, sql: """
            SELECT position, aggregate_type, aggregate_id, version, event_type, payload, metadata, recorded_at
            FROM events WHERE position >= ? ORDER BY position LIMIT ?
            """, arguments: [position, limit])
        var events: [RecordedEvent] = []
        var bytes = 0
        while let row = try cursor.next() {
            let event = Self.event(row)
            bytes += event.payload.utf8.count + event.metadata.utf8.count + event.type.utf8.count
                + event.aggregate.type.utf8.count + event.aggregate.id.utf8.count
            if bytes > maxBytes, !events.isEmpty { break }
            events.append(event)
        }
        return events
    }
}

import EventLogCore
import Foundation
import PostgresNIO

extension PostgresEventStore {
    // MARK: Appending

    public func append(_ events: [NewEvent], to aggregate: AggregateID, expectedVersion: ExpectedVersion) async throws -> [RecordedEvent] {
        try AppendValidation.check(events, to: aggregate, expectedVersion: expectedVersion, maxPayloadBytes: configuration.maxPayloadBytes)
        let recorded = try await Self.mappingConnectionErrors {
            try await transaction { connection in try await self.insert(events, aggregate, expectedVersion, connection) }
        }
        changes.signal()
        return recorded
    }

    func insert(_ events: [NewEvent], _ aggregate: AggregateID, _ expected: ExpectedVersion, _ connection: PostgresConnection) async throws
        -> [RecordedEvent]
    {
        // Held until commit: appends from every node number their events one after another.
        try await Self.execute(connection, "SELECT pg_advisory_xact_lock(\(configuration.appendLockKey))", logger: logger)
        // A statement of its own, after the lock: its snapshot sees every append committed before.
        var current: Int64 = 0
        var last: Int64 = 0
        for try await (version, position) in try await connection.query("""
            SELECT (SELECT COALESCE(MAX(version), 0) FROM analytics_events WHERE aggregate_type = \(aggregate.type) AND aggregate_id = \(aggregate.id)),
                   (SELECT COALESCE(MAX(position), 0) FROM analytics_events)
            """, logger: logger).decode((Int64, Int64).self) {
            current = version
            last = position
        }
        switch expected {
        case .any: break
        case .noStream where current == 0: break
        case .exact(let n) where n == current: break
        default:
            throw EventStoreError(.versionConflict(expected: expected, actual: current),
                                  "\(aggregate): expected version \(Self.describe(expected)), actual \(current)")
        }
        let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
        let recorded = events.enumerated().map { i, event in
            RecordedEvent(position: last + Int64(i) + 1, aggregate: aggregate, version: current + Int64(i) + 1, type: event.type,
                          payload: event.payload, metadata: event.metadata, recordedAt: now)
        }
        try await Self.execute(connection, """
            INSERT INTO analytics_events (position, aggregate_type, aggregate_id, version, event_type, payload, metadata, recorded_at)
            SELECT position, \(aggregate.type), \(aggregate.id), version, event_type, payload, metadata, \(now)
            FROM unnest(\(recorded.map(\.position))::BIGINT[], \(recorded.map(\.version))::BIGINT[], \(recorded.map(\.type))::TEXT[],
                        \(recorded.map(\.payload))::TEXT[], \(recorded.map(\.metadata))::TEXT[])
                 AS e(position, version, event_type, payload, metadata)
            """, logger: logger)
        // Delivered at commit, in commit order, to every node's listener.
        try await Self.execute(connection, "SELECT pg_notify(\(configuration.channel), \(Self.notification(recorded)))", logger: logger)
        return recorded
    }

    /// A notification's payload: the last position, the aggregate type and id (cut so the payload
    /// stays under PostgreSQL's 8 000 bytes; listeners only need the position).
    static func notification(_ recorded: [RecordedEvent]) -> String {
        guard let last = recorded.last else { return "0" }
        let text = "\(last.position) \(last.aggregate.type) \(last.aggregate.id)"
        return text.utf8.count <= 7_900 ? text : String(last.position)
    }

    static func describe(_ expected: ExpectedVersion) -> String {
        switch expected {
        case .any: "any"
        case .noStream: "none (no stream)"
        case .exact(let n): "\(n)"
        }
    }

    /// Turns connection failures (and the pool giving up on connecting) into
    /// ``EventStoreError/Kind/unavailable``, and a lock wait past `lock_timeout` into
    /// ``EventStoreError/Kind/busy``; other errors pass.
    static func mappingConnectionErrors<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as PSQLError {
            if error.serverInfo?[.sqlState] == "55P03" {
                throw EventStoreError(.busy, "another append held the event log's lock past the lock timeout; nothing was written")
            }
            switch error.code {
            case .connectionError, .serverClosedConnection, .clientClosedConnection, .failedToAddSSLHandler, .uncleanShutdown, .poolClosed:
                throw EventStoreError(.unavailable, "the event log's server cannot be reached: \(String(reflecting: error))")
            default:
                throw error
            }
        } catch let error where String(describing: type(of: error)) == "ConnectionPoolError" {
            // postgres-nio's pool (its module is not public): it could not open a connection.
            throw EventStoreError(.unavailable, "the event log's server cannot be reached: \(error)")
        }
    }

    // MARK: Reading

    public func read(from position: Int64, limit: Int) async throws -> [RecordedEvent] {
        try await Self.mappingConnectionErrors { try await fetch(from: position, limit: limit, maxBytes: Int.max) }
    }

    /// Events from `position` on, at most `limit`, ending before the event whose text would take
    /// the batch past `maxBytes` (but at least one event).
    func fetch(from position: Int64, limit: Int, maxBytes: Int) async throws -> [RecordedEvent] {
        guard limit > 0 else { return [] }
        let rows = try await client.query("""
            SELECT position, aggregate_type, aggregate_id, version, event_type, payload, metadata, recorded_at
            FROM analytics_events WHERE position >= \(position) ORDER BY position LIMIT \(Int64(limit))
            """, logger: logger)
        var events: [RecordedEvent] = []
        var bytes = 0
        for try await row in rows.decode((Int64, String, String, Int64, String, String, String, Int64).self) {
            let event = RecordedEvent(position: row.0, aggregate: AggregateID(type: row.1, id: row.2), version: row.3, type: row.4,
                                      payload: row.5, metadata: row.6, recordedAt: row.7)
            bytes += event.payload.utf8.count + event.metadata.utf8.count + event.type.utf8.count
                + event.aggregate.type.utf8.count + event.aggregate.id.utf8.count
            // The rest of the rows are drained by the sequence's end; a cut batch is simply shorter.
            if bytes > maxBytes, !events.isEmpty { continue }
            events.append(event)
        }
        return events
    }

    public func read(aggregate: AggregateID) async throws -> [RecordedEvent] {
        try await Self.mappingConnectionErrors { try await readAggregate(aggregate) }
    }

    func readAggregate(_ aggregate: AggregateID) async throws -> [RecordedEvent] {
        let rows = try await client.query("""
            SELECT position, aggregate_type, aggregate_id, version, event_type, payload, metadata, recorded_at
            FROM analytics_events WHERE aggregate_type = \(aggregate.type) AND aggregate_id = \(aggregate.id) ORDER BY version
            """, logger: logger)
        var events: [RecordedEvent] = []
        for try await row in rows.decode((Int64, String, String, Int64, String, String, String, Int64).self) {
            events.append(RecordedEvent(position: row.0, aggregate: AggregateID(type: row.1, id: row.2), version: row.3, type: row.4,
                                        payload: row.5, metadata: row.6, recordedAt: row.7))
        }
        return events
    }

    public func lastPosition() async throws -> Int64 {
        try await Self.mappingConnectionErrors { try await readLastPosition() }
    }

    func readLastPosition() async throws -> Int64 {
        var last: Int64 = 0
        for try await value in try await client.query("SELECT COALESCE(MAX(position), 0) FROM analytics_events", logger: logger).decode(Int64.self) {
            last = value
        }
        return last
    }

    public func subscribe(from position: Int64, batchSize: Int?) -> EventSubscription {
        let maxBytes = configuration.subscriptionBatchBytes
        return EventSubscription(from: position, batchSize: batchSize ?? configuration.subscriptionBatchSize, signal: changes) { from, limit in
            try await self.fetch(from: from, limit: limit, maxBytes: maxBytes)
        }
    }
}

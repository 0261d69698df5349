import DuckDBClient
import EventLogCore
import Logging
import ResultFormat

extension Projector {
    /// A checkpoint row: the position, and (since the log identity exists) the log and event.
    struct StoredCheckpoint {
        var position: Int64 = 0
        var logID: String?
        var lastEvent: String?
    }

    /// What identifies the event at a position: a log that lost acknowledged appends and reused
    /// the position has another event there (another aggregate, version, type or commit time).
    static func fingerprint(_ event: RecordedEvent) -> String {
        "\(event.aggregate.type)/\(event.aggregate.id)@\(event.version) \(event.type) \(event.recordedAt)"
    }

    /// The checkpoint stored for projector `name` (position 0 when there is none).
    static func storedCheckpoint(_ name: String, _ connection: Connection) throws -> StoredCheckpoint {
        let result = try connection.query(
            "SELECT position, log_id, last_event FROM projector_checkpoints WHERE projector = ?", [.string(name)])
        guard result.rowCount > 0 else { return StoredCheckpoint() }
        let row = result.row(0)
        guard case .int(let position) = row[0] else {
            throw EventStoreError(.inconsistentLog, "checkpoint of projector \(name) is not an integer: \(row[0])")
        }
        func text(_ value: Value) -> String? { if case .string(let s) = value { s } else { nil } }
        return StoredCheckpoint(position: position, logID: text(row[1]), lastEvent: text(row[2]))
    }

    /// The stored checkpoint, after checking it belongs to this log: same identity, the log
    /// reaches it, and the event there is the one applied.
    func verifiedCheckpoint(identity: String) async throws -> Int64 {
        let name = self.name
        let stored = try await writer.write { try Self.storedCheckpoint(name, $0) }
        if let logID = stored.logID, logID != identity {
            throw EventStoreError(.inconsistentLog,
                "projector \(name) applied events of log \(logID), not of this log (\(identity)): project it into another DuckDB file or under another projector name")
        }
        guard stored.position > 0 else { return 0 }
        let end = try await log.lastPosition()
        guard stored.position <= end else {
            throw EventStoreError(.inconsistentLog,
                "projector \(name) has applied up to \(stored.position), the log ends at \(end): the log lost acknowledged appends (synchronous=NORMAL and an OS crash?) or was replaced by an older copy")
        }
        if let expected = stored.lastEvent {
            let found = try await log.read(from: stored.position, limit: 1).first
            guard let found, found.position == stored.position, Self.fingerprint(found) == expected else {
                throw EventStoreError(.inconsistentLog,
                    "projector \(name): the log's event at position \(stored.position) is \(found.map(Self.fingerprint) ?? "missing"), not the applied \(expected): the log lost acknowledged appends and reused their positions (synchronous=NORMAL and an OS crash?)")
            }
        }
        return stored.position
    }

    /// Commits `events`, retrying with backoff; if the batch keeps failing, commits its events one
    /// by one, and applies the failure policy to the one that keeps failing.
    /// - Returns: the new checkpoint
    func commitRetrying(_ events: [RecordedEvent], identity: String) async throws -> Int64 {
        var attempt = 0
        while true {
            do {
                let position = try await commit(events, identity: identity)
                publish(events)
                return position
            } catch let error as EventStoreError where error.kind == .inconsistentLog {
                throw error  // not the events' fault, and no retry changes it
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                attempt += 1
                if attempt <= failurePolicy.retries {
                    retried.increment()
                    logger.warning("projecting events failed; retrying", metadata: [
                        "projector": "\(name)", "positions": "\(events[0].position)...\(events[events.count - 1].position)",
                        "attempt": "\(attempt)", "error": "\(error)",
                    ])
                    try await Task.sleep(for: failurePolicy.backoff(attempt))
                    continue
                }
                if events.count > 1 {
                    // Narrow it down: every event before the failing one is applied.
                    var position = events[0].position - 1
                    for event in events { position = try await commitRetrying([event], identity: identity) }
                    return position
                }
                return try await badEvent(events[0], error: error, identity: identity)
            }
        }
    }

    /// An event that failed on every attempt: stop, or record and skip it.
    func badEvent(_ event: RecordedEvent, error: any Error, identity: String) async throws -> Int64 {
        let metadata: Logger.Metadata = [
            "projector": "\(name)", "position": "\(event.position)", "event_type": "\(event.type)",
            "aggregate": "\(event.aggregate)", "error": "\(error)",
        ]
        guard failurePolicy.onBadEvent == .skip else {
            logger.error("projecting an event failed on every attempt; stopping the projector", metadata: metadata)
            throw ProjectionFailure(position: event.position, eventType: event.type, aggregate: event.aggregate, underlying: error)
        }
        let name = self.name
        try await writer.write { connection in
            try connection.transaction {
                try Self.checkContinues(name, event.position, connection)
                _ = try connection.query("""
                    INSERT OR REPLACE INTO projection_failures (projector, position, event_type, aggregate_type, aggregate_id, error)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """, [.string(name), .int(event.position), .string(event.type), .string(event.aggregate.type),
                          .string(event.aggregate.id), .string(String(describing: error))])
                try Self.storeCheckpoint(name, event, identity: identity, connection)
            }
        }
        skipped.increment()
        logger.error("projecting an event failed on every attempt; recorded in projection_failures and skipped", metadata: metadata)
        feed.publish(ProjectedBatch(events: [event], eventTime: eventTime, skipped: [event.position]))
        applied.advance(to: event.position)
        return event.position
    }

    func publish(_ events: [RecordedEvent]) {
        feed.publish(ProjectedBatch(events: events, eventTime: eventTime))
        applied.advance(to: events[events.count - 1].position)
    }

    /// Another projector with this name (or a concurrent catchUp) must not apply these events a
    /// second time: a batch must start right after the stored checkpoint.
    static func checkContinues(_ name: String, _ first: Int64, _ connection: Connection) throws {
        let checkpoint = try storedCheckpoint(name, connection).position
        guard checkpoint == first - 1 else {
            throw EventStoreError(.inconsistentLog, "projector \(name): batch from \(first) after checkpoint \(checkpoint)")
        }
    }

    static func storeCheckpoint(_ name: String, _ last: RecordedEvent, identity: String, _ connection: Connection) throws {
        _ = try connection.query(
            "INSERT OR REPLACE INTO projector_checkpoints (projector, position, log_id, last_event) VALUES (?, ?, ?, ?)",
            [.string(name), .int(last.position), .string(identity), .string(fingerprint(last))])
    }

    /// Applies one batch in log order and stores its checkpoint, in one transaction.
    /// - Returns: the batch's last position
    func commit(_ events: [RecordedEvent], identity: String) async throws -> Int64 {
        let name = self.name, projections = self.projections
        guard let first = events.first?.position, let last = events.last else {
            preconditionFailure("a subscription batch holds at least one event")
        }
        try await writer.write { connection in
            try connection.transaction {
                try Self.checkContinues(name, first, connection)
                var statements: [Int: PreparedStatement] = [:]
                var appenders: [Int: Appender] = [:]
                var unflushed = Set<Int>()
                defer { for appender in appenders.values { try? appender.close() } }
                // Event by event in log order, each through every projection that handles it: two
                // projections of one table see the events in the order they happened, whatever
                // the batch boundaries.
                for event in events {
                    for (index, projection) in projections.enumerated() where projection.eventTypes.contains(event.type) {
                        switch projection.apply {
                        case .statement(let sql, let parameters):
                            // Rows appended for earlier events reach their table before a statement
                            // that may read or change it.
                            for other in unflushed { try appenders[other]?.flush() }
                            unflushed.removeAll()
                            let statement = try statements[index] ?? connection.prepare(sql)
                            statements[index] = statement
                            _ = try statement.execute(try parameters(event))
                        case .appender(let table, let row):
                            let appender = try appenders[index] ?? connection.appender(table: table)
                            appenders[index] = appender
                            try appender.appendRow(try row(event))
                            unflushed.insert(index)
                        }
                    }
                }
                for (index, appender) in appenders {
                    appenders.removeValue(forKey: index)
                    try appender.close()
                }
                try Self.storeCheckpoint(name, last, identity: identity, connection)
            }
        }
        return last.position
    }
}

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
        // Length-prefixed parts (no separator can be forged by an id), and a hash of the data.
        var text = ""
        for part in [event.aggregate.type, event.aggregate.id, event.type] { text += "\(part.utf8.count):\(part)," }
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in event.payload.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        for byte in event.metadata.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return text + "v\(event.version),t\(event.recordedAt),h\(String(hash, radix: 16))"
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
                let applied = try await commit(events, identity: identity)
                return max(events[events.count - 1].position, applied.last?.position ?? 0)
            } catch let error as EventStoreError where error.kind == .inconsistentLog {
                throw error  // not the events' fault, and no retry changes it
            } catch is CancellationError {
                throw CancellationError()
            } catch DuckDBPoolError.shutDown {
                throw DuckDBPoolError.shutDown  // the writer is gone: not the events' fault
            } catch let error as DuckDBPoolError {
                // Busy or slow writer: wait and try again, without blaming an event.
                attempt += 1
                retried.increment()
                logger.warning("the DuckDB writer could not take the batch; retrying", metadata: [
                    "projector": "\(name)", "attempt": "\(attempt)", "error": "\(error)",
                ])
                try await Task.sleep(for: failurePolicy.backoff(attempt))
                continue
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
        let recorded = try await writer.write { connection in
            let recorded = try connection.transaction {
                guard try !Self.unapplied([event], name, connection).isEmpty else { return false }
                _ = try connection.query("""
                    INSERT OR REPLACE INTO projection_failures (projector, position, event_type, aggregate_type, aggregate_id, error)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """, [.string(name), .int(event.position), .string(event.type), .string(event.aggregate.type),
                          .string(event.aggregate.id), .string(String(describing: error))])
                try Self.storeCheckpoint(name, event, identity: identity, connection)
                return true
            }
            self.publish([event], skipped: recorded ? [event.position] : [])
            return recorded
        }
        guard recorded else { return event.position }  // another applier got past it first
        skipped.increment()
        logger.error("projecting an event failed on every attempt; recorded in projection_failures and skipped", metadata: metadata)
        return event.position
    }

    /// Tells this projector's followers of `events`, committed now: only those it has not told of
    /// yet, so that every follower sees each position once and in log order. Called on the
    /// writer's queue right after the commit, so publications follow commit order even when
    /// ``run()`` and ``catchUp()`` apply at once; events another applier with this name committed
    /// first are in DuckDB too and are published all the same (a review found a cache never
    /// invalidating them otherwise).
    func publish(_ events: [RecordedEvent], skipped: [Int64] = []) {
        let fresh = events.filter { $0.position > feed.lastPublished }
        guard let last = fresh.last else { return }
        feed.publish(ProjectedBatch(events: fresh, eventTime: eventTime, skipped: skipped.filter { $0 > fresh[0].position - 1 }))
        applied.advance(to: last.position)
    }

    static func storeCheckpoint(_ name: String, _ last: RecordedEvent, identity: String, _ connection: Connection) throws {
        _ = try connection.query(
            "INSERT OR REPLACE INTO projector_checkpoints (projector, position, log_id, last_event) VALUES (?, ?, ?, ?)",
            [.string(name), .int(last.position), .string(identity), .string(fingerprint(last))])
    }

    /// Applies one batch in log order and stores its checkpoint, in one transaction. Events another
    /// applier with this name (a concurrent ``catchUp()``) already applied are left out.
    /// - Returns: the events applied (possibly none)
    func commit(_ batch: [RecordedEvent], identity: String) async throws -> [RecordedEvent] {
        let name = self.name
        return try await writer.write { connection in
            // Read on the writer's queue: a rebuild swaps the projections there, between batches.
            let projections = self.projections
            let applied: [RecordedEvent] = try connection.transaction {
                let claimed = try Self.claim(batch, name, identity: identity, connection)
                let events = claimed ? batch : try Self.unapplied(batch, name, connection)
                guard let last = events.last else { return [RecordedEvent]() }
                try Self.apply(events, projections, connection)
                if !claimed { try Self.storeCheckpoint(name, last, identity: identity, connection) }
                return events
            }
            self.publish(batch)
            return applied
        }
    }

    /// Runs `events` through `projections` on `connection` (inside the caller's transaction).
    static func apply(_ events: [RecordedEvent], _ projections: [Projection], _ connection: Connection) throws {
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
    }

    /// Moves the checkpoint from just before `batch` to its end when that is where it stands: one
    /// statement instead of a read and a write (the common case; the batch then applies whole).
    /// - Returns: false when the checkpoint stands elsewhere (or does not exist yet)
    static func claim(_ batch: [RecordedEvent], _ name: String, identity: String, _ connection: Connection) throws -> Bool {
        guard let first = batch.first, let last = batch.last else { return false }
        let outcome = try connection.query(
            "UPDATE projector_checkpoints SET position = ?, log_id = ?, last_event = ? WHERE projector = ? AND position = ?",
            [.int(last.position), .string(identity), .string(fingerprint(last)), .string(name), .int(first.position - 1)])
        return outcome.rowCount == 1 && outcome.row(0)[0] == .int(1)
    }

    /// The events of `batch` beyond the stored checkpoint; they must continue it without a gap.
    static func unapplied(_ batch: [RecordedEvent], _ name: String, _ connection: Connection) throws -> [RecordedEvent] {
        let checkpoint = try storedCheckpoint(name, connection).position
        let events = batch.filter { $0.position > checkpoint }
        if let first = events.first?.position, first != checkpoint + 1 {
            throw EventStoreError(.inconsistentLog, "projector \(name): batch from \(first) after checkpoint \(checkpoint)")
        }
        return events
    }
}

import DuckDBClient
import EventStore
import Logging
import ServiceLifecycle

/// Applies committed events to DuckDB tables, in log order, through the database's single writer.
///
/// Each batch of events is applied in one DuckDB transaction that also stores the projector's
/// checkpoint (the last applied position) in the table `projector_checkpoints`. After a crash the
/// projector resumes after the stored checkpoint: every event is applied exactly once — no loss,
/// no duplicate — whatever moment the process died at.
public final class Projector: Service, Sendable {
    let name: String
    let log: any EventLog
    let writer: DuckDBWriter
    let projections: [Projection]
    let batchSize: Int
    let logger: Logger
    let onCommit: @Sendable (Int64) -> Void

    /// Creates a projector.
    /// - Parameters:
    ///   - name: the checkpoint's key (one checkpoint per projector name)
    ///   - log: where events come from
    ///   - writer: the DuckDB database's writer
    ///   - projections: what to apply
    ///   - batchSize: the most events applied per transaction
    ///   - logger: where failures are reported
    ///   - onCommit: called after each committed batch with the new checkpoint (for progress)
    public init(
        name: String, log: any EventLog, writer: DuckDBWriter, projections: [Projection], batchSize: Int = 1000,
        logger: Logger = Logger(label: "swift-analytics-cache.projector"), onCommit: @escaping @Sendable (Int64) -> Void = { _ in }
    ) {
        self.name = name
        self.log = log
        self.writer = writer
        self.projections = projections
        self.batchSize = max(1, batchSize)
        self.logger = logger
        self.onCommit = onCommit
    }

    /// Creates the checkpoint table and the projections' tables if they do not exist.
    public func setUp() async throws {
        let setup = projections.map(\.setupSQL)
        try await writer.write { connection in
            _ = try connection.execute(
                "CREATE TABLE IF NOT EXISTS projector_checkpoints (projector VARCHAR PRIMARY KEY, position BIGINT NOT NULL)")
            for sql in setup where !sql.isEmpty { _ = try connection.execute(sql) }
        }
    }

    /// The last position applied (0 before the first batch).
    public func checkpoint() async throws -> Int64 {
        let name = self.name
        return try await writer.write { try Self.storedCheckpoint(name, $0) }
    }

    /// The checkpoint stored for projector `name` (0 when there is none).
    static func storedCheckpoint(_ name: String, _ connection: Connection) throws -> Int64 {
        let result = try connection.query("SELECT position FROM projector_checkpoints WHERE projector = ?", [.string(name)])
        guard result.rowCount > 0 else { return 0 }
        guard case .int(let position) = result.row(0)[0] else {
            throw EventStoreError(.inconsistentLog, "checkpoint of projector \(name) is not an integer: \(result.row(0)[0])")
        }
        return position
    }

    /// Applies events until the task is cancelled or the service group shuts down.
    public func run() async throws {
        try await setUp()
        do {
            try await cancelWhenGracefulShutdown {
                try await self.apply(until: nil)
            }
        } catch is CancellationError where Task.isCancelled {
            // Shut down mid-read or mid-commit: the open batch rolled back, the checkpoint stands.
        }
    }

    /// Applies every event committed up to now, then returns the checkpoint.
    public func catchUp() async throws -> Int64 {
        try await setUp()
        let target = try await log.lastPosition()
        try await apply(until: target)
        return try await checkpoint()
    }

    /// Applies batches from the checkpoint on, until `target` (or forever when `nil`).
    func apply(until target: Int64?) async throws {
        var position = try await checkpoint()
        let end = try await log.lastPosition()
        guard position <= end else {
            throw EventStoreError(.inconsistentLog, "projector \(name) has applied up to \(position), the log ends at \(end)")
        }
        if let target, position >= target { return }
        var iterator = log.subscribe(from: position + 1, batchSize: batchSize).makeAsyncIterator()
        while let batch = try await iterator.nextBatch(maxCount: batchSize) {
            position = try await commit(batch)
            onCommit(position)
            if let target, position >= target { return }
        }
    }

    /// Applies one batch and stores its last position, in one transaction.
    func commit(_ events: [RecordedEvent]) async throws -> Int64 {
        let name = self.name, projections = self.projections
        guard let first = events.first?.position, let last = events.last?.position else {
            preconditionFailure("a subscription batch holds at least one event")
        }
        try await writer.write { connection in
            try connection.transaction {
                // Another projector with this name (or a concurrent catchUp) must not apply these
                // events a second time: the batch must start right after the stored checkpoint.
                let checkpoint = try Self.storedCheckpoint(name, connection)
                guard checkpoint == first - 1 else {
                    throw EventStoreError(.inconsistentLog, "projector \(name): batch from \(first) after checkpoint \(checkpoint)")
                }
                for projection in projections {
                    let relevant = events.filter { projection.eventTypes.contains($0.type) }
                    if relevant.isEmpty { continue }
                    switch projection.apply {
                    case .statement(let sql, let parameters):
                        let statement = try connection.prepare(sql)
                        for event in relevant { _ = try statement.execute(try parameters(event)) }
                    case .appender(let table, let row):
                        let appender = try connection.appender(table: table)
                        for event in relevant { try appender.appendRow(try row(event)) }
                        try appender.close()
                    }
                }
                _ = try connection.query(
                    "INSERT OR REPLACE INTO projector_checkpoints VALUES (?, ?)", [.string(name), .int(last)])
            }
        }
        return last
    }
}

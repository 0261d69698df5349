import DuckDBClient
import EventLogCore
import Logging
import Metrics
import Synchronization
import ServiceLifecycle

/// Applies committed events to DuckDB tables, in log order, through the database's single writer.
///
/// Each batch of events is applied in one DuckDB transaction that also stores the projector's
/// checkpoint (the last applied position, the log's identity and that event's fingerprint) in the
/// table `projector_checkpoints`. After a crash the projector resumes after the stored checkpoint:
/// every event is applied exactly once — no loss, no duplicate — whatever moment the process died
/// at. It refuses to go on over a log that is not the one it applied (another identity), or whose
/// event at the checkpoint is not the one it applied (a log that lost acknowledged appends).
///
/// After each commit it publishes a ``ProjectedBatch`` to every ``commits(bufferLimit:)``
/// subscriber and wakes ``waitUntilApplied(_:timeout:)`` callers.
public final class Projector: Service, Sendable {
    /// The checkpoint's key.
    public let name: String
    let log: any EventLog
    let writer: DuckDBWriter
    /// The projections applied, swapped by ``rebuild(to:tables:progress:)`` on the writer's queue,
    /// between two batches.
    let projectionList: Mutex<[Projection]>
    /// The projections applied now.
    public var projections: [Projection] { projectionList.withLock { $0 } }
    let batchSize: Int
    let logger: Logger
    let onCommit: @Sendable (Int64) -> Void
    let failurePolicy: ProjectionFailurePolicy
    /// An event's time, as ``ProjectedBatch/eventTimes`` reports it.
    public let eventTime: @Sendable (RecordedEvent) -> Int64
    let feed = CommitFeed()
    let firstStart = Mutex<Int64?>(nil)
    let applied = PositionTracker()
    let retried: Counter
    /// Where this projector's metrics go (its rebuild gauges too).
    let metricsFactory: any MetricsFactory
    let skipped: Counter

    /// Creates a projector.
    /// - Parameters:
    ///   - name: the checkpoint's key (one checkpoint per projector name)
    ///   - log: where events come from
    ///   - writer: the DuckDB database's writer
    ///   - projections: what to apply
    ///   - batchSize: the most events applied per transaction
    ///   - failurePolicy: retries, and what to do with an event that always fails (default: stop)
    ///   - eventTime: an event's time for ``ProjectedBatch/eventTimes`` (default: when recorded)
    ///   - logger: where failures are reported
    ///   - metricsFactory: where `projector_retries_total` and `projector_skipped_events_total`
    ///     (dimension `projector`) go (default: the bootstrapped `MetricsSystem`)
    ///   - onCommit: called after each committed batch with the new checkpoint (for progress)
    public init(
        name: String, log: any EventLog, writer: DuckDBWriter, projections: [Projection], batchSize: Int = 1000,
        failurePolicy: ProjectionFailurePolicy = ProjectionFailurePolicy(),
        eventTime: @escaping @Sendable (RecordedEvent) -> Int64 = { $0.recordedAt },
        logger: Logger = Logger(label: "swift-analytics-cache.projector"), metricsFactory: (any MetricsFactory)? = nil,
        onCommit: @escaping @Sendable (Int64) -> Void = { _ in }
    ) {
        self.name = name
        self.log = log
        self.writer = writer
        self.projectionList = Mutex(projections)
        self.batchSize = max(1, batchSize)
        self.failurePolicy = failurePolicy
        self.eventTime = eventTime
        self.logger = logger
        self.onCommit = onCommit
        let factory = metricsFactory ?? MetricsSystem.factory
        self.metricsFactory = factory
        retried = Counter(label: "projector_retries_total", dimensions: [("projector", name)], factory: factory)
        skipped = Counter(label: "projector_skipped_events_total", dimensions: [("projector", name)], factory: factory)
    }

    /// Creates the checkpoint and failure tables and the projections' tables if they do not exist.
    public func setUp() async throws {
        let setup = projections.map(\.setupSQL)
        try await writer.write { connection in
            _ = try connection.execute(
                "CREATE TABLE IF NOT EXISTS projector_checkpoints (projector VARCHAR PRIMARY KEY, position BIGINT NOT NULL)")
            // Added by a later release: the log the checkpoint belongs to and its event there.
            _ = try connection.execute("ALTER TABLE projector_checkpoints ADD COLUMN IF NOT EXISTS log_id VARCHAR")
            _ = try connection.execute("ALTER TABLE projector_checkpoints ADD COLUMN IF NOT EXISTS last_event VARCHAR")
            _ = try connection.execute("""
                CREATE TABLE IF NOT EXISTS projection_failures (
                    projector VARCHAR NOT NULL, position BIGINT NOT NULL, event_type VARCHAR NOT NULL,
                    aggregate_type VARCHAR NOT NULL, aggregate_id VARCHAR NOT NULL, error VARCHAR NOT NULL,
                    failed_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp, PRIMARY KEY (projector, position))
                """)
            for sql in setup where !sql.isEmpty { _ = try connection.execute(sql) }
        }
    }

    /// The last position applied (0 before the first batch).
    public func checkpoint() async throws -> Int64 {
        let name = self.name
        return try await writer.write { try Self.storedCheckpoint(name, $0).position }
    }

    /// Applies events until the task is cancelled or the service group shuts down.
    public func run() async throws {
        do {
            try await setUp()
            try await cancelWhenGracefulShutdown {
                try await self.apply(until: nil)
            }
            stopped(ProjectorStopped(name: name, reason: "it shut down"))
        } catch is CancellationError where Task.isCancelled {
            // Shut down mid-read or mid-commit: the open batch rolled back, the checkpoint stands.
            stopped(ProjectorStopped(name: name, reason: "it shut down"))
        } catch {
            stopped(error)
            throw error
        }
    }

    /// Applies every event committed up to now, then returns the checkpoint.
    public func catchUp() async throws -> Int64 {
        try await setUp()
        let target = try await log.lastPosition()
        try await apply(until: target)
        return try await checkpoint()
    }

    /// Batches committed from now on, as they commit, for any number of consumers (each call is
    /// a new subscription with its own buffer). The sequence ends when ``run()`` stops — with its
    /// error if it failed; a subscription taken after that ends at once — and throws
    /// ``ProjectedBatchesMissed`` if this consumer falls `bufferLimit` batches behind.
    /// - Parameter bufferLimit: the most batches held for this consumer
    /// - Returns: the subscription
    public func commits(bufferLimit: Int = 1024) -> AsyncThrowingStream<ProjectedBatch, any Error> {
        feed.subscribe(bufferLimit: bufferLimit)
    }

    /// Returns once every event up to `position` is applied (read-your-writes: pass the position an
    /// append returned, then query DuckDB).
    ///
    /// Before ``run()`` first starts, a wait simply waits (the projector may be starting), bounded by
    /// `timeout`. Once ``run()`` has stopped, a wait for a position beyond the checkpoint fails at
    /// once with its error (or ``ProjectorStopped``) — until the projector advances again (another
    /// ``run()`` or ``catchUp()``).
    /// - Parameters:
    ///   - position: a log position
    ///   - timeout: the longest wait
    /// - Throws: ``ProjectorTimeout`` after `timeout`; `CancellationError` when cancelled; the
    ///   projector's error (or ``ProjectorStopped``) when ``run()`` stopped
    public func waitUntilApplied(_ position: Int64, timeout: Duration) async throws {
        if let current = applied.current, current >= position { return }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.applied.wait(for: position) }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw ProjectorTimeout(name: self.name, position: position, applied: self.applied.current, timeout: timeout)
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    /// The tables each projection writes, with its event types: declared (``Projection/tables``),
    /// an appender's table, or the tables DuckDB lists for its statement (asked on the writer,
    /// which may prepare any statement); nil when none of these is known.
    public func writtenTables() async throws -> [(tables: Set<String>?, eventTypes: Set<String>)] {
        try await writer.write { connection in
            self.projections.map { projection in
                if let declared = projection.tables { return (declared, projection.eventTypes) }
                switch projection.apply {
                case .appender(let table, _):
                    let bare = table.split(separator: ".").last.map(String.init) ?? table
                    return ([bare.lowercased()], projection.eventTypes)
                case .statement(let sql, _):
                    return ((try? connection.tableNames(in: sql)).map(Set.init), projection.eventTypes)
                }
            }
        }
    }

    /// The checkpoint this projector's first run (or catch-up) in this process started from: every
    /// event through it was applied before it ran. Nil before it first started.
    public var firstCheckpoint: Int64? { firstStart.withLock { $0 } }

    /// The checkpoint as this process knows it: nil before the projector first read it.
    public var appliedPosition: Int64? { applied.current }

    func stopped(_ error: any Error) {
        applied.stop(error)
        feed.finish(throwing: error is ProjectorStopped ? nil : error)
    }

    /// Applies batches from the checkpoint on, until `target` (or forever when `nil`).
    func apply(until target: Int64?) async throws {
        let identity = try await log.identity()
        var position = try await verifiedCheckpoint(identity: identity)
        firstStart.withLock { if $0 == nil { $0 = position } }
        feed.start(at: position)
        applied.advance(to: position)
        if let target, position >= target { return }
        var iterator = log.subscribe(from: position + 1, batchSize: batchSize).makeAsyncIterator()
        while let batch = try await iterator.nextBatch(maxCount: batchSize) {
            position = try await commitRetrying(batch, identity: identity)
            onCommit(position)
            if let target, position >= target { return }
        }
    }
}

/// ``Projector/waitUntilApplied(_:timeout:)`` waited its whole timeout.
public struct ProjectorTimeout: Error, Sendable, CustomStringConvertible {
    public var name: String
    public var position: Int64
    public var applied: Int64?
    public var timeout: Duration
    public var description: String {
        "projector \(name) did not apply position \(position) within \(timeout) (applied: \(applied.map(String.init) ?? "unknown"))"
    }
}

/// The projector is not running (it shut down), so a position will not be applied by it.
public struct ProjectorStopped: Error, Sendable, CustomStringConvertible {
    public var name: String
    public var reason: String
    public var description: String { "projector \(name) stopped: \(reason)" }
}

/// One request to a ``PoolCore``: the work, its deadline, and where it stands.
///
/// The mutable fields are guarded by the owning core's lock; ``run(on:)`` is called by exactly one
/// worker thread, and the continuation is resumed exactly once (the state machine in ``PoolCore``
/// decides by whom).
class PoolJob: @unchecked Sendable {
    // @unchecked Sendable: `state`, `cancelRequested`, `timedOut`, `interruptedAt` and `answered`
    // are only read and written with
    // the core's lock held; the stored outcome is written by the one worker that runs the job before
    // it hands the job back under the lock.
    enum State {
        /// Made, not yet submitted.
        case created
        /// Waiting in the queue.
        case queued
        /// Handed to a worker that has not started it yet.
        case assigned
        /// Running on a worker's connection.
        case running(PoolWorker)
        /// Done; its continuation has been or is being resumed.
        case finished
    }

    var state = State.created
    var cancelRequested = false
    var timedOut = false
    /// The pool shut down while the job ran.
    var shutDownRequested = false
    /// When the core first interrupted the running job (cancellation or deadline).
    var interruptedAt: ContinuousClock.Instant?
    /// Whether the waiter has been (or is being) resumed: by the worker when the run ends, or by
    /// the watchdog for a running job that did not stop within the grace after its interrupt.
    var answered = false
    let timeout: Duration?
    let submittedAt: ContinuousClock.Instant
    let deadline: ContinuousClock.Instant?

    init(timeout: Duration?) {
        self.timeout = timeout
        let now = ContinuousClock.now
        submittedAt = now
        deadline = timeout.map { now.advanced(by: $0) }
    }

    /// Runs the work on the calling worker thread and keeps the outcome.
    func run(on connection: Connection) { fatalError("abstract") }

    /// Keeps `error` as the outcome of a job that could not run (no connection).
    func record(failure error: any Error) { fatalError("abstract") }

    /// Whether the kept outcome is an error (read by the worker that ran it).
    var failed: Bool { fatalError("abstract") }

    /// Resumes the waiter with the kept outcome, or with `abandon` when the run failed after a
    /// cancellation or timeout (read under the lock by the caller).
    func complete(abandon: (any Error)?) { fatalError("abstract") }

    /// Resumes the waiter with `error`; the job never ran.
    func fail(_ error: any Error) { fatalError("abstract") }

    /// The error a waiter gets for a job that was cancelled or timed out. Lock held.
    var abandonError: (any Error)? {
        if cancelRequested { return CancellationError() }
        if timedOut { return DuckDBPoolError.timedOut(timeout ?? .zero) }
        if shutDownRequested { return DuckDBPoolError.shutDown }
        return nil
    }
}

/// A ``PoolJob`` that runs a closure on a connection and returns its value.
final class ClosureJob<T: Sendable>: PoolJob, @unchecked Sendable {
    // @unchecked Sendable: see PoolJob; `continuation` is set before submission and used once.
    private let body: @Sendable (Connection) throws -> T
    private var outcome: Result<T, any Error>?
    var continuation: CheckedContinuation<T, any Error>?

    init(timeout: Duration?, body: @escaping @Sendable (Connection) throws -> T) {
        self.body = body
        super.init(timeout: timeout)
    }

    override func run(on connection: Connection) {
        outcome = Result { try body(connection) }
    }

    override func record(failure error: any Error) {
        outcome = .failure(error)
    }

    override var failed: Bool {
        if case .failure? = outcome { return true }
        return false
    }

    override func complete(abandon: (any Error)?) {
        guard let continuation else { return }
        self.continuation = nil
        switch outcome {
        case .success(let value)?:
            continuation.resume(returning: value)
        case .failure(let error)?:
            // An interrupted statement reports DuckDB's "INTERRUPT" error; tell the caller why.
            continuation.resume(throwing: abandon ?? error)
        case nil:
            continuation.resume(throwing: abandon ?? DuckDBPoolError.shutDown)
        }
    }

    override func fail(_ error: any Error) {
        guard let continuation else { return }
        self.continuation = nil
        continuation.resume(throwing: error)
    }
}

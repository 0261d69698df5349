import Synchronization

/// A log position that only moves forward, and the callers waiting for it to reach a position:
/// the projector's checkpoint (read-your-writes: wait until an append's position is applied, then
/// query), or a cache's invalidation progress.
public final class PositionTracker: Sendable {
    private struct Waiter {
        let position: Int64
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var applied: Int64?
        /// Set while the projector is not running after having run (why it stopped).
        var stopped: (any Error)?
        var waiters: [UInt64: Waiter] = [:]
        var nextID: UInt64 = 0
    }

    private let state = Mutex(State())

    /// Creates a tracker with no position yet.
    public init() {}

    /// The position, once set.
    public var current: Int64? { state.withLock { $0.applied } }

    /// Moves the position forward (never back) and resumes the waiters it satisfies; clears a stop.
    /// - Parameter position: the new position
    public func advance(to position: Int64) {
        let ready = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            let applied = max(state.applied ?? position, position)
            state.applied = applied
            state.stopped = nil
            let due = state.waiters.filter { $0.value.position <= applied }
            for id in due.keys { state.waiters.removeValue(forKey: id) }
            return due.map(\.value.continuation)
        }
        for continuation in ready { continuation.resume() }
    }

    /// Whoever moves the position stopped: every waiter gets `error`, and so does every later wait
    /// for a position beyond it, until it advances again.
    /// - Parameter error: why
    public func stop(_ error: any Error) {
        let waiting = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            state.stopped = error
            defer { state.waiters.removeAll() }
            return state.waiters.values.map(\.continuation)
        }
        for continuation in waiting { continuation.resume(throwing: error) }
    }

    /// Returns once the position is at least `position`.
    /// - Parameter position: the position to wait for
    /// - Throws: `CancellationError` when the task is cancelled; the stop's error if stopped
    public func wait(for position: Int64) async throws {
        let id = state.withLock { state -> UInt64 in
            state.nextID &+= 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                enum Now { case wait, done, fail(any Error) }
                let now = state.withLock { state -> Now in
                    if let applied = state.applied, applied >= position { return .done }
                    if Task.isCancelled { return .fail(CancellationError()) }
                    if let stopped = state.stopped { return .fail(stopped) }
                    state.waiters[id] = Waiter(position: position, continuation: continuation)
                    return .wait
                }
                switch now {
                case .wait: break
                case .done: continuation.resume()
                case .fail(let error): continuation.resume(throwing: error)
                }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }
}

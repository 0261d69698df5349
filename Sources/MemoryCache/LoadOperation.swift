import Synchronization

/// One in-flight load shared by every caller that asked for its key (single flight).
///
/// Waiters register continuations; the load's task calls ``finish(_:)`` once, which resumes them
/// all with the same result. A cancelled waiter is resumed at once with `CancellationError`; when the
/// last one leaves before the result, the load is abandoned: its task is cancelled and the cache
/// forgets it, so the next caller starts afresh.
///
/// "The last one" counts callers that hold the load but have not registered yet: the cache hands a
/// load out under its shard lock with ``tryHold()``, and ``wait()`` turns that hold into a
/// registration under the load's own lock, so no caller that never cancelled can find its load
/// abandoned between the two. An abandoned load refuses new holds; the caller then starts a fresh one.
@usableFromInline
final class LoadOperation<Value: Sendable>: Sendable {
    struct State {
        var waiters: [Int: CheckedContinuation<Value, any Error>] = [:]
        var nextWaiter = 0
        var cancelledEarly: Set<Int> = []
        var result: Result<Value, any Error>?
        var task: Task<Void, Never>?
        var abandoned = false
        /// Callers handed the load that have not registered in ``wait()`` yet.
        var pending = 0

        /// Whether no caller waits or is about to (lock held).
        var deserted: Bool { waiters.isEmpty && pending == 0 && !abandoned }
    }

    /// The tags of the entry being loaded (known before loading), for invalidation by tag.
    let tags: [String]
    private let state = Mutex(State())
    private let onAbandon: @Sendable (LoadOperation<Value>) -> Void

    init(tags: [String], onAbandon: @escaping @Sendable (LoadOperation<Value>) -> Void) {
        self.tags = tags
        self.onAbandon = onAbandon
    }

    /// Gives the load its task (cancelled at once if every waiter already left).
    func attach(_ task: Task<Void, Never>) {
        let cancel = state.withLock { s -> Bool in
            s.task = task
            return s.abandoned
        }
        if cancel { task.cancel() }
    }

    /// Takes a hold on the load for a caller that will ``wait()`` on it; fails when the load was
    /// already abandoned (the caller must start a fresh one). Called under the shard's lock.
    func tryHold() -> Bool {
        state.withLock { s in
            guard !s.abandoned else { return false }
            s.pending += 1
            return true
        }
    }

    /// Waits for the result, turning the caller's hold (``tryHold()``) into a registration;
    /// cancelling the waiting task leaves the other waiters waiting.
    func wait() async throws -> Value {
        let id = state.withLock { s -> Int in
            s.nextWaiter += 1
            return s.nextWaiter
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Value, any Error>) in
                let (immediate, abandon): (Result<Value, any Error>?, Bool) = state.withLock { s in
                    s.pending = max(0, s.pending - 1)  // the hold becomes a registration (or ends)
                    if let result = s.result { return (result, false) }
                    if s.cancelledEarly.remove(id) != nil {
                        let last = s.deserted
                        if last { s.abandoned = true }
                        return (.failure(CancellationError()), last)
                    }
                    s.waiters[id] = continuation
                    return (nil, false)
                }
                if let immediate { continuation.resume(with: immediate) }
                if abandon { abandonLoad() }
            }
        } onCancel: {
            cancelWaiter(id)
        }
    }

    private func cancelWaiter(_ id: Int) {
        let (continuation, abandon): (CheckedContinuation<Value, any Error>?, Bool) = state.withLock { s in
            guard s.result == nil else { return (nil, false) }
            guard let continuation = s.waiters.removeValue(forKey: id) else {
                s.cancelledEarly.insert(id)
                return (nil, false)
            }
            let last = s.deserted
            if last { s.abandoned = true }
            return (continuation, last)
        }
        continuation?.resume(throwing: CancellationError())
        if abandon { abandonLoad() }
    }

    private func abandonLoad() {
        let task = state.withLock { $0.task }
        task?.cancel()
        onAbandon(self)
    }

    /// Resumes every waiter with `result`; later waiters get it immediately.
    func finish(_ result: Result<Value, any Error>) {
        let waiters = state.withLock { s -> [CheckedContinuation<Value, any Error>] in
            guard s.result == nil else { return [] }
            s.result = result
            let all = Array(s.waiters.values)
            s.waiters.removeAll()
            return all
        }
        for waiter in waiters { waiter.resume(with: result) }
    }

    /// The number of callers waiting (for tests and diagnostics).
    var waiterCount: Int { state.withLock { $0.waiters.count } }
}

/// The loads running in the current task and the tasks that started it, to detect a loader that
/// asks for its own key.
enum LoadContext {
    struct Marker: Hashable, @unchecked Sendable {
        // @unchecked Sendable: `key` wraps a cache key, whose type is required to be Sendable
        // (`MemoryCache.Key: Sendable`); AnyHashable only hides that.
        let cache: ObjectIdentifier
        let key: AnyHashable
    }

    @TaskLocal static var active: Set<Marker> = []
}

/// Points where a test can pause a loading call to force an interleaving with other callers
/// (gates, not sleeps). Unset in production: each check is one uncontended lock on the miss path.
final class LoadHooks: Sendable {
    /// Runs after a caller was handed a load to join (under the shard lock) and before it waits.
    let afterJoinHandOut = Mutex<(@Sendable () async -> Void)?>(nil)
}

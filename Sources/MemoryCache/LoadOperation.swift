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
    typealias Continuation = CheckedContinuation<LoadResult<Value>, any Error>
    struct State {
        var waiters: [Int: Continuation] = [:]
        var nextWaiter = 0
        /// Waiters that left before registering, with the error they leave with.
        var leftEarly: [Int: any Error] = [:]
        var result: Result<LoadResult<Value>, any Error>?
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

    /// Ends a hold without waiting (the caller gave up before ``wait()``, e.g. a detected cycle);
    /// abandons the load if nobody else holds or waits for it.
    func releaseHold() {
        let abandon = state.withLock { s -> Bool in
            s.pending = max(0, s.pending - 1)
            guard s.result == nil, s.deserted else { return false }
            s.abandoned = true
            return true
        }
        if abandon { abandonLoad() }
    }

    /// Waits for the result, turning the caller's hold (``tryHold()``) into a registration;
    /// cancelling the waiting task leaves the other waiters waiting.
    /// - Parameter limit: how long this caller waits at most, and the error it then gets (the load
    ///   goes on for the others, and is abandoned if this was the last waiter)
    func wait(limit: (Duration, any Error)? = nil) async throws -> LoadResult<Value> {
        let id = state.withLock { s -> Int in
            s.nextWaiter += 1
            return s.nextWaiter
        }
        let timer = limit.map { limit in
            Task { [weak self] in
                guard (try? await Task.sleep(for: limit.0)) != nil else { return }
                self?.removeWaiter(id, with: limit.1)
            }
        }
        defer { timer?.cancel() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: Continuation) in
                let (immediate, abandon): (Result<LoadResult<Value>, any Error>?, Bool) = state.withLock { s in
                    s.pending = max(0, s.pending - 1)  // the hold becomes a registration (or ends)
                    if let result = s.result { return (result, false) }
                    if let error = s.leftEarly.removeValue(forKey: id) {
                        let last = s.deserted
                        if last { s.abandoned = true }
                        return (.failure(error), last)
                    }
                    s.waiters[id] = continuation
                    return (nil, false)
                }
                if let immediate { continuation.resume(with: immediate) }
                if abandon { abandonLoad() }
            }
        } onCancel: {
            removeWaiter(id, with: CancellationError())
        }
    }

    /// Makes one waiter leave with `error` (cancellation or its time limit).
    private func removeWaiter(_ id: Int, with error: any Error) {
        let (continuation, abandon): (Continuation?, Bool) = state.withLock { s in
            guard s.result == nil else { return (nil, false) }
            guard let continuation = s.waiters.removeValue(forKey: id) else {
                if s.leftEarly[id] == nil { s.leftEarly[id] = error }
                return (nil, false)
            }
            let last = s.deserted
            if last { s.abandoned = true }
            return (continuation, last)
        }
        continuation?.resume(throwing: error)
        if abandon { abandonLoad() }
    }

    private func abandonLoad() {
        let task = state.withLock { $0.task }
        task?.cancel()
        onAbandon(self)
    }

    /// Resumes every waiter with `result`; later waiters get it immediately.
    func finish(_ result: Result<LoadResult<Value>, any Error>) {
        let waiters = state.withLock { s -> [Continuation] in
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

/// What a finished load gives each of its callers.
struct LoadResult<Value: Sendable>: Sendable {
    var value: Value
    /// The stored entry, or nil when the cache did not keep the value.
    var receipt: StoreReceipt?
    /// The load was invalidated (or a newer value inserted) while it ran.
    var superseded: Bool
}

/// What a store did.
@usableFromInline
enum StoreOutcome: Sendable {
    /// Stored, with this receipt.
    case stored(StoreReceipt)
    /// The store's condition did not hold (the load was superseded, the entry changed, or
    /// something touched the key after the conditional insert's generation).
    case conditionFailed
    /// Refused: heavier than the bound, already expired, or a cache bounded at 0.
    case refused

    /// The receipt of a stored value.
    @inlinable var receipt: StoreReceipt? {
        if case .stored(let receipt) = self { return receipt }
        return nil
    }
}

/// What a store left in the cache: the entry's generation and write time.
@usableFromInline
struct StoreReceipt: Sendable {
    @usableFromInline var generation: UInt64
    @usableFromInline var writeTime: Int64
    @inlinable init(generation: UInt64, writeTime: Int64) {
        self.generation = generation
        self.writeTime = writeTime
    }
}

/// The loads running in the current task and the tasks that started it, to detect a loader that
/// asks for its own key, and the innermost load (its identity), whose waits feed the ``LoadWaitGraph``.
enum LoadContext {
    struct Marker: Hashable, @unchecked Sendable {
        // @unchecked Sendable: `key` wraps a cache key, whose type is required to be Sendable
        // (`MemoryCache.Key: Sendable`); AnyHashable only hides that.
        let cache: ObjectIdentifier
        let key: AnyHashable
    }

    @TaskLocal static var active: Set<Marker> = []
    @TaskLocal static var current: ObjectIdentifier?
}

/// Which loads in flight wait for which (process-wide, across caches), so a wait that would close
/// a cycle (X's loader waits for Y while Y's loader waits for X) fails at once instead of hanging.
/// Nodes are load operations (not keys), so a new load of a key after an invalidation is a new
/// node. Only waits made from inside a loader are recorded; plain callers never touch it.
enum LoadWaitGraph {
    typealias Node = ObjectIdentifier
    private static let edges = Mutex<[Node: [Node: Int]]>([:])

    /// Records that `waiter`'s load waits for `awaited`'s, unless `awaited` already (transitively)
    /// waits for `waiter`.
    /// - Returns: false when the wait would close a cycle (nothing recorded)
    static func add(_ waiter: Node, waitsFor awaited: Node) -> Bool {
        edges.withLock { e in
            var stack = [awaited]
            var seen: Set<Node> = []
            while let node = stack.popLast() {
                if node == waiter { return false }
                guard seen.insert(node).inserted, let next = e[node] else { continue }
                stack.append(contentsOf: next.keys)
            }
            e[waiter, default: [:]][awaited, default: 0] += 1
            return true
        }
    }

    /// Ends a recorded wait.
    static func remove(_ waiter: Node, waitsFor awaited: Node) {
        edges.withLock { e in
            guard let count = e[waiter]?[awaited] else { return }
            if count > 1 {
                e[waiter]?[awaited] = count - 1
            } else {
                e[waiter]?.removeValue(forKey: awaited)
                if e[waiter]?.isEmpty == true { e.removeValue(forKey: waiter) }
            }
        }
    }
}

/// Points where a test can pause a loading call to force an interleaving with other callers
/// (gates, not sleeps). Unset in production: each check is one uncontended lock on the miss path.
final class LoadHooks: Sendable {
    /// Runs after a caller was handed a load to join (under the shard lock) and before it waits.
    let afterJoinHandOut = Mutex<(@Sendable () async -> Void)?>(nil)
}

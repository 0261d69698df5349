import Synchronization
import TestSupport
import Testing

@testable import MemoryCache

/// A one-shot gate many tasks can wait on; waiting ends when it opens or the waiting task is cancelled.
final class AsyncGate: Sendable {
    private struct State {
        var open = false
        var waiters: [Int: CheckedContinuation<Void, any Error>] = [:]
        var next = 0
        var cancelled = 0
    }
    private let state = Mutex(State())

    func wait() async throws {
        let id = state.withLock { s -> Int in
            s.next += 1
            return s.next
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.open { return true }
                    s.waiters[id] = c
                    return false
                }
                if resumeNow { c.resume() }
            }
        } onCancel: {
            let c = state.withLock { s -> CheckedContinuation<Void, any Error>? in
                s.cancelled += 1
                return s.waiters.removeValue(forKey: id)
            }
            c?.resume(throwing: CancellationError())
        }
    }

    func open() {
        let all = state.withLock { s -> [CheckedContinuation<Void, any Error>] in
            s.open = true
            defer { s.waiters.removeAll() }
            return Array(s.waiters.values)
        }
        for c in all { c.resume() }
    }

    /// How many waits were cancelled.
    var cancellations: Int { state.withLock { $0.cancelled } }
    /// How many are waiting now.
    var waiting: Int { state.withLock { $0.waiters.count } }
}

/// A counter shared with loaders.
final class CallCounter: Sendable {
    private let value = Atomic(0)
    @discardableResult
    func increment() -> Int { value.add(1, ordering: .relaxed).newValue }
    var count: Int { value.load(ordering: .relaxed) }
}

/// Records removal notifications.
final class RemovalLog<Key: Sendable, Value: Sendable>: Sendable {
    private let events = Mutex<[(Key, Value, RemovalCause)]>([])
    func record(_ key: Key, _ value: Value, _ cause: RemovalCause) { events.withLock { $0.append((key, value, cause)) } }
    var causes: [RemovalCause] { events.withLock { $0.map(\.2) } }
    var entries: [(Key, Value, RemovalCause)] { events.withLock { $0 } }
}


/// The result of an async throwing call.
func attempt<T: Sendable>(_ body: () async throws -> T) async -> Result<T, any Error> {
    do { return .success(try await body()) } catch { return .failure(error) }
}

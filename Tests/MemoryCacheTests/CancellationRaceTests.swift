import TestSupport
@testable import MemoryCache
import Synchronization
import Testing

/// Issue 11, defect 2: a load is abandoned when its last waiter cancels, but a caller can hold the
/// load (handed out under the shard lock) before it registers as a waiter. Such a caller, never
/// cancelled, must never receive `CancellationError`.
/// A counter shared with child tasks (a `Mutex` itself cannot be captured by escaping closures).
private final class Count: Sendable {
    private let mutex = Mutex(0)
    func add() { mutex.withLock { $0 += 1 } }
    var value: Int { mutex.withLock { $0 } }
}

@Suite struct CancellationRaceTests {
    @Test func neverCancelledCallersNeverGetCancellationErrorWhileOthersCancel() async throws {
        let cache = MemoryCache<Int, Int>(maximumCount: 10_000)
        let spurious = Count()
        let calls = Count()
        for round in 0..<60 {
            await withTaskGroup(of: Void.self) { group in
                var cancellable: [Task<Int, any Error>] = []
                for i in 0..<50 {
                    if i % 2 == 0 {
                        // Joins, then leaves at once: each may be the "last registered waiter".
                        let task = Task {
                            try await cache.value(forKey: round, orLoadValue: {
                                for _ in 0..<20 { await Task.yield() }
                                return round
                            })
                        }
                        task.cancel()
                        cancellable.append(task)
                    } else {
                        group.addTask {
                            calls.add()
                            do {
                                let v = try await cache.value(forKey: round, orLoadValue: {
                                    for _ in 0..<20 { await Task.yield() }
                                    return round
                                })
                                #expect(v == round)
                            } catch is CancellationError {
                                spurious.add()
                            } catch {
                                Issue.record("unexpected \(error)")
                            }
                        }
                    }
                }
                for task in cancellable { _ = try? await task.value }
            }
        }
        #expect(calls.value == 60 * 25)
        #expect(spurious.value == 0, "never-cancelled callers got CancellationError")
    }

    /// The forced interleaving: B is handed A's load, A (the only registered waiter) cancels, then
    /// B waits. B was never cancelled and must get the value.
    @Test func aCallerHandedALoadIsNotAbandonedWhenTheLastRegisteredWaiterCancels() async throws {
        let cache = MemoryCache<String, Int>(maximumCount: 10)
        let loaderGate = AsyncGate()
        let handedOut = AsyncGate()
        let resumeB = AsyncGate()
        let loads = CallCounter()
        let loader: @Sendable () async throws -> Int = {
            loads.increment()
            try await loaderGate.wait()  // throws CancellationError if the load is abandoned
            return 42
        }
        let a = Task { try await cache.value(forKey: "k", orLoadValue: loader) }
        await eventually("A waits on the load") { cache.waitersForLoad(forKey: "k") == 1 }
        cache.loadHooks.afterJoinHandOut.withLock {
            $0 = {
                handedOut.open()
                try? await resumeB.wait()
            }
        }
        let b = Task { try await cache.value(forKey: "k", orLoadValue: loader) }
        try await handedOut.wait()  // B holds the load and has not registered
        cache.loadHooks.afterJoinHandOut.withLock { $0 = nil }
        a.cancel()
        await #expect(throws: CancellationError.self) { try await a.value }
        resumeB.open()
        await eventually("B waits on the load") { cache.waitersForLoad(forKey: "k") == 1 }
        loaderGate.open()
        #expect(try await b.value == 42)
        #expect(loads.count == 1)
    }

    @Test func anAlreadyCancelledCallerStartsNoLoad() async throws {
        let cache = MemoryCache<String, Int>(maximumCount: 10)
        let started = Count()
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await cache.value(forKey: "k", orLoadValue: {
                started.add()
                return 1
            })
        }
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(started.value == 0)
        // A cached value is still served to a cancelled caller.
        cache.insert(2, forKey: "k")
        let hit = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await cache.value(forKey: "k", orLoadValue: { 3 })
        }
        #expect(try await hit.value == 2)
    }
}

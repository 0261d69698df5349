import Synchronization
import TestSupport
import Testing

@testable import MemoryCache

@Suite struct LoadingTests {
    @Test func thousandConcurrentCallersShareOneLoad() async throws {
        let cache = MemoryCache<String, Int>(maximumCount: 100)
        let gate = AsyncGate()
        let loads = CallCounter()
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<1000 {
                group.addTask {
                    try await cache.value(forKey: "q") {
                        loads.increment()
                        try await gate.wait()
                        return Loaded(42)
                    }
                }
            }
            await eventually("1000 waiters") { cache.waitersForLoad(forKey: "q") == 1000 }
            gate.open()
            for try await value in group { #expect(value == 42) }
        }
        #expect(loads.count == 1)
        #expect(cache.value(forKey: "q") == 42)
        let stats = cache.statistics
        #expect(stats.loadSuccesses == 1 && stats.loadFailures == 0)
        #expect(stats.misses >= 1000 && stats.hits == 1)
    }

    @Test func errorReachesEveryWaiterAndIsNotCached() async throws {
        let cache = MemoryCache<String, Int>(maximumCount: 100)
        let gate = AsyncGate()
        let loads = CallCounter()
        await withTaskGroup(of: Result<Int, any Error>.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    do {
                        return .success(try await cache.value(forKey: "q", orLoad: { () async throws -> Loaded<Int> in
                            loads.increment()
                            try await gate.wait()
                            throw Boom()
                        }))
                    } catch {
                        return .failure(error)
                    }
                }
            }
            await eventually("20 waiters") { cache.waitersForLoad(forKey: "q") == 20 }
            gate.open()
            for await result in group {
                #expect(throws: Boom.self) { try result.get() }
            }
        }
        #expect(loads.count == 1)
        #expect(cache.value(forKey: "q") == nil)
        #expect(try await cache.value(forKey: "q", orLoadValue: { 7 }) == 7)
        #expect(loads.count == 1)
        #expect(cache.statistics.loadFailures == 1)
    }

    @Test func cancelledWaiterLeavesTheOthersAndTheLastCancelCancelsTheLoad() async throws {
        let cache = MemoryCache<String, Int>(maximumCount: 100)
        let gate = AsyncGate()
        let loads = CallCounter()
        let loader: @Sendable () async throws -> Loaded<Int> = {
            loads.increment()
            try await gate.wait()
            return Loaded(1)
        }
        let first = Task { try await cache.value(forKey: "q", orLoad: loader) }
        let second = Task { try await cache.value(forKey: "q", orLoad: loader) }
        await eventually("two waiters") { cache.waitersForLoad(forKey: "q") == 2 }
        first.cancel()
        await #expect(throws: CancellationError.self) { try await first.value }
        #expect(cache.waitersForLoad(forKey: "q") == 1)
        #expect(gate.cancellations == 0, "the load goes on for the remaining waiter")
        second.cancel()
        await #expect(throws: CancellationError.self) { try await second.value }
        await eventually("the load to be cancelled") { gate.cancellations == 1 }
        // A later caller starts a fresh load.
        let gate2 = AsyncGate()
        gate2.open()
        #expect(try await cache.value(forKey: "q", orLoadValue: { try await gate2.wait(); return 2 }) == 2)
        #expect(loads.count == 1)
    }

    @Test func loaderMayLoadOtherKeysButNotItsOwn() async throws {
        let cache = MemoryCache<String, Int>(maximumCount: 100)
        let total = try await cache.value(forKey: "sum") {
            let a = try await cache.value(forKey: "a", orLoadValue: { 1 })
            let b = try await cache.value(forKey: "b", orLoadValue: { 2 })
            return Loaded(a + b)
        }
        #expect(total == 3)
        let error = await #expect(throws: MemoryCacheError.self) {
            try await cache.value(forKey: "self") {
                Loaded(try await cache.value(forKey: "self", orLoadValue: { 0 }) + 1)
            }
        }
        #expect(error == .recursiveLoad(key: "self"))
        // Indirect: x loads y, y loads x.
        await #expect(throws: MemoryCacheError.loadCycle(key: "x")) {
            try await cache.value(forKey: "x") {
                Loaded(try await cache.value(forKey: "y") { Loaded(try await cache.value(forKey: "x", orLoadValue: { 0 })) })
            }
        }
        #expect(cache.value(forKey: "self") == nil && cache.value(forKey: "x") == nil)
    }

    enum Invalidation: CaseIterable, Sendable { case key, predicate, tag, all }

    @Test(arguments: Invalidation.allCases)
    func invalidationDuringALoadReturnsTheValueButDoesNotStoreIt(_ how: Invalidation) async throws {
        let cache = MemoryCache<String, Int>(maximumCount: 100)
        let gate = AsyncGate()
        let loads = CallCounter()
        let waiter = Task {
            try await cache.value(forKey: "orders", tags: ["Order"]) {
                loads.increment()
                try await gate.wait()
                return Loaded(1)
            }
        }
        await eventually("the load to start") { gate.waiting == 1 }
        switch how {
        case .key: cache.removeValue(forKey: "orders")
        case .predicate: cache.removeAll(where: { $0.hasPrefix("ord") })
        case .tag: cache.removeAll(taggedWith: "Order")
        case .all: cache.removeAll()
        }
        gate.open()
        #expect(try await waiter.value == 1, "waiters still get the value")
        #expect(cache.value(forKey: "orders") == nil, "but it is not stored")
        #expect(try await cache.value(forKey: "orders", orLoadValue: { loads.increment(); return 2 }) == 2)
        #expect(loads.count == 2, "a later caller started a new load")
    }

    @Test func loadedExpiryAndWeightApply() async throws {
        let clock = ManualCacheClock()
        let cache = MemoryCache<String, String>(configuration: .init(
            bound: .weight(100, weigher: { _, _ in 1 }), clock: clock))
        _ = try await cache.value(forKey: "hour") { Loaded("h", expiry: .after(.seconds(60)), weight: 40) }
        #expect(cache.weightedSize == 40)
        clock.advance(by: .seconds(61))
        #expect(cache.value(forKey: "hour") == nil)
        #expect(try await cache.value(forKey: "big") { Loaded("b", weight: 101) } == "b")
        #expect(cache.value(forKey: "big") == nil, "heavier than the budget: returned, not stored")
    }

    @Test func refreshAfterWriteServesTheOldValueAndReloadsInTheBackground() async throws {
        let clock = ManualCacheClock()
        let cache = MemoryCache<String, Int>(configuration: .init(
            bound: .entries(10), refreshAfterWrite: .seconds(10), clock: clock))
        let version = CallCounter()
        let gate = AsyncGate()
        let loader: @Sendable () async throws -> Loaded<Int> = {
            let v = version.increment()
            if v > 1 { try await gate.wait() }
            return Loaded(v)
        }
        #expect(try await cache.value(forKey: "k", orLoad: loader) == 1)
        clock.advance(by: .seconds(5))
        #expect(try await cache.value(forKey: "k", orLoad: loader) == 1)
        #expect(version.count == 1, "young entries are not refreshed")
        clock.advance(by: .seconds(6))
        // Stale: returned at once while the reload waits at the gate.
        #expect(try await cache.value(forKey: "k", orLoad: loader) == 1)
        #expect(try await cache.value(forKey: "k", orLoad: loader) == 1)
        await eventually("one reload to start") { gate.waiting == 1 }
        #expect(version.count == 2, "only one reload")
        gate.open()
        await eventually("the reload to land") { cache.value(forKey: "k") == 2 }
    }
}

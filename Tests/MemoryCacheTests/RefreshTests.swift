import MetricsTestKit
import Synchronization
import TestSupport
import Testing

@testable import MemoryCache

/// Issue 11, defect 9: refresh-after-write failures are surfaced and backed off, refreshes stop on
/// shutdown and do not count as reads; seeds; metrics of overlapping maintenance.
@Suite struct RefreshTests {
    private struct Boom: Error {}

    @Test func aFailedRefreshIsReportedCountedAndBackedOff() async throws {
        let clock = ManualCacheClock()
        let failures = Mutex<[String]>([])
        let metrics = TestMetrics()
        let cache = MemoryCache<String, Int>(configuration: .init(
            bound: .entries(10), refreshAfterWrite: .seconds(10), clock: clock, name: "r", metricsFactory: metrics,
            refreshRetryInterval: .seconds(2), refreshFailureListener: { key, _ in failures.withLock { $0.append(key) } }))
        cache.insert(1, forKey: "k")
        let attempts = CallCounter()
        let failing: @Sendable () async throws -> Loaded<Int> = {
            attempts.increment()
            throw Boom()
        }
        clock.advance(by: .seconds(10))
        #expect(try await cache.value(forKey: "k", orLoad: failing) == 1)
        await eventually("the refresh failed") { cache.statistics.refreshFailures == 1 && cache.refreshing == 0 }
        #expect(failures.withLock { $0 } == ["k"])
        // Within the backoff (2 s): no new attempt, the entry is served.
        #expect(try await cache.value(forKey: "k", orLoad: failing) == 1)
        clock.advance(by: .seconds(1))
        #expect(try await cache.value(forKey: "k", orLoad: failing) == 1)
        #expect(attempts.count == 1)
        // After it: one more attempt, then 4 s of backoff.
        clock.advance(by: .seconds(1))
        _ = try await cache.value(forKey: "k", orLoad: failing)
        await eventually("the second refresh failed") { cache.statistics.refreshFailures == 2 && cache.refreshing == 0 }
        clock.advance(by: .seconds(3))
        _ = try await cache.value(forKey: "k", orLoad: failing)
        #expect(attempts.count == 2)
        clock.advance(by: .seconds(1))
        _ = try await cache.value(forKey: "k") { Loaded(2) }
        await eventually("the refresh stored its value") { cache.value(forKey: "k") == 2 }
        #expect(cache.statistics.refreshSuccesses == 1)
        cache.cleanUp()
        #expect(try metrics.expectCounter("cache_refreshes_total", [("cache", "r"), ("result", "failure")]).totalValue == 2)
        #expect(try metrics.expectCounter("cache_refreshes_total", [("cache", "r"), ("result", "success")]).totalValue == 1)
    }

    /// Review: a refresh started by a loader's lookup is not part of that load.
    @Test func aRefreshStartedInsideALoaderIsNotPartOfThatLoad() async throws {
        let clock = ManualCacheClock()
        let errors = Mutex<[String]>([])
        let cache = MemoryCache<String, Int>(configuration: .init(
            bound: .entries(10), refreshAfterWrite: .seconds(10), clock: clock,
            refreshFailureListener: { _, e in errors.withLock { $0.append("\(e)") } }))
        cache.insert(1, forKey: "b")
        clock.advance(by: .seconds(11))
        let refreshMayAsk = AsyncGate()
        let a = try await cache.value(forKey: "a", orLoadValue: {
            try await cache.value(forKey: "b", orLoadValue: {  // a stale hit: b's refresh starts
                try await refreshMayAsk.wait()
                return try await cache.value(forKey: "a", orLoadValue: { 0 }) + 1
            }) + 10
        })
        #expect(a == 11 && cache.value(forKey: "a") == 11)
        refreshMayAsk.open()
        await eventually("b's refresh finished") { cache.statistics.refreshSuccesses + cache.statistics.refreshFailures == 1 }
        #expect(errors.withLock { $0 }.isEmpty)
        #expect(cache.value(forKey: "b") == 12)
    }

    /// Review: a refresh keeps the entry's tags, so tag invalidation still finds it.
    @Test func aRefreshKeepsTheEntrysTags() async throws {
        let clock = ManualCacheClock()
        let cache = MemoryCache<String, Int>(configuration: .init(bound: .entries(10), refreshAfterWrite: .seconds(10), clock: clock))
        _ = try await cache.lookup("k", tags: ["Order"]) { Loaded(1) }
        clock.advance(by: .seconds(11))
        _ = try await cache.lookup("k") { Loaded(2) }
        await eventually("refreshed") { cache.statistics.refreshSuccesses == 1 }
        #expect(cache.value(forKey: "k") == 2)
        #expect(cache.removeAll(taggedWith: "Order") == 1)
        #expect(cache.value(forKey: "k") == nil)
    }

    @Test func backoffDoublesUpToTheRefreshInterval() throws {
        typealias C = MemoryCache<Int, Int>
        #expect(C.delay(afterFailures: 1, base: 2, cap: 30) == 2)
        #expect(C.delay(afterFailures: 2, base: 2, cap: 30) == 4)
        #expect(C.delay(afterFailures: 4, base: 2, cap: 30) == 16)
        #expect(C.delay(afterFailures: 5, base: 2, cap: 30) == 30)
        #expect(C.delay(afterFailures: 10_000, base: Int64.max / 2, cap: Int64.max) == Int64.max)
    }

    @Test func cancellingRefreshesStopsTheRunningOneAndStartsNoMore() async throws {
        let clock = ManualCacheClock()
        let cache = MemoryCache<String, Int>(configuration: .init(
            bound: .entries(10), refreshAfterWrite: .seconds(1), clock: clock))
        cache.insert(1, forKey: "k")
        clock.advance(by: .seconds(2))
        let gate = AsyncGate()
        let slow: @Sendable () async throws -> Loaded<Int> = { try await gate.wait(); return Loaded(2) }
        #expect(try await cache.value(forKey: "k", orLoad: slow) == 1)
        await eventually("the refresh runs") { gate.waiting == 1 }
        cache.cancelRefreshes()
        await eventually("the refresh was cancelled") { gate.cancellations == 1 }
        #expect(cache.refreshing == 0)
        #expect(cache.statistics.refreshFailures == 0, "a cancelled refresh is not a failure")
        let calls = CallCounter()
        #expect(try await cache.value(forKey: "k", orLoad: { calls.increment(); return Loaded(3) }) == 1)
        #expect(calls.count == 0 && cache.refreshing == 0, "a refresh started after shutdown")
        #expect(cache.value(forKey: "k") == 1, "the entry is kept")
    }

    @Test func aRefreshCompletionIsNotCountedAsARead() async throws {
        let clock = ManualCacheClock()
        let cache = MemoryCache<UInt64, Int>(configuration: .init(
            bound: .entries(1_000), refreshAfterWrite: .seconds(1), clock: clock, keyHash: { $0 }, seed: 1))
        cache.insert(1, forKey: 7)
        clock.advance(by: .seconds(2))
        let before = cache.policyState.withLock { $0.policy.sketch.frequency(7) }
        _ = try await cache.value(forKey: 7) { Loaded(2) }  // one read (counted) starts the refresh
        await eventually("refreshed") { cache.statistics.refreshSuccesses == 1 && cache.refreshing == 0 }
        cache.cleanUp()
        let after = cache.policyState.withLock { $0.policy.sketch.frequency(7) }
        #expect(after == before + 1, "one read counted, the refresh's store not (before \(before), after \(after))")
        #expect(cache.value(forKey: 7) == 2)
    }

    @Test func admissionIsSeededPerInstanceUnlessASeedIsGiven() throws {
        let seeds = (0..<4).map { _ in MemoryCache<Int, Int>(maximumCount: 10).admissionSeed }
        #expect(Set(seeds).count == 4, "unseeded caches share their admission randomness")
        let seeded = MemoryCache<Int, Int>(configuration: .init(bound: .entries(10), seed: 9))
        #expect(seeded.admissionSeed == 9)
    }

    @Test func overlappingMaintenanceNeverCountsAChangeTwice() async throws {
        let metrics = TestMetrics()
        let cache = MemoryCache<Int, Int>(configuration: .init(bound: .entries(100), name: "o", metricsFactory: metrics))
        cache.insert(1, forKey: 1)
        await withTaskGroup(of: Void.self) { group in
            for t in 0..<8 {
                group.addTask {
                    for i in 0..<500 {
                        _ = cache.value(forKey: (t + i) % 3)
                        if i % 10 == 0 { cache.cleanUp() }
                    }
                }
            }
        }
        cache.cleanUp()
        let stats = cache.statistics
        let hits = try metrics.expectCounter("cache_requests_total", [("cache", "o"), ("result", "hit")]).totalValue
        let misses = try metrics.expectCounter("cache_requests_total", [("cache", "o"), ("result", "miss")]).totalValue
        #expect(hits == Int64(stats.hits) && misses == Int64(stats.misses))
    }
}

@Suite struct MaintenanceShutdownTests {
    @Test func stoppingTheMaintenanceServiceCancelsRunningRefreshes() async throws {
        let clock = ManualCacheClock()
        let cache = MemoryCache<String, Int>(configuration: .init(
            bound: .entries(10), refreshAfterWrite: .seconds(1), clock: clock))
        let service = MemoryCacheMaintenance(cache: cache, interval: .seconds(3600))
        let running = Task { try await service.run() }
        cache.insert(1, forKey: "k")
        clock.advance(by: .seconds(2))
        let gate = AsyncGate()
        #expect(try await cache.value(forKey: "k", orLoad: { try await gate.wait(); return Loaded(2) }) == 1)
        await eventually("the refresh runs") { gate.waiting == 1 }
        running.cancel()  // what a service group does on shutdown
        try await running.value
        await eventually("the refresh was cancelled") { gate.cancellations == 1 }
        #expect(cache.value(forKey: "k") == 1 && cache.refreshing == 0)
    }
}

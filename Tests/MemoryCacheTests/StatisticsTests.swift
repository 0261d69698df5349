import MetricsTestKit
import Testing

@testable import MemoryCache

@Suite struct StatisticsTests {
    @Test func statisticsAddUpAndReachTheMetricsBackend() async throws {
        let metrics = TestMetrics()
        let clock = ManualCacheClock()
        let cache = MemoryCache<Int, String>(configuration: .init(
            bound: .entries(3), timeToLive: .seconds(10), clock: clock, name: "stats", metricsFactory: metrics))
        for key in 0..<5 { cache.insert("v\(key)", forKey: key) }  // two are evicted for size
        var hits = 0
        var misses = 0
        for key in 0..<5 {
            if cache.value(forKey: key) != nil { hits += 1 } else { misses += 1 }
        }
        _ = try await cache.value(forKey: 10, orLoadValue: { "loaded" })
        await #expect(throws: Boom.self) { try await cache.value(forKey: 11, orLoad: { () async throws -> Loaded<String> in throw Boom() }) }
        misses += 2
        clock.advance(by: .seconds(11))
        cache.cleanUp()

        let stats = cache.statistics
        #expect(stats.hits == hits && stats.misses == misses)
        #expect(stats.requests == hits + misses)
        #expect(stats.loadSuccesses == 1 && stats.loadFailures == 1)
        #expect(stats.removals[.size] == 3, "two inserts and the load each pushed one out of a cache of 3")
        #expect(stats.removals[.expired] == 3)
        #expect(stats.evictions == 6)
        #expect(cache.count == 0)

        func counter(_ label: String, _ dims: [(String, String)]) throws -> Int64 {
            try metrics.expectCounter(label, [("cache", "stats")] + dims).totalValue
        }
        #expect(try counter("cache_requests_total", [("result", "hit")]) == Int64(hits))
        #expect(try counter("cache_requests_total", [("result", "miss")]) == Int64(misses))
        #expect(try counter("cache_loads_total", [("result", "success")]) == 1)
        #expect(try counter("cache_loads_total", [("result", "failure")]) == 1)
        #expect(try counter("cache_removals_total", [("cause", "expired")]) == 3)
        #expect(try counter("cache_removals_total", [("cause", "size")]) == 3)
        #expect(try metrics.expectTimer("cache_load_seconds", [("cache", "stats")]).values.count == 2)
        // A second report adds only what changed.
        _ = cache.value(forKey: 99)
        cache.cleanUp()
        #expect(try counter("cache_requests_total", [("result", "miss")]) == Int64(misses + 1))
    }
}

@Suite struct RemovalCauseIndexTests {
    @Test func everyCauseHasItsOwnCounterSlot() throws {
        #expect(RemovalCause.allCases.enumerated().allSatisfy { $0.offset == $0.element.index })
    }
}

import Metrics
import Synchronization

/// A cache's swift-metrics instruments (dimension `cache` = its name). Lookups are counted in the
/// shards and reported as deltas during maintenance, so the read path pays for no metric calls;
/// loads are recorded as they finish.
final class CacheMetrics: Sendable {
    private let hits: Counter
    private let misses: Counter
    private let loadSuccesses: Counter
    private let loadFailures: Counter
    private let loadTime: Metrics.Timer
    private let removals: [RemovalCause: Counter]
    private let entries: Gauge
    private let weight: Gauge
    private let reported = Mutex(CacheStatistics())

    init(name: String, factory: (any MetricsFactory)?) {
        let factory = factory ?? MetricsSystem.factory
        let cache = ("cache", name)
        hits = Counter(label: "cache_requests_total", dimensions: [cache, ("result", "hit")], factory: factory)
        misses = Counter(label: "cache_requests_total", dimensions: [cache, ("result", "miss")], factory: factory)
        loadSuccesses = Counter(label: "cache_loads_total", dimensions: [cache, ("result", "success")], factory: factory)
        loadFailures = Counter(label: "cache_loads_total", dimensions: [cache, ("result", "failure")], factory: factory)
        loadTime = Metrics.Timer(label: "cache_load_seconds", dimensions: [cache], factory: factory)
        var byCause: [RemovalCause: Counter] = [:]
        for cause in RemovalCause.allCases {
            byCause[cause] = Counter(
                label: "cache_removals_total", dimensions: [cache, ("cause", cause.rawValue)], factory: factory)
        }
        removals = byCause
        entries = Gauge(label: "cache_entries", dimensions: [cache], factory: factory)
        weight = Gauge(label: "cache_weighted_size", dimensions: [cache], factory: factory)
    }

    func recordLoad(success: Bool, nanoseconds: Int64) {
        (success ? loadSuccesses : loadFailures).increment()
        loadTime.recordNanoseconds(nanoseconds)
    }

    /// Reports what changed since the last report.
    func report(_ now: CacheStatistics, count: Int, weightedSize: Int) {
        let before = reported.withLock { previous -> CacheStatistics in
            let old = previous
            previous = now
            return old
        }
        if now.hits > before.hits { hits.increment(by: Int64(now.hits - before.hits)) }
        if now.misses > before.misses { misses.increment(by: Int64(now.misses - before.misses)) }
        for cause in RemovalCause.allCases {
            let delta = (now.removals[cause] ?? 0) - (before.removals[cause] ?? 0)
            if delta > 0 { removals[cause]?.increment(by: Int64(delta)) }
        }
        entries.record(count)
        weight.record(weightedSize)
    }
}

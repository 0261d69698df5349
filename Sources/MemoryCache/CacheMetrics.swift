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
    private let refreshSuccesses: Counter
    private let refreshFailures: Counter
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
        refreshSuccesses = Counter(label: "cache_refreshes_total", dimensions: [cache, ("result", "success")], factory: factory)
        refreshFailures = Counter(label: "cache_refreshes_total", dimensions: [cache, ("result", "failure")], factory: factory)
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

    /// Reports what changed since the last report. Counters only move forward: the reported
    /// baseline is the maximum seen per counter, so overlapping maintenance passes that report
    /// their snapshots out of order never count a change twice.
    func report(_ now: CacheStatistics, count: Int, weightedSize: Int) {
        let delta = reported.withLock { base -> CacheStatistics in
            var delta = CacheStatistics()
            delta.hits = max(0, now.hits - base.hits)
            delta.misses = max(0, now.misses - base.misses)
            delta.refreshSuccesses = max(0, now.refreshSuccesses - base.refreshSuccesses)
            delta.refreshFailures = max(0, now.refreshFailures - base.refreshFailures)
            base.hits = max(base.hits, now.hits)
            base.misses = max(base.misses, now.misses)
            base.refreshSuccesses = max(base.refreshSuccesses, now.refreshSuccesses)
            base.refreshFailures = max(base.refreshFailures, now.refreshFailures)
            for cause in RemovalCause.allCases {
                let old = base.removals[cause] ?? 0
                delta.removals[cause] = max(0, (now.removals[cause] ?? 0) - old)
                base.removals[cause] = max(old, now.removals[cause] ?? 0)
            }
            return delta
        }
        if delta.hits > 0 { hits.increment(by: Int64(delta.hits)) }
        if delta.misses > 0 { misses.increment(by: Int64(delta.misses)) }
        if delta.refreshSuccesses > 0 { refreshSuccesses.increment(by: Int64(delta.refreshSuccesses)) }
        if delta.refreshFailures > 0 { refreshFailures.increment(by: Int64(delta.refreshFailures)) }
        for cause in RemovalCause.allCases {
            if let d = delta.removals[cause], d > 0 { removals[cause]?.increment(by: Int64(d)) }
        }
        entries.record(count)
        weight.record(weightedSize)
    }
}

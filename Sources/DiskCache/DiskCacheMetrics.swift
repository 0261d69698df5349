import Metrics
import Synchronization

/// What a disk cache counts: kept for ``DiskCache/statistics()`` and reported to swift-metrics
/// (dimension `cache` = the configured name).
final class DiskCacheMetrics: Sendable {
    enum Event { case hit, miss, corruptEntry, eviction, mapFull }

    struct Counts {
        var hits = 0, misses = 0, corruptEntries = 0, evictions = 0, mapFullRecoveries = 0
    }

    private let counts = Mutex(Counts())
    private let hits: Counter, misses: Counter, corrupt: Counter, evictions: Counter, mapFull: Counter
    let putTime: Metrics.Timer

    init(name: String, factory: (any MetricsFactory)?) {
        let factory = factory ?? MetricsSystem.factory
        let cache = ("cache", name)
        hits = Counter(label: "disk_cache_requests_total", dimensions: [cache, ("result", "hit")], factory: factory)
        misses = Counter(label: "disk_cache_requests_total", dimensions: [cache, ("result", "miss")], factory: factory)
        corrupt = Counter(label: "disk_cache_corrupt_entries_total", dimensions: [cache], factory: factory)
        evictions = Counter(label: "disk_cache_evictions_total", dimensions: [cache], factory: factory)
        mapFull = Counter(label: "disk_cache_map_full_total", dimensions: [cache], factory: factory)
        putTime = Metrics.Timer(label: "disk_cache_put_seconds", dimensions: [cache], factory: factory)
    }

    func record(_ event: Event) {
        counts.withLock { c in
            switch event {
            case .hit: c.hits += 1
            case .miss: c.misses += 1
            case .corruptEntry: c.corruptEntries += 1
            case .eviction: c.evictions += 1
            case .mapFull: c.mapFullRecoveries += 1
            }
        }
        switch event {
        case .hit: hits.increment()
        case .miss: misses.increment()
        case .corruptEntry: corrupt.increment()
        case .eviction: evictions.increment()
        case .mapFull: mapFull.increment()
        }
    }

    var snapshot: Counts { counts.withLock { $0 } }
}

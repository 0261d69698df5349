import Metrics
import Synchronization

/// What the cache reports to swift-metrics, per query (dimension `query`):
/// `analytics_requests_total` (dimension `served_by`: l1, l2, computed, joined),
/// `analytics_computations_total`, `analytics_computation_seconds`,
/// `analytics_invalidations_total` (dimension `reason`), `analytics_refreshes_total`,
/// `analytics_coalesced_total`, `analytics_stored_bytes_total`.
final class AnalyticsMetrics: Sendable {
    private final class PerQuery: Sendable {
        let served: [ServedBy: Counter]
        let computations: Counter
        let computationTime: Metrics.Timer
        let refreshes: Counter
        let coalesced: Counter
        let storedBytes: Counter
        let invalidations: [AnalyticsUpdate.Reason: Counter]

        init(query: String, factory: any MetricsFactory) {
            let dimension = ("query", query)
            served = Dictionary(uniqueKeysWithValues: ServedBy.allCases.map {
                ($0, Counter(label: "analytics_requests_total", dimensions: [dimension, ("served_by", $0.rawValue)], factory: factory))
            })
            computations = Counter(label: "analytics_computations_total", dimensions: [dimension], factory: factory)
            computationTime = Metrics.Timer(label: "analytics_computation_seconds", dimensions: [dimension], factory: factory)
            refreshes = Counter(label: "analytics_refreshes_total", dimensions: [dimension], factory: factory)
            coalesced = Counter(label: "analytics_coalesced_total", dimensions: [dimension], factory: factory)
            storedBytes = Counter(label: "analytics_stored_bytes_total", dimensions: [dimension], factory: factory)
            invalidations = Dictionary(uniqueKeysWithValues: [AnalyticsUpdate.Reason.events, .manual, .dataVersion].map {
                ($0, Counter(label: "analytics_invalidations_total", dimensions: [dimension, ("reason", $0.rawValue)], factory: factory))
            })
        }
    }

    private let factory: any MetricsFactory
    private let queries = Mutex<[String: PerQuery]>([:])

    init(factory: (any MetricsFactory)?) { self.factory = factory ?? MetricsSystem.factory }

    private func metrics(_ query: String) -> PerQuery {
        queries.withLock { queries in
            if let known = queries[query] { return known }
            let created = PerQuery(query: query, factory: factory)
            queries[query] = created
            return created
        }
    }

    func served(_ query: String, by: ServedBy) { metrics(query).served[by]?.increment() }

    func computed(_ query: String, nanoseconds: Int64) {
        let m = metrics(query)
        m.computations.increment()
        m.computationTime.recordNanoseconds(nanoseconds)
    }

    func stored(_ query: String, bytes: Int) { metrics(query).storedBytes.increment(by: bytes) }
    func invalidated(_ query: String, reason: AnalyticsUpdate.Reason) { metrics(query).invalidations[reason]?.increment() }
    func refreshed(_ query: String) { metrics(query).refreshes.increment() }
    func coalesced(_ query: String) { metrics(query).coalesced.increment() }
}

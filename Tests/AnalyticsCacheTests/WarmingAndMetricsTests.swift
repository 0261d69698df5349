import CacheTestSupport
import AnalyticsCache
import Foundation
import MetricsTestKit
import Synchronization
import Testing
import TestSupport

/// Warm-up fills the layers with progress reports; every request and computation is counted per
/// query in swift-metrics.
@Suite struct WarmingAndMetricsTests {
    @Test func warmingFillsTheLayersReportsProgressAndFailuresAndIsCounted() async throws {
        let metrics = TestMetrics()
        let harness = try await Harness(metricsFactory: metrics)
        defer { TestSupport.remove(harness.root) }
        try await harness.cache.register(FreshnessTests.totals)
        let progress = Mutex<[Int]>([])
        let report = await harness.cache.warm([
            .init(query: "tenant-totals", scope: ScopeValue(tenant: "a")),
            .init(query: "tenant-totals", scope: ScopeValue(tenant: "b")),
            .init(query: "tenant-totals"),  // no tenant: a parameter error, reported
            .init(query: "missing"),
        ]) { done, total in progress.withLock { $0.append(done * 10 + total) } }
        #expect(report.warmed == 2)
        #expect(report.failures.count == 2)
        #expect(progress.withLock { $0 }.sorted() == [14, 24, 34, 44])
        for tenant in ["a", "b"] {
            #expect(try await harness.cache.result(for: "tenant-totals", scope: ScopeValue(tenant: tenant)).servedBy == .l1)
        }
        let dimension = ("query", "tenant-totals")
        #expect(try metrics.expectCounter("analytics_requests_total", [dimension, ("served_by", "computed")]).totalValue == 2)
        #expect(try metrics.expectCounter("analytics_requests_total", [dimension, ("served_by", "l1")]).totalValue == 2)
        #expect(try metrics.expectCounter("analytics_computations_total", [dimension]).totalValue == 2)
        #expect(try metrics.expectTimer("analytics_computation_seconds", [dimension]).values.count == 2)
        #expect(try metrics.expectCounter("analytics_stored_bytes_total", [dimension]).totalValue > 0)
        await harness.shutdown()
    }
}

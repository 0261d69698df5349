import Foundation
import MetricsTestKit
import Testing
import TestSupport
@testable import DiskCache

@Suite struct DiskCacheMetricsTests {
    @Test func requestsEvictionsAndPutsAreReportedToSwiftMetrics() throws {
        let dir = try CacheDirectory()
        let metrics = TestMetrics()
        let cache = try DiskCache(configuration: .init(
            path: dir.path, mapSize: 64 << 20, byteBudget: 3 * 4200, name: "l2", metricsFactory: metrics))
        for i in 0..<4 { try cache.store([UInt8](repeating: 1, count: 4000), forKey: "k\(i)") }
        _ = try cache.value(forKey: "k3")
        _ = try cache.value(forKey: "k0")  // evicted
        let requests = try metrics.expectCounter("disk_cache_requests_total", [("cache", "l2"), ("result", "hit")])
        #expect(requests.totalValue == 1)
        #expect(try metrics.expectCounter("disk_cache_requests_total", [("cache", "l2"), ("result", "miss")]).totalValue == 1)
        #expect(try metrics.expectCounter("disk_cache_evictions_total", [("cache", "l2")]).totalValue == 1)
        #expect(try metrics.expectTimer("disk_cache_put_seconds", [("cache", "l2")]).values.count == 4)
    }

    @Test func asyncReadsWriteTheirTimesBackOnceEnoughAreBuffered() async throws {
        let dir = try CacheDirectory()
        let clock = ManualDiskClock()
        let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: 64 << 20, clock: clock, accessFlushThreshold: 3))
        for i in 0..<3 { try cache.store(bytes("v\(i)"), forKey: "k\(i)") }
        clock.advance(seconds: 100)
        func storedAccess(_ key: String) throws -> Int64? {
            try cache.lmdb.read { txn in
                try KeyHash.bytes(KeyHash.of(key)).withUnsafeBytes { k in
                    try txn.get(cache.lmdb.access, k).map { Int64(littleEndian: $0.loadUnaligned(as: Int64.self)) }
                }
            }
        }
        let before = try storedAccess("k0")
        _ = try await cache.value(forKey: "k0")
        _ = try await cache.value(forKey: "k1")
        #expect(try storedAccess("k0") == before)  // two buffered reads: nothing written yet
        _ = try await cache.value(forKey: "k2")
        let expected = clock.now() / 1_000_000
        await eventually("the third read's write-back") { (try? storedAccess("k0")) == expected }
        #expect(try storedAccess("k2") == expected)
        #expect(try cache.consistencyProblems() == [])
    }
}

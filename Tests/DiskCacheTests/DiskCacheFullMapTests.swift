import Foundation
import Testing
import TestSupport
@testable import DiskCache

/// A cache filled far past its budget with small values keeps accepting writes, removals and
/// invalidations: the map never fills, because entries are evicted by the LMDB pages they and their
/// indexes occupy, and an eighth of the map stays free for copy-on-write.
@Suite(.timeLimit(.minutes(3))) struct DiskCacheFullMapTests {
    @Test(arguments: [200, 1024, 5120])
    func smallValuesFillingPastTheBudgetNeverFillTheMap(valueBytes: Int) throws {
        let dir = try CacheDirectory()
        let mapSize = 4 << 20
        let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: mapSize, clock: ManualDiskClock()))
        let budget = try cache.statistics().byteBudget
        // Five budgets' worth of records, each with tags and an expiry (every index in use).
        let puts = 5 * budget / (valueBytes + 64)
        var putFailures = 0, removeFailures = 0, invalidateFailures = 0
        for i in 0..<puts {
            let value = [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: valueBytes)
            do {
                try value.withUnsafeBytes {
                    try cache.put($0, forKey: "key-\(i)", expiresAt: 4_000_000_000_000_000 + Int64(i), tags: ["t\(i % 7)", "all"])
                }
            } catch {
                putFailures += 1
            }
            if i % 97 == 0 {
                do { _ = try cache.removeValue(forKey: "key-\(i - 50)") } catch { removeFailures += 1 }
            }
            if i % 1009 == 0 {
                do { _ = try cache.removeAll(taggedWith: "t\(i % 7)") } catch { invalidateFailures += 1 }
            }
        }
        #expect(putFailures == 0)
        #expect(removeFailures == 0)
        #expect(invalidateFailures == 0)
        let stats = try cache.statistics()
        #expect(stats.mapFullRecoveries == 0)
        #expect(stats.usedMapBytes <= mapSize)
        #expect(stats.entries > 0)
        // The newest entry is there; invalidating everything works on the full cache.
        #expect(try cache.value(forKey: "key-\(puts - 1)")?.count == valueBytes)
        #expect(try cache.removeAll(taggedWith: "all") == stats.entries)
        #expect(try cache.statistics().entries == 0)
        try cache.removeAll()
        #expect(try cache.consistencyProblems() == [])
    }
}

import TestSupport
import Testing

@testable import MemoryCache

/// Issue 11, defects 3 and 5: a weight-bounded cache sizes its sketch and climber by entries (so it
/// adapts like a count-bounded one), and nothing is allocated from the bound up front.
@Suite struct WeightedAdaptationTests {
    /// A hot set of 400 keys out of 4 000 (80 % of requests), shifting to a new hot set halfway.
    static func workload() -> [UInt64] {
        var random = SeededRandom(seed: 3)
        var keys: [UInt64] = []
        for phase in UInt64(0)..<2 {
            for _ in 0..<200_000 {
                let hot = random.next() % 10 < 8
                let k = hot ? phase * 100_000 + random.next() % 400 : 50_000 + random.next() % 4_000
                keys.append(k)
            }
        }
        return keys
    }

    static func hitRatioAfterShift(_ cache: MemoryCache<UInt64, Int>, weight: Int?) -> Double {
        var hits = 0
        let keys = workload()
        for (i, key) in keys.enumerated() {
            if cache.value(forKey: key) != nil {
                if i >= keys.count / 2 { hits += 1 }
            } else {
                cache.insert(1, forKey: key, weight: weight)
            }
        }
        return Double(hits) / Double(keys.count / 2)
    }

    @Test func aByteWeightedCacheAdaptsLikeACountBoundedOne() throws {
        let entries = 500
        let mebibyte = 1 << 20
        let counted = MemoryCache<UInt64, Int>(configuration: .init(
            bound: .entries(entries), keyHash: { $0 }, shardCount: 1, seed: 1))
        let weighted = MemoryCache<UInt64, Int>(configuration: .init(
            bound: .weight(entries * mebibyte, weigher: { _, _ in mebibyte }), keyHash: { $0 }, shardCount: 1, seed: 1))
        let byCount = Self.hitRatioAfterShift(counted, weight: nil)
        let byWeight = Self.hitRatioAfterShift(weighted, weight: mebibyte)
        #expect(byCount > 0.6, "the count-bounded cache itself did not adapt: \(byCount)")
        #expect(abs(byWeight - byCount) < 0.02, "weight-bound \(byWeight) vs count-bound \(byCount)")
        let (sample, words) = weighted.policyState.withLock { ($0.policy.sketch.sampleSize, $0.policy.sketch.capacity) }
        #expect(sample <= 10 * 1024 && words <= 1024, "sketch sized by weight: \(words) words, ages every \(sample)")
    }

    @Test func hugeBoundsAllocateNothingUpFrontAndGrowWithEntries() throws {
        for bound in [1 << 27, 1 << 40, Int.max] {
            let policy = WTinyLFUPolicy(maximum: bound)
            #expect(policy.sketch.capacity <= 64, "bound \(bound): \(policy.sketch.capacity) words while empty")
        }
        let cache = MemoryCache<Int, Int>(configuration: .init(bound: .entries(Int.max), shardCount: 1, seed: 1))
        #expect(cache.policyState.withLock { $0.policy.sketch.capacity } <= 64)
        for i in 0..<10_000 { cache.insert(i, forKey: i) }
        let words = cache.policyState.withLock { $0.policy.sketch.capacity }
        #expect(words >= 8_192 && words <= 32_768, "the sketch follows the entry count: \(words) words for 10 000")
        let bytes = MemoryCache<Int, Int>(configuration: .init(bound: .weight(Int.max, weigher: { _, _ in Int.max / 4 })))
        for i in 0..<8 { bytes.insert(i, forKey: i) }
        #expect(bytes.weightedSize <= Int.max && bytes.count <= 4)
    }
}

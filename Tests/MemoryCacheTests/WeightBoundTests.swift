import Synchronization
import TestSupport
import Testing

@testable import MemoryCache

/// Issue 11, defect 6: the bound holds for declared weights of any size, zero-weight entries cost
/// no live entry its place, and explicit weights belong to weight-bounded caches only.
@Suite struct WeightBoundTests {
    @Test func theBoundHoldsForDeclaredWeightsAfterEveryCall() throws {
        let maximum = 1 << 40  // 1 TiB of declared bytes
        let cache = MemoryCache<Int, Int>(configuration: .init(
            bound: .weight(maximum, weigher: { _, _ in 1 }), shardCount: 4))
        var random = SeededRandom(seed: 11)
        var declared: [Int: Int] = [:]
        let choices = [0, 1, 4096, 1 << 31, (1 << 31) + 7, 1 << 33, 1 << 38, maximum / 2, maximum, maximum + 1]
        for op in 0..<4000 {
            let key = Int(random.next() % 100)
            switch random.next() % 10 {
            case 0..<6:
                let weight = choices[Int(random.next() % UInt64(choices.count))]
                cache.insert(op, forKey: key, weight: weight)
                declared[key] = weight
            case 6..<8:
                cache.removeValue(forKey: key)
            case 8:
                cache.removeAll { $0 % 7 == key % 7 }
            default:
                _ = cache.value(forKey: key)
            }
            // Every present entry's declared weight counts: their sum never passes the bound.
            var present = 0
            var total = 0
            for k in 0..<100 where cache.value(forKey: k) != nil {
                present += 1
                total += declared[k] ?? 0
            }
            #expect(total <= maximum, "op \(op): \(total) declared bytes held under a bound of \(maximum)")
            #expect(cache.weightedSize == total, "op \(op)")
            #expect(cache.count == present, "op \(op)")
            if total > maximum { return }
        }
    }

    @Test func zeroWeightEntriesCostNoLiveEntryItsPlace() throws {
        let cache = MemoryCache<String, Int>(configuration: .init(
            bound: .weight(10, weigher: { _, _ in 1 }), shardCount: 1))
        for i in 0..<5 { cache.insert(i, forKey: "free\(i)", weight: 0) }
        for i in 0..<50 { cache.insert(i, forKey: "heavy\(i)", weight: 5) }
        #expect(cache.weightedSize <= 10)
        // The zero-weight entries were never victims: evicting them frees nothing.
        #expect((0..<5).allSatisfy { cache.value(forKey: "free\($0)") != nil })
        #expect((0..<50).filter { cache.value(forKey: "heavy\($0)") != nil }.count == 2)
    }
}

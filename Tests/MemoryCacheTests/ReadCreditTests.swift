import Synchronization
import TestSupport
import Testing

@testable import MemoryCache

/// Issue 11, defect 4: buffered reads are credited only to the entry that was read, and every
/// shard's buffer is replayed before a write, whatever shard the write goes to.
@Suite struct ReadCreditTests {
    @Test func aBufferedReadOfAnEvictedEntryIsNotCreditedToTheKeyReusingItsSlot() throws {
        // One shard with a large buffer, so reads stay buffered until the next drain.
        let cache = MemoryCache<UInt64, Int>(configuration: .init(
            bound: .entries(1), keyHash: { $0 }, shardCount: 1, seed: 1, readBufferSize: 1_000))
        cache.insert(1, forKey: 1)
        for _ in 0..<15 { _ = cache.value(forKey: 1) }  // buffered, not yet replayed
        // Remove 1 (freeing its slot) and store 2, which reuses the slot; the drain happens on this
        // write, and must not credit 2 with 1's reads.
        cache.removeValue(forKey: 1)
        cache.insert(2, forKey: 2)
        let frequency = cache.policyState.withLock { $0.policy.sketch.frequency(2) }
        #expect(frequency <= 1, "a never-read key got the reads of the slot's previous entry")
    }

    @Test func readsInEveryShardAreReplayedBeforeAWrite() throws {
        let cache = MemoryCache<UInt64, Int>(configuration: .init(
            bound: .entries(1_000), keyHash: { $0 }, shardCount: 64, seed: 1, readBufferSize: 1_000))
        for k in UInt64(0)..<200 { cache.insert(Int(k), forKey: k) }
        for k in UInt64(0)..<200 { for _ in 0..<3 { _ = cache.value(forKey: k) } }
        cache.insert(0, forKey: 10_000)  // one write, to one shard
        let frequencies = cache.policyState.withLock { p in (UInt64(0)..<200).map { p.policy.sketch.frequency($0) } }
        // Insert + 3 reads (entries still in the admission window have at most 2 reads counted per stay).
        #expect(frequencies.allSatisfy { $0 >= 3 }, "reads buffered in other shards were not replayed")
    }
}

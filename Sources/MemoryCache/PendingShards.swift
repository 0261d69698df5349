import Synchronization

/// Which shards have reads or lookup counts waiting for the policy: one bit per shard in atomic
/// words, so a drain finds them with one atomic exchange per 64 shards instead of visiting (and
/// retaining) every shard.
@usableFromInline
final class PendingShards: @unchecked Sendable {
    // @unchecked Sendable: `words` is allocated once in init, freed in deinit, and every access
    // between goes through `Atomic` operations; the pointer itself never changes.
    @usableFromInline let words: UnsafeMutablePointer<Atomic<UInt64>>
    @usableFromInline let wordCount: Int

    init(shards: Int) {
        wordCount = (shards + 63) / 64
        words = UnsafeMutablePointer<Atomic<UInt64>>.allocate(capacity: wordCount)
        for i in 0..<wordCount { (words + i).initialize(to: Atomic(0)) }
    }

    deinit {
        words.deinitialize(count: wordCount)
        words.deallocate()
    }

    /// Flags a shard (called under its lock, once per drain cycle).
    @inlinable
    func mark(_ shard: Int) {
        words[shard >> 6].bitwiseOr(1 << UInt64(shard & 63), ordering: .relaxed)
    }

    /// Takes and clears the flags of one word of 64 shards.
    @inlinable
    func take(word: Int) -> UInt64 {
        words[word].exchange(0, ordering: .acquiring)
    }
}

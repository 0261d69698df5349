import Synchronization

/// One stored entry, as kept in its shard.
@usableFromInline
struct CacheEntry<Value: Sendable>: Sendable {
    @usableFromInline var value: Value
    /// The entry's slot in the policy and the timer wheel (which also keeps its weight).
    @usableFromInline var slot: Int32
    /// Increases with every store (wrapping); tells a refresh whether its entry is still the one
    /// it read. Its tags live in the policy state, by slot, so the hash table stays small.
    @usableFromInline var generation: UInt32
    /// A refresh-after-write reload is running.
    @usableFromInline var refreshing: Bool
    @usableFromInline var writeTime: Int64
    @usableFromInline var accessTime: Int64
    /// Absolute expiry from time-to-live and the entry's own expiry (`Int64.max`: none).
    @usableFromInline var expiresAt: Int64
    @inlinable
    init(
        value: Value, slot: Int32, generation: UInt32, writeTime: Int64, accessTime: Int64,
        expiresAt: Int64, refreshing: Bool
    ) {
        self.value = value
        self.slot = slot
        self.generation = generation
        self.writeTime = writeTime
        self.accessTime = accessTime
        self.expiresAt = expiresAt
        self.refreshing = refreshing
    }
}

/// The state behind one shard's lock: a slice of the hash table, its in-flight loads, and the
/// reads not yet replayed to the policy.
@usableFromInline
struct ShardState<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    /// Key → position of its entry in ``slab``. The hash table holds only this small pair (its
    /// buckets are over-allocated to a power of two at ≤ 75 % load); the entries stay dense.
    @usableFromInline var index: [Key: Int32] = [:]
    @usableFromInline var slab: [CacheEntry<Value>?] = []
    @usableFromInline var freePositions: [Int32] = []
    @usableFromInline var loads: [Key: LoadOperation<Value>] = [:]
    /// Slots read since the last drain (lossy: full means later reads are not recorded).
    @usableFromInline var reads: [Int32] = []
    @usableFromInline var hits = 0
    @usableFromInline var misses = 0
    @usableFromInline var sampleHits = 0
    @usableFromInline var sampleMisses = 0

    @inlinable
    init() {}

    /// The entry at a position from ``index``.
    @inlinable
    subscript(entry position: Int32) -> CacheEntry<Value> {
        get {
            guard let entry = slab[Int(position)] else { preconditionFailure("index points at a free position") }
            return entry
        }
        _modify {
            guard slab[Int(position)] != nil else { preconditionFailure("index points at a free position") }
            yield &slab[Int(position)]!
        }
    }

    /// Stores the entry for `key`, replacing any.
    @inlinable
    mutating func setEntry(_ entry: CacheEntry<Value>, forKey key: Key) {
        if let position = index[key] {
            slab[Int(position)] = entry
            return
        }
        let position: Int32
        if let free = freePositions.popLast() {
            position = free
            slab[Int(free)] = entry
        } else {
            position = Int32(slab.count)
            slab.append(entry)
        }
        index[key] = position
    }

    /// Removes and returns the entry for `key`.
    @inlinable
    @discardableResult
    mutating func removeEntry(forKey key: Key) -> CacheEntry<Value>? {
        guard let position = index.removeValue(forKey: key) else { return nil }
        let entry = slab[Int(position)]
        slab[Int(position)] = nil
        freePositions.append(position)
        return entry
    }
}

/// One lock stripe of the cache.
@usableFromInline
final class CacheShard<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    @usableFromInline let state: Mutex<ShardState<Key, Value>>

    init(readBufferSize: Int) {
        var initial = ShardState<Key, Value>()
        initial.reads.reserveCapacity(readBufferSize)
        state = Mutex(initial)
    }
}

/// The state behind the policy lock: eviction policy, timer wheel, tag index and counters that
/// change only with writes and maintenance.
@usableFromInline
struct PolicyState<Key: Hashable & Sendable>: Sendable {
    @usableFromInline var policy: WTinyLFUPolicy

    @inlinable
    init(policy: WTinyLFUPolicy, wheel: TimerWheel) {
        self.policy = policy
        self.wheel = wheel
    }
    /// The key of each live policy slot.
    @usableFromInline var keys: [Key?] = []
    @usableFromInline var wheel: TimerWheel
    @usableFromInline var tagIndex: [String: Set<Key>] = [:]
    @usableFromInline var generation: UInt32 = 0
    /// The tags of each live slot.
    @usableFromInline var slotTags: [[String]] = []
    @usableFromInline var removals: [RemovalCause: Int] = [:]
    @usableFromInline var loadSuccesses = 0
    @usableFromInline var loadFailures = 0
    @usableFromInline var loadNanoseconds: Int64 = 0
    @usableFromInline var scratch: [Int32] = []

    /// Records the key of a newly allocated slot.
    @inlinable
    mutating func setKey(_ key: Key, for slot: Int32) {
        let i = Int(slot)
        if i >= keys.count {
            keys.append(contentsOf: repeatElement(nil, count: i + 1 - keys.count))
            slotTags.append(contentsOf: repeatElement([], count: i + 1 - slotTags.count))
        }
        keys[i] = key
    }

    /// Indexes `key` under `tags` and remembers them for its slot.
    @inlinable
    mutating func tag(_ key: Key, slot: Int32, _ tags: [String]) {
        slotTags[Int(slot)] = tags
        tag(key, tags)
    }

    /// Drops `key` from the index under its slot's tags.
    @inlinable
    mutating func untag(_ key: Key, slot: Int32) {
        guard Int(slot) < slotTags.count, !slotTags[Int(slot)].isEmpty else { return }
        untag(key, slotTags[Int(slot)])
        slotTags[Int(slot)] = []
    }

    @inlinable
    mutating func tag(_ key: Key, _ tags: [String]) {
        for tag in tags { tagIndex[tag, default: []].insert(key) }
    }

    @inlinable
    mutating func untag(_ key: Key, _ tags: [String]) {
        for tag in tags {
            if let i = tagIndex.index(forKey: tag) {
                tagIndex.values[i].remove(key)
                if tagIndex.values[i].isEmpty { tagIndex.remove(at: i) }
            }
        }
    }
}

/// Removal notifications collected under the locks and delivered after they are released.
@usableFromInline
struct Notifications<Key, Value> {
    @usableFromInline var items: [(Key, Value, RemovalCause)] = []

    @inlinable
    init() {}

    @inlinable
    mutating func append(_ key: Key, _ value: Value, _ cause: RemovalCause) {
        items.append((key, value, cause))
    }
}

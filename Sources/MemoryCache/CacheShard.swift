import Synchronization

/// One stored entry, as kept in its shard.
@usableFromInline
struct CacheEntry<Value: Sendable>: Sendable {
    @usableFromInline var value: Value
    /// The cache-wide generation of the store that wrote it (see ``CacheGeneration``); tells a
    /// refresh or a buffered read whether the entry is still the one it saw. Its tags live in the
    /// policy state, by slot, so the hash table stays small.
    @usableFromInline var generation: UInt64
    @usableFromInline var writeTime: Int64
    @usableFromInline var accessTime: Int64
    /// Absolute expiry from time-to-live and the entry's own expiry (`Int64.max`: none).
    @usableFromInline var expiresAt: Int64
    /// The entry's slot in the policy and the timer wheel (which also keeps its weight).
    @usableFromInline var slot: Int32
    /// A refresh-after-write reload is running.
    @usableFromInline var refreshing: Bool
    @inlinable
    init(
        value: Value, slot: Int32, generation: UInt64, writeTime: Int64, accessTime: Int64,
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
    /// Reads since the last drain, each the entry's slot and the low 32 bits of its generation
    /// (``ReadRecord``), so a read whose slot was freed and reused by another key is not credited
    /// to it. Lossy: when full, later reads are not recorded.
    @usableFromInline var reads: [UInt64] = []
    /// Failed refreshes per key: how many in a row and when the next may start (cleared by any
    /// store or removal of the key).
    @usableFromInline var refreshBackoff: [Key: RefreshBackoff] = [:]
    /// Whether this shard's ``PendingShards`` bit is set (so readers set it once per drain cycle).
    @usableFromInline var flagged = false
    @usableFromInline var hits = 0
    @usableFromInline var misses = 0

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
        if !refreshBackoff.isEmpty { refreshBackoff.removeValue(forKey: key) }
        return entry
    }
}

/// One lock stripe of the cache.
@usableFromInline
final class CacheShard<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    @usableFromInline let state: Mutex<ShardState<Key, Value>>
    /// Its position, for the ``PendingShards`` bit.
    @usableFromInline let index: Int

    init(index: Int, readBufferSize: Int) {
        self.index = index
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
    /// Tag → keys carrying it, with each key's hash (so tag removal never calls user code).
    @usableFromInline var tagIndex: [String: [Key: UInt64]] = [:]
    /// The cache's history counter (``CacheGeneration``): every store and invalidation bumps it.
    @usableFromInline var generation: UInt64 = 0
    /// The generation of each live slot's entry (buffered reads carry its low 32 bits).
    @usableFromInline var slotGenerations: [UInt32] = []
    /// Recent invalidations and removals, for conditional inserts.
    @usableFromInline var touches = TouchLog<Key>()
    @usableFromInline var refreshSuccesses = 0
    @usableFromInline var refreshFailures = 0
    /// The tags of each live slot.
    @usableFromInline var slotTags: [[String]] = []
    /// Removals by cause (indexed by ``RemovalCause/index``; a plain array, no hashing on writes).
    @usableFromInline var removals = [Int](repeating: 0, count: RemovalCause.allCases.count)
    @usableFromInline var loadSuccesses = 0
    @usableFromInline var loadFailures = 0
    @usableFromInline var loadNanoseconds: Int64 = 0
    @usableFromInline var scratch: [UInt64] = []
    /// Slots whose timers fired but that a bounded expiry pass has not looked at yet.
    @usableFromInline var expiryBacklog: [Int32] = []

    /// Records the key of a newly allocated slot.
    @inlinable
    mutating func setKey(_ key: Key, for slot: Int32) {
        let i = Int(slot)
        if i >= keys.count {
            keys.append(contentsOf: repeatElement(nil, count: i + 1 - keys.count))
            slotTags.append(contentsOf: repeatElement([], count: i + 1 - slotTags.count))
            slotGenerations.append(contentsOf: repeatElement(0, count: i + 1 - slotGenerations.count))
        }
        keys[i] = key
    }

    /// Indexes `key` under `tags` and remembers them for its slot.
    @inlinable
    mutating func tag(_ key: Key, hash: UInt64, slot: Int32, _ tags: [String]) {
        slotTags[Int(slot)] = tags
        for tag in tags { tagIndex[tag, default: [:]][key] = hash }
    }

    /// Drops `key` from the index under its slot's tags.
    @inlinable
    mutating func untag(_ key: Key, slot: Int32) {
        guard Int(slot) < slotTags.count, !slotTags[Int(slot)].isEmpty else { return }
        untag(key, slotTags[Int(slot)])
        slotTags[Int(slot)] = []
    }

    @inlinable
    mutating func untag(_ key: Key, _ tags: [String]) {
        for tag in tags {
            if let i = tagIndex.index(forKey: tag) {
                tagIndex.values[i].removeValue(forKey: key)
                if tagIndex.values[i].isEmpty { tagIndex.remove(at: i) }
            }
        }
    }

    /// Bumps the history counter and returns the new generation.
    @inlinable
    mutating func nextGeneration() -> UInt64 {
        generation &+= 1
        return generation
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

/// A failed refresh's backoff for one key.
@usableFromInline
struct RefreshBackoff: Sendable {
    /// Failures in a row.
    @usableFromInline var failures: Int
    /// The cache-clock time before which no refresh starts.
    @usableFromInline var notBefore: Int64
}

/// A buffered read: slot in the high 32 bits, the entry generation's low 32 bits in the low ones.
@usableFromInline
enum ReadRecord {
    @inlinable
    static func make(slot: Int32, generation: UInt64) -> UInt64 {
        UInt64(UInt32(bitPattern: slot)) << 32 | (generation & 0xFFFF_FFFF)
    }
    @inlinable
    static func slot(_ record: UInt64) -> Int32 { Int32(bitPattern: UInt32(truncatingIfNeeded: record >> 32)) }
    @inlinable
    static func generation(_ record: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: record) }
}

/// What recently happened to keys and tags, so a conditional insert can tell whether anything
/// touched its key after the generation it was computed at: explicit invalidations (by key, tag,
/// predicate or all) at their own generation, and removals for any other reason (size, expiry, a
/// refused store) at the generation of the store they undo. Bounded: the oldest touches are
/// forgotten (4 096 keys, 1 024 tags), and a generation older than the oldest forgotten one means
/// "cannot tell", so the insert is refused (safe: a refused promotion is only a lost hit).
/// Look-ups are O(1 + tags).
@usableFromInline
struct TouchLog<Key: Hashable & Sendable>: Sendable {
    @usableFromInline var keys = RecentGenerations<Key>(capacity: 4_096)
    @usableFromInline var tags = RecentGenerations<String>(capacity: 1_024)
    /// The latest invalidation of everything (``MemoryCache/removeAll()`` or a predicate).
    @usableFromInline var all: UInt64 = 0
    /// Generations below this may have had touches that were forgotten.
    @usableFromInline var horizon: UInt64 = 0
    @usableFromInline static var keyCapacity: Int { 4_096 }

    @inlinable
    init() {}

    /// Records that `key` was invalidated, or lost an entry stored at `generation`.
    @inlinable
    mutating func touch(key: Key, at generation: UInt64) {
        if let forgotten = keys.record(key, at: generation) { horizon = max(horizon, forgotten) }
    }

    /// Records that entries with these tags were invalidated at `generation`.
    @inlinable
    mutating func touch(tags touched: some Sequence<String>, at generation: UInt64) {
        for tag in touched {
            if let forgotten = tags.record(tag, at: generation) { horizon = max(horizon, forgotten) }
        }
    }

    /// Whether something after `since` may have touched `key` or one of `tags`.
    @inlinable
    func touched(_ key: Key, tags keyTags: [String], since: UInt64) -> Bool {
        if since < horizon || all > since { return true }
        if keys.latest(key) > since { return true }
        return keyTags.contains { tags.latest($0) > since }
    }
}

/// The latest generation of each of the most recently recorded items, bounded: recording beyond
/// `capacity` forgets the oldest record and reports its generation.
@usableFromInline
struct RecentGenerations<Item: Hashable & Sendable>: Sendable {
    @usableFromInline var latestByItem: [Item: UInt64] = [:]
    @usableFromInline var ring: [(item: Item, generation: UInt64)] = []
    @usableFromInline var head = 0
    @usableFromInline let capacity: Int

    @inlinable
    init(capacity: Int) { self.capacity = capacity }

    /// The latest generation recorded for `item` (0: none remembered).
    @inlinable
    func latest(_ item: Item) -> UInt64 { latestByItem[item] ?? 0 }

    /// Records `item` at `generation` (ignored if not newer).
    /// - Returns: the generation of a record forgotten to make room, if it was its item's latest
    @inlinable
    mutating func record(_ item: Item, at generation: UInt64) -> UInt64? {
        guard latest(item) < generation else { return nil }
        latestByItem[item] = generation
        if ring.count < capacity {
            ring.append((item, generation))
            return nil
        }
        let dropped = ring[head]
        ring[head] = (item, generation)
        head = (head + 1) % capacity
        guard latestByItem[dropped.item] == dropped.generation else { return nil }
        latestByItem.removeValue(forKey: dropped.item)
        return dropped.generation
    }
}

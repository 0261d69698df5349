import Synchronization

/// One stored entry, as kept in its shard.
struct CacheEntry<Value: Sendable>: Sendable {
    var value: Value
    /// The entry's slot in the policy and the timer wheel.
    var slot: Int32
    var weight: Int
    var tags: [String]
    /// Increases with every store; tells a refresh whether its entry is still the one it read.
    var generation: UInt64
    var writeTime: Int64
    var accessTime: Int64
    /// Absolute expiry from time-to-live and the entry's own expiry (`Int64.max`: none).
    var expiresAt: Int64
    /// A refresh-after-write reload is running.
    var refreshing: Bool
}

/// The state behind one shard's lock: a slice of the hash table, its in-flight loads, and the
/// reads not yet replayed to the policy.
struct ShardState<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    var entries: [Key: CacheEntry<Value>] = [:]
    var loads: [Key: LoadOperation<Value>] = [:]
    /// Slots read since the last drain (lossy: full means later reads are not recorded).
    var reads: [Int32] = []
    var hits = 0
    var misses = 0
    var sampleHits = 0
    var sampleMisses = 0
}

/// One lock stripe of the cache.
final class CacheShard<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    let state: Mutex<ShardState<Key, Value>>

    init(readBufferSize: Int) {
        var initial = ShardState<Key, Value>()
        initial.reads.reserveCapacity(readBufferSize)
        state = Mutex(initial)
    }
}

/// The state behind the policy lock: eviction policy, timer wheel, tag index and counters that
/// change only with writes and maintenance.
struct PolicyState<Key: Hashable & Sendable>: Sendable {
    var policy: WTinyLFUPolicy<Key>
    var wheel: TimerWheel
    var tagIndex: [String: Set<Key>] = [:]
    var generation: UInt64 = 0
    var removals: [RemovalCause: Int] = [:]
    var loadSuccesses = 0
    var loadFailures = 0
    var loadNanoseconds: Int64 = 0
    var scratch: [Int32] = []

    mutating func tag(_ key: Key, _ tags: [String]) {
        for tag in tags { tagIndex[tag, default: []].insert(key) }
    }

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
struct Notifications<Key, Value> {
    var items: [(Key, Value, RemovalCause)] = []

    mutating func append(_ key: Key, _ value: Value, _ cause: RemovalCause) {
        items.append((key, value, cause))
    }
}

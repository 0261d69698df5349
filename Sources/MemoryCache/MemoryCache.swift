import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A concurrent, bounded in-memory cache with adaptive W-TinyLFU eviction, time-based expiry,
/// single-flight loading, tags, removal listeners and statistics — the L1 of the analytics cache.
///
/// - **Reads** take only the lock of the key's shard (one of many stripes) for a hash lookup; the
///   read is recorded in the shard's small buffer and replayed to the eviction policy later, in a
///   batch, by whoever gets the policy lock without waiting. A full buffer drops records rather
///   than make readers wait (they only inform eviction).
/// - **Writes** take the policy lock, apply pending reads, store, and evict before returning, so
///   ``weightedSize`` never exceeds the bound once a write returns.
/// - **Expired entries are never returned**; a timer wheel removes them in maintenance
///   (``cleanUp()``, run periodically by ``MemoryCacheMaintenance``) and tells the listener.
///
/// See the `MemoryCache` DocC article for the design and its guarantees.
public final class MemoryCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    /// The configuration the cache was made with.
    public let configuration: MemoryCacheConfiguration<Key, Value>
    @usableFromInline let shards: [CacheShard<Key, Value>]
    @usableFromInline let shardMask: Int
    @usableFromInline let policyState: Mutex<PolicyState<Key>>
    @usableFromInline let maximum: Int
    @usableFromInline let timeToLive: Int64?
    @usableFromInline let timeToIdle: Int64?
    /// Set once any entry is stored with an expiry of its own.
    @usableFromInline let anyEntryExpiry = Atomic<Bool>(false)
    let refreshAfterWrite: Int64?
    @usableFromInline let clock: any CacheClock
    @usableFromInline let hashKey: @Sendable (Key) -> UInt64
    @usableFromInline let readBufferSize: Int
    let metrics: CacheMetrics
    /// Test-only pauses at points where concurrent callers interleave (never set in production).
    let loadHooks = LoadHooks()
    @usableFromInline let countMirror = Atomic<Int>(0)
    @usableFromInline let weightMirror = Atomic<Int>(0)

    /// Creates a cache.
    /// - Parameter configuration: bound, expiry, listener, clock and reporting
    public init(configuration: MemoryCacheConfiguration<Key, Value>) {
        self.configuration = configuration
        let wanted = configuration.shardCount > 0 ? configuration.shardCount : 16 * Self.processorCount
        let count = FrequencySketch.ceilingPowerOfTwo(min(max(1, wanted), 1024))
        shards = (0..<count).map { _ in CacheShard(readBufferSize: configuration.readBufferSize) }
        shardMask = count - 1
        maximum = configuration.maximum
        clock = configuration.clock
        timeToLive = configuration.timeToLive.map(nanosecondCount(of:))
        timeToIdle = configuration.timeToIdle.map(nanosecondCount(of:))
        refreshAfterWrite = configuration.refreshAfterWrite.map(nanosecondCount(of:))
        hashKey = configuration.keyHash ?? { UInt64(bitPattern: Int64($0.hashValue)) }
        readBufferSize = configuration.readBufferSize
        let expected: Int
        switch configuration.bound {
        case .entries(let n): expected = max(1, n)
        case .weight: expected = min(max(1, configuration.maximum), 1 << 20)
        }
        policyState = Mutex(PolicyState(
            policy: WTinyLFUPolicy(maximum: configuration.maximum, expectedEntries: expected, seed: configuration.seed),
            wheel: TimerWheel(now: configuration.clock.nanoseconds())))
        metrics = CacheMetrics(name: configuration.name, factory: configuration.metricsFactory)
    }

    /// Creates a cache bounded by entry count.
    /// - Parameters:
    ///   - maximumCount: the most entries it holds
    ///   - timeToLive: expiry after write
    public convenience init(maximumCount: Int, timeToLive: Duration? = nil) {
        self.init(configuration: .init(bound: .entries(maximumCount), timeToLive: timeToLive))
    }

    // MARK: Reading

    /// The live value for `key`, or nil (absent or expired).
    /// - Parameter key: the key
    /// - Returns: the value
    /// - Complexity: O(1); takes only the key's shard lock
    @inlinable
    public func value(forKey key: Key) -> Value? {
        let hash = hashKey(key)
        let now = needsClockOnRead ? clock.nanoseconds() : 0
        let shard = shard(hash)
        let (value, drain) = shard.state.withLock { s -> (Value?, Bool) in
            guard let i = liveEntry(forKey: key, in: &s, now: now) else { return (nil, false) }
            let slot = s[entry: i].slot
            return (s[entry: i].value, recordRead(slot, in: &s))
        }
        if drain { drainIfAvailable(shard) }
        return value
    }

    /// Shard lock held: the position of the key's live entry, counting the lookup as a hit or a
    /// miss and moving the idle deadline of a hit. Expired entries count as misses.
    @inlinable
    func liveEntry(forKey key: Key, in s: inout ShardState<Key, Value>, now: Int64) -> Int32? {
        guard let i = s.index[key],
              now < s[entry: i].expiresAt,
              timeToIdle.map({ now - s[entry: i].accessTime < $0 }) ?? true
        else {
            s.misses += 1
            s.sampleMisses += 1
            return nil
        }
        if timeToIdle != nil { s[entry: i].accessTime = now }
        s.hits += 1
        s.sampleHits += 1
        return i
    }

    /// Whether reads must look at the clock: some entry can expire (time-to-live or -idle is
    /// configured, or an entry was stored with its own expiry). Without expiry, reads skip it.
    @inlinable
    var needsClockOnRead: Bool {
        timeToIdle != nil || timeToLive != nil || anyEntryExpiry.load(ordering: .relaxed)
    }

    /// Records a read in the shard's buffer; returns whether the buffer is full.
    @inlinable
    func recordRead(_ slot: Int32, in s: inout ShardState<Key, Value>) -> Bool {
        if s.reads.count < readBufferSize { s.reads.append(slot) }
        return s.reads.count >= readBufferSize
    }

    /// The number of entries (expired ones count until maintenance removes them).
    public var count: Int { countMirror.load(ordering: .relaxed) }

    /// The total weight of the entries (their count for an entry-bounded cache).
    public var weightedSize: Int { weightMirror.load(ordering: .relaxed) }

    // MARK: Writing

    /// Stores a value, replacing any previous one (and superseding a load in flight for the key).
    /// - Parameters:
    ///   - value: the value
    ///   - key: its key
    ///   - tags: its dependencies, for ``removeAll(taggedWith:)``
    ///   - expiry: its own expiry, on top of the cache's time-to-live
    ///   - weight: its weight; nil: the configured weigher. Only for a weight-bounded cache (on an
    ///     entry-bounded one an explicit weight is a programming error: precondition)
    /// - Complexity: O(1) amortised, plus evictions
    @inlinable
    public func insert(_ value: Value, forKey key: Key, tags: Set<String> = [], expiry: Expiry = .never, weight: Int? = nil) {
        var notes = Notifications<Key, Value>()
        store(key, hash: hashKey(key), value: value, tags: Array(tags), expiry: expiry, weight: weight,
              condition: .always, notes: &notes)
        deliver(notes)
    }

    /// Removes the entry for `key` and invalidates a load in flight for it (its waiters still get
    /// the loaded value, but it is not stored).
    /// - Parameter key: the key
    /// - Returns: the removed value; nil when there was none or it had expired (the listener then
    ///   hears `.expired`, not `.explicit`)
    @discardableResult
    public func removeValue(forKey key: Key) -> Value? {
        var notes = Notifications<Key, Value>()
        let hash = hashKey(key)
        let now = clock.nanoseconds()
        let removed = policyState.withLock { p -> Value? in
            let value = shard(hash).state.withLock { s -> Value? in
                s.loads.removeValue(forKey: key)
                guard let old = s.removeEntry(forKey: key) else { return nil }
                let expired = isExpired(old, now: now)
                forget(key, old, cause: expired ? .expired : .explicit, in: &p, notes: &notes)
                return expired ? nil : old.value
            }
            updateMirrors(p)
            return value
        }
        deliver(notes)
        return removed
    }

    /// Removes every entry and invalidates every load in flight.
    public func removeAll() {
        removeAll(where: { _ in true })
    }

    /// Removes the entries whose key matches, and invalidates matching loads in flight.
    ///
    /// `shouldRemove` runs outside every lock of the cache (it may read the cache): the keys present
    /// when the call starts are copied shard by shard, judged, and the matching ones removed if still
    /// there. An entry stored or a load started for a matching key while the call runs counts as
    /// later than the call and is kept.
    /// - Parameter shouldRemove: decides per key (e.g. a key prefix)
    /// - Complexity: O(entries), with a copy of each shard's keys
    public func removeAll(where shouldRemove: (Key) -> Bool) {
        var doomed: [[Key]] = []
        doomed.reserveCapacity(shards.count)
        for shard in shards {
            let keys = shard.state.withLock { s -> Set<Key> in Set(s.loads.keys).union(s.index.keys) }
            doomed.append(keys.filter(shouldRemove))
        }
        var notes = Notifications<Key, Value>()
        policyState.withLock { p in
            for (shard, keys) in zip(shards, doomed) where !keys.isEmpty {
                shard.state.withLock { s in
                    for key in keys {
                        s.loads.removeValue(forKey: key)
                        if let old = s.removeEntry(forKey: key) {
                            forget(key, old, cause: .explicit, in: &p, notes: &notes)
                        }
                    }
                }
            }
            updateMirrors(p)
        }
        deliver(notes)
    }

    /// Removes the entries carrying `tag`, and invalidates loads in flight declared with it.
    /// - Parameter tag: e.g. an aggregate type the entries depend on
    /// - Complexity: O(entries with the tag + loads in flight)
    public func removeAll(taggedWith tag: String) {
        var notes = Notifications<Key, Value>()
        policyState.withLock { p in
            for shard in shards {
                shard.state.withLock { s in
                    for (key, load) in s.loads where load.tags.contains(tag) { s.loads.removeValue(forKey: key) }
                }
            }
            guard let keys = p.tagIndex[tag] else { return }
            for key in keys {
                shard(hashKey(key)).state.withLock { s in
                    if let old = s.removeEntry(forKey: key) {
                        forget(key, old, cause: .explicit, in: &p, notes: &notes)
                    }
                }
            }
            updateMirrors(p)
        }
        deliver(notes)
    }

    // MARK: Helpers

    @inlinable
    func shard(_ hash: UInt64) -> CacheShard<Key, Value> {
        shards[Int(truncatingIfNeeded: FrequencySketch.spread(hash) >> 40) & shardMask]
    }

    @inlinable
    func isExpired(_ entry: CacheEntry<Value>, now: Int64) -> Bool {
        if now >= entry.expiresAt { return true }
        if let tti = timeToIdle, now - entry.accessTime >= tti { return true }
        return false
    }

    /// When the entry's timer should fire: its own expiry or its idle deadline.
    @inlinable
    func nextExpiry(_ entry: CacheEntry<Value>) -> Int64 {
        var due = entry.expiresAt
        if let tti = timeToIdle { due = min(due, entry.accessTime &+ tti) }
        return due
    }

    static var processorCount: Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}

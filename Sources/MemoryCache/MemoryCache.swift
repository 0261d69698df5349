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
///   read (slot and generation) is recorded in the shard's small buffer and replayed to the
///   eviction policy later, in a batch with every other shard's, by whoever gets the policy lock
///   without waiting. A full buffer drops records rather than make readers wait (they only inform
///   eviction).
/// - **Writes** take the policy lock, apply pending reads, store, and evict before returning, so
///   ``weightedSize`` never exceeds the bound once a write returns.
/// - **Lookups say how they were served** (``lookup(_:tags:timeout:orLoad:)``): hit, loaded,
///   joined, or superseded by an invalidation that raced the load.
/// - **Expired entries are never returned**; a timer wheel removes them in maintenance
///   (``cleanUp()``, run periodically by ``MemoryCacheMaintenance``) and tells the listener.
///
/// See the `MemoryCache` DocC article for the design and its guarantees.
public final class MemoryCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    /// The configuration the cache was made with.
    public let configuration: MemoryCacheConfiguration<Key, Value>
    @usableFromInline let shards: [CacheShard<Key, Value>]
    @usableFromInline let shardMask: Int
    @usableFromInline let pendingShards: PendingShards
    @usableFromInline let policyState: Mutex<PolicyState<Key>>
    @usableFromInline let maximum: Int
    @usableFromInline let timeToLive: Int64?
    @usableFromInline let timeToIdle: Int64?
    /// Set once any entry is stored with an expiry of its own.
    @usableFromInline let anyEntryExpiry = Atomic<Bool>(false)
    let refreshAfterWrite: Int64?
    let refreshRetryInterval: Int64
    /// The admission randomness seed (the configured one, or drawn at random for this instance).
    let admissionSeed: UInt64
    let refreshes = Mutex(RefreshRegistry())
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
        shards = (0..<count).map { CacheShard(index: $0, readBufferSize: configuration.readBufferSize) }
        pendingShards = PendingShards(shards: count)
        shardMask = count - 1
        maximum = min(configuration.maximum, WTinyLFUPolicy.largestMaximum)
        clock = configuration.clock
        timeToLive = configuration.timeToLive.map(nanosecondCount(of:))
        timeToIdle = configuration.timeToIdle.map(nanosecondCount(of:))
        refreshAfterWrite = configuration.refreshAfterWrite.map(nanosecondCount(of:))
        refreshRetryInterval = max(1, nanosecondCount(of: configuration.refreshRetryInterval))
        hashKey = configuration.keyHash ?? { UInt64(bitPattern: Int64($0.hashValue)) }
        readBufferSize = configuration.readBufferSize
        // The sketch starts small and grows with the live entry count (never from the bound).
        let seed = configuration.seed ?? UInt64.random(in: .min ... .max)
        admissionSeed = seed
        policyState = Mutex(PolicyState(
            policy: WTinyLFUPolicy(maximum: configuration.maximum, seed: seed),
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
        read(key).map(\.value)
    }

    /// The live entry for `key` with its generation and age, or nil (absent or expired).
    /// - Parameter key: the key
    /// - Returns: the value, served as ``LookupOutcome/hit``
    /// - Complexity: O(1); takes only the key's shard lock
    @inlinable
    public func lookup(_ key: Key) -> CacheLookup<Value>? {
        guard let (value, generation, writeTime, now) = read(key) else { return nil }
        let read = now ?? clock.nanoseconds()
        return CacheLookup(
            value: value, outcome: .hit, generation: CacheGeneration(rawValue: generation),
            age: .nanoseconds(max(0, read &- writeTime)))
    }

    /// A hit's value, generation, write time and the clock reading used (nil: none was needed).
    @inlinable
    func read(_ key: Key) -> (value: Value, generation: UInt64, writeTime: Int64, now: Int64?)? {
        let hash = hashKey(key)
        let shard = shard(hash)
        // The clock is read outside the lock, and only when some entry can expire; if the flag was
        // read stale and the entry turns out to have a deadline, the lookup is redone with the clock.
        var now: Int64? = needsClockOnRead ? clock.nanoseconds() : nil
        while true {
            let (found, drain, retry) = shard.state.withLock {
                s -> ((value: Value, generation: UInt64, writeTime: Int64, now: Int64?)?, Bool, Bool) in
                switch liveEntry(forKey: key, in: &s, now: now, shard: shard) {
                case .needsClock: return (nil, false, true)
                case .absent: return (nil, false, false)
                case .live(let i):
                    let e = s[entry: i]
                    return ((e.value, e.generation, e.writeTime, now), recordRead(e.slot, e.generation, in: &s), false)
                }
            }
            if retry {
                now = clock.nanoseconds()
                continue
            }
            if drain { drainIfAvailable() }
            return found
        }
    }

    /// What a shard lookup found.
    @usableFromInline
    enum Liveness {
        case live(Int32)
        case absent
        /// The entry has a deadline but the caller read no clock: look again with it.
        case needsClock
    }

    /// Shard lock held: the position of the key's live entry, counting the lookup as a hit or a
    /// miss and moving the idle deadline of a hit. Expired entries count as misses.
    @inlinable
    func liveEntry(forKey key: Key, in s: inout ShardState<Key, Value>, now: Int64?, shard: CacheShard<Key, Value>) -> Liveness {
        guard let i = s.index[key] else {
            countLookup(hit: false, in: &s, shard: shard)
            return .absent
        }
        if let now {
            guard now < s[entry: i].expiresAt, timeToIdle.map({ now - s[entry: i].accessTime < $0 }) ?? true else {
                countLookup(hit: false, in: &s, shard: shard)
                return .absent
            }
            if timeToIdle != nil { s[entry: i].accessTime = now }
        } else if s[entry: i].expiresAt != Int64.max || timeToIdle != nil {
            return .needsClock
        }
        countLookup(hit: true, in: &s, shard: shard)
        return .live(i)
    }

    /// Shard lock held: counts a lookup for the statistics; a hit (whose read the caller records
    /// next) flags the shard for the policy. Misses give the policy nothing: the shadow caches
    /// that choose the window count their own hits.
    @inlinable
    func countLookup(hit: Bool, in s: inout ShardState<Key, Value>, shard: CacheShard<Key, Value>) {
        if hit {
            s.hits += 1
            markPending(&s, shard)
        } else {
            s.misses += 1
        }
    }

    /// Shard lock held: flags the shard as having something for the policy.
    @inlinable
    func markPending(_ s: inout ShardState<Key, Value>, _ shard: CacheShard<Key, Value>) {
        if !s.flagged {
            s.flagged = true
            pendingShards.mark(shard.index)
        }
    }

    /// Whether reads must look at the clock: some entry can expire (time-to-live or -idle is
    /// configured, or an entry was stored with its own expiry). Without expiry, reads skip it.
    @inlinable
    var needsClockOnRead: Bool {
        timeToIdle != nil || timeToLive != nil || anyEntryExpiry.load(ordering: .relaxed)
    }

    /// Records a read in the shard's buffer (slot and generation); returns whether it is full.
    @inlinable
    func recordRead(_ slot: Int32, _ generation: UInt64, in s: inout ShardState<Key, Value>) -> Bool {
        if s.reads.count < readBufferSize { s.reads.append(ReadRecord.make(slot: slot, generation: generation)) }
        return s.reads.count >= readBufferSize
    }

    /// The number of entries (expired ones count until maintenance removes them).
    public var count: Int { countMirror.load(ordering: .relaxed) }

    /// The total weight of the entries (their count for an entry-bounded cache).
    public var weightedSize: Int { weightMirror.load(ordering: .relaxed) }

    // MARK: Writing

    /// Stores a value, replacing any previous one (and superseding a load in flight for the key:
    /// its callers get ``LookupOutcome/superseded``).
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
        _ = store(key, hash: hashKey(key), value: value, tags: Array(tags), expiry: expiry, weight: weight,
                  condition: .always, notes: &notes)
        deliver(notes)
    }

    /// Stores a value computed elsewhere (a promotion from a slower layer, a refresh) only if
    /// nothing newer happened to its key since `generation`: no store of the key and no
    /// invalidation that matched the key or one of `tags` (by key, tag, predicate or all). A load
    /// in flight for the key is left alone (it started later, or its own store decides).
    ///
    /// Take the generation with ``currentGeneration`` *before* reading the data the value is made
    /// from; then an invalidation that raced the computation always wins.
    /// - Parameters:
    ///   - value: the value
    ///   - key: its key
    ///   - tags: its dependencies (also what an invalidation is matched against)
    ///   - expiry: its own expiry
    ///   - weight: its weight (weight-bounded caches only)
    ///   - generation: when the value's inputs were read
    /// - Returns: whether it was stored (false also when it was heavier than the bound, or when the
    ///   generation is older than what the cache remembers: the last 4 096 keys and 1 024 tags touched)
    @inlinable
    @discardableResult
    public func insert(
        _ value: Value, forKey key: Key, tags: Set<String> = [], expiry: Expiry = .never, weight: Int? = nil,
        ifUnchangedSince generation: CacheGeneration
    ) -> Bool {
        var notes = Notifications<Key, Value>()
        let stored = store(key, hash: hashKey(key), value: value, tags: Array(tags), expiry: expiry, weight: weight,
                           condition: .unchangedSince(generation.rawValue), notes: &notes)
        deliver(notes)
        return stored.receipt != nil
    }

    /// The cache's current generation: a token for ``insert(_:forKey:tags:expiry:weight:ifUnchangedSince:)``.
    public var currentGeneration: CacheGeneration {
        CacheGeneration(rawValue: policyState.withLock { $0.generation })
    }

    /// Removes the entry for `key` and invalidates a load in flight for it (its callers get the
    /// loaded value as ``LookupOutcome/superseded``; it is not stored).
    /// - Parameter key: the key
    /// - Returns: the removed value; nil when there was none or it had expired (the listener then
    ///   hears `.expired`, not `.explicit`)
    @discardableResult
    public func removeValue(forKey key: Key) -> Value? {
        var notes = Notifications<Key, Value>()
        let hash = hashKey(key)
        let now = clock.nanoseconds()
        let removed = policyState.withLock { p -> Value? in
            p.touches.touch(key: key, at: p.nextGeneration())
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
    /// there. An entry stored or a load started for a matching key while the call runs may be removed
    /// too (it errs on the side of freshness). For conditional inserts the call counts as touching
    /// every key.
    /// - Parameter shouldRemove: decides per key (e.g. a key prefix)
    /// - Complexity: O(entries), with a copy of each shard's keys
    public func removeAll(where shouldRemove: (Key) -> Bool) {
        // The generation is taken first: a conditional insert whose inputs predate the call loses.
        policyState.withLock { p in p.touches.all = p.nextGeneration() }
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
    /// - Returns: how many entries were removed
    /// - Complexity: O(entries with the tag + loads in flight)
    @discardableResult
    public func removeAll(taggedWith tag: String) -> Int {
        removeAll(taggedWithAnyOf: [tag])
    }

    /// Removes the entries carrying any of `tags`, and invalidates loads in flight declared with
    /// any of them, as one operation (one pass over the loads in flight, one lock acquisition).
    /// - Parameter tags: e.g. the aggregate types and instances an event batch touched
    /// - Returns: how many entries were removed
    /// - Complexity: O(shards + entries with the tags + loads in flight)
    @discardableResult
    public func removeAll(taggedWithAnyOf tags: some Sequence<String>) -> Int {
        let tags = Set(tags)
        guard !tags.isEmpty else { return 0 }
        var notes = Notifications<Key, Value>()
        let removed = policyState.withLock { p -> Int in
            p.touches.touch(tags: tags, at: p.nextGeneration())
            for shard in shards {
                shard.state.withLock { s in
                    guard !s.loads.isEmpty else { return }
                    for (key, load) in s.loads where load.tags.contains(where: tags.contains) {
                        s.loads.removeValue(forKey: key)
                    }
                }
            }
            var count = 0
            for tag in tags {
                guard let keys = p.tagIndex[tag] else { continue }
                for (key, hash) in keys {
                    shard(hash).state.withLock { s in
                        if let old = s.removeEntry(forKey: key) {
                            forget(key, old, cause: .explicit, in: &p, notes: &notes)
                            count += 1
                        }
                    }
                }
            }
            updateMirrors(p)
            return count
        }
        deliver(notes)
        return removed
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
        if let tti = timeToIdle { due = min(due, saturatingAdd(entry.accessTime, tti)) }
        return due
    }

    static var processorCount: Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}

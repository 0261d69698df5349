import Metrics

/// How a ``MemoryCache`` is bounded, expires and reports.
public struct MemoryCacheConfiguration<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    /// The size bound.
    public enum Bound: Sendable {
        /// At most this many entries. 0 stores nothing (a switch that turns the cache off: every
        /// lookup misses, loads still run once per concurrent group); a negative bound is a
        /// configuration error (precondition).
        case entries(Int)
        /// At most this total weight, each entry weighed by `weigher` (e.g. a result's bytes) unless
        /// its loader gives a weight. Bounds above 2^62 − 1 count as 2^62 − 1 (so sums never overflow).
        case weight(Int, weigher: @Sendable (Key, Value) -> Int)
    }

    /// The size bound, enforced before every write returns.
    public var bound: Bound
    /// Entries expire this long after they were written.
    public var timeToLive: Duration?
    /// Entries expire after this long without a read.
    public var timeToIdle: Duration?
    /// After this age a read through ``MemoryCache/value(forKey:tags:orLoad:)`` still returns the
    /// entry at once but starts one background reload (stale-while-revalidate).
    public var refreshAfterWrite: Duration?
    /// After a background refresh fails, the next one for that entry waits this long, doubling
    /// with each failure in a row up to `refreshAfterWrite` (default 1 s).
    public var refreshRetryInterval: Duration
    /// Told about every failed background refresh (the entry is kept); also counted in
    /// ``CacheStatistics/refreshFailures`` and the `cache_refreshes_total{result="failure"}` metric.
    public var refreshFailureListener: (@Sendable (Key, any Error) -> Void)?
    /// Told about every entry that leaves (or is refused by) the cache, outside the cache's locks,
    /// on the thread that caused it or in maintenance.
    public var removalListener: (@Sendable (Key, Value, RemovalCause) -> Void)?
    /// The time source; inject a ``ManualCacheClock`` in tests.
    public var clock: any CacheClock
    /// The key's 64-bit hash for the frequency sketch and sharding; nil: `hashValue` (seeded per
    /// process, so give a stable one where runs must repeat exactly, as `simulate` does).
    public var keyHash: (@Sendable (Key) -> UInt64)?
    /// The cache's name in metrics (`cache` dimension).
    public var name: String
    /// Where metrics go; nil: the bootstrapped `MetricsSystem`.
    public var metricsFactory: (any MetricsFactory)?
    /// Independent lock stripes of the hash table (rounded up to a power of two).
    public var shardCount: Int
    /// Seeds the admission randomness; nil (the default): a random seed per instance, so the
    /// 1-in-128 admissions cannot be predicted from outside. Give one where runs must repeat.
    public var seed: UInt64?
    /// Reads recorded per shard before the policy is updated; reads beyond a full buffer while the
    /// policy is busy are dropped (they only inform eviction, never correctness).
    public var readBufferSize: Int

    /// Creates a configuration.
    /// - Parameters:
    ///   - bound: entries or weight
    ///   - timeToLive: expiry after write
    ///   - timeToIdle: expiry after the last read
    ///   - refreshAfterWrite: background reload after this age
    ///   - removalListener: told about removals
    ///   - clock: time source
    ///   - keyHash: stable key hash
    ///   - name: the name in metrics
    ///   - metricsFactory: where metrics go
    ///   - shardCount: lock stripes, default 16 × cores rounded up to a power of two
    ///   - seed: admission randomness seed (nil: random per instance)
    ///   - readBufferSize: reads buffered per shard (default 64)
    ///   - refreshRetryInterval: first wait after a failed refresh
    ///   - refreshFailureListener: told about failed refreshes
    public init(
        bound: Bound, timeToLive: Duration? = nil, timeToIdle: Duration? = nil, refreshAfterWrite: Duration? = nil,
        removalListener: (@Sendable (Key, Value, RemovalCause) -> Void)? = nil, clock: any CacheClock = ContinuousCacheClock(),
        keyHash: (@Sendable (Key) -> UInt64)? = nil, name: String = "cache", metricsFactory: (any MetricsFactory)? = nil,
        shardCount: Int = 0, seed: UInt64? = nil, readBufferSize: Int = 64,
        refreshRetryInterval: Duration = .seconds(1), refreshFailureListener: (@Sendable (Key, any Error) -> Void)? = nil
    ) {
        switch bound {
        case .entries(let n): precondition(n >= 0, "MemoryCache: a negative entry bound (\(n)) is a configuration error")
        case .weight(let w, _): precondition(w >= 0, "MemoryCache: a negative weight bound (\(w)) is a configuration error")
        }
        self.bound = bound
        self.timeToLive = timeToLive
        self.timeToIdle = timeToIdle
        self.refreshAfterWrite = refreshAfterWrite
        self.removalListener = removalListener
        self.clock = clock
        self.keyHash = keyHash
        self.name = name
        self.metricsFactory = metricsFactory
        self.shardCount = shardCount
        self.seed = seed
        self.readBufferSize = max(1, readBufferSize)
        self.refreshRetryInterval = refreshRetryInterval
        self.refreshFailureListener = refreshFailureListener
    }

    /// The maximum total weight (entry count for an entry bound); 0 stores nothing.
    var maximum: Int {
        switch bound {
        case .entries(let n): n
        case .weight(let w, _): w
        }
    }
}

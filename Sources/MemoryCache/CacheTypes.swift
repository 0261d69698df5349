#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Why an entry left the cache (or never entered it).
public enum RemovalCause: String, Sendable, Hashable, CaseIterable {
    /// Its time-to-live, time-to-idle or own expiry passed.
    case expired
    /// The size policy evicted it to stay within the budget.
    case size
    /// It was removed or invalidated by a caller (by key, predicate, tag or all).
    case explicit
    /// A new value for its key replaced it.
    case replaced
    /// It was heavier than the whole budget and never stored.
    case rejected

    /// Its position in ``allCases`` (for per-cause counters kept in an array).
    @inlinable
    var index: Int {
        switch self {
        case .expired: 0
        case .size: 1
        case .explicit: 2
        case .replaced: 3
        case .rejected: 4
        }
    }

    /// Whether the cache removed it on its own (expiry or size), as opposed to a caller.
    public var wasEvicted: Bool { self == .expired || self == .size }
}

/// When a loaded or inserted entry expires, on top of the cache's time-to-live and time-to-idle
/// (the earliest applies). Times far in the future mean "never"; times in the past mean "already
/// expired" (the value is returned to its loader's callers but not kept). Nothing here traps.
public enum Expiry: Sendable, Hashable {
    /// No expiry of its own.
    case never
    /// After this long from now (e.g. "until the current hour's window closes").
    case after(Duration)
    /// At this instant of the monotonic clock (converted to the cache's clock when stored).
    case at(ContinuousClock.Instant)
    /// At this wall-clock time (e.g. the end of a calendar window), converted to the cache's clock
    /// when stored; a later change of the system's wall clock does not move it.
    case atWallClock(Date)
}

/// How a lookup was served.
public enum LookupOutcome: String, Sendable, Hashable, CaseIterable {
    /// A live entry was found.
    case hit
    /// This call ran the loader. Its value is in the cache unless the lookup's `generation` is nil
    /// (refused: heavier than the bound, already expired, or a cache bounded at 0).
    case loaded
    /// This call joined a load another caller started (stored or refused as for ``loaded``).
    case joined
    /// This call started or joined a load, but the key was invalidated (or a newer value inserted)
    /// while it ran: the value is what the load computed from data read before the invalidation,
    /// and the cache did not keep it. Only calls that began before the invalidation can see this;
    /// a call that starts after an invalidation returned never receives a superseded value.
    case superseded
}

/// A position in a cache's history of writes and invalidations: it grows with every store and
/// every invalidation, so a value computed elsewhere can be stored only if nothing newer happened
/// to its key since (``MemoryCache/insert(_:forKey:tags:expiry:weight:ifUnchangedSince:)``).
public struct CacheGeneration: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The raw counter.
    public let rawValue: UInt64

    /// Creates a generation from its raw counter.
    /// - Parameter rawValue: the counter
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Orders generations by time.
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    /// The counter, for logs.
    public var description: String { String(rawValue) }
}

/// A value with how it was served.
public struct CacheLookup<Value: Sendable>: Sendable {
    /// The value.
    public var value: Value
    /// How it was served.
    public var outcome: LookupOutcome
    /// The generation of the stored entry (nil when the value is not in the cache: superseded,
    /// or refused because it was heavier than the bound).
    public var generation: CacheGeneration?
    /// How long ago the value was stored (zero for a value just loaded, or not stored).
    public var age: Duration

    /// Creates a lookup result.
    /// - Parameters:
    ///   - value: the value
    ///   - outcome: how it was served
    ///   - generation: the stored entry's generation
    ///   - age: time since it was stored
    public init(value: Value, outcome: LookupOutcome, generation: CacheGeneration?, age: Duration) {
        self.value = value
        self.outcome = outcome
        self.generation = generation
        self.age = age
    }
}

/// What a loader returns: the value, and optionally its own expiry and weight.
public struct Loaded<Value: Sendable>: Sendable {
    /// The value.
    public var value: Value
    /// Its own expiry, on top of the cache's.
    public var expiry: Expiry
    /// Its weight (e.g. the result's byte size); nil: the cache's weigher decides. Only for a
    /// weight-bounded cache: an entry-bounded one counts entries, and an explicit weight there is a
    /// programming error (precondition).
    public var weight: Int?

    /// Creates a loaded value.
    /// - Parameters:
    ///   - value: the value
    ///   - expiry: its own expiry, default none
    ///   - weight: its weight, default the cache's weigher
    public init(_ value: Value, expiry: Expiry = .never, weight: Int? = nil) {
        self.value = value
        self.expiry = expiry
        self.weight = weight
    }
}

/// Errors of ``MemoryCache`` itself.
public enum MemoryCacheError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A loader asked for the key it is loading (directly or through other loads): waiting for
    /// itself would never end.
    case recursiveLoad(key: String)
    /// Loads that need each other (X's loader waits for Y while Y's loader waits for X, possibly
    /// across caches): this caller's wait would close the cycle, so it fails instead of hanging.
    case loadCycle(key: String)
    /// The caller's own wait limit passed before the load finished (the load goes on for the others).
    case loadTimedOut(key: String, after: Duration)

    /// A message for logs.
    public var description: String {
        switch self {
        case .recursiveLoad(let key): "recursive load of key \(key): a loader asked the cache for the key it is loading"
        case .loadCycle(let key): "load cycle at key \(key): loads in flight wait for each other"
        case .loadTimedOut(let key, let after): "load of key \(key) did not finish within \(after)"
        }
    }
}

/// A snapshot of a cache's counters since it was created.
public struct CacheStatistics: Sendable, Equatable {
    /// Reads that found a live entry.
    public var hits = 0
    /// Reads that found none (including expired entries).
    public var misses = 0
    /// Loads that returned a value.
    public var loadSuccesses = 0
    /// Loads that threw.
    public var loadFailures = 0
    /// Time spent in loads, successful or not.
    public var totalLoadTime: Duration = .zero
    /// Entries removed, by cause.
    public var removals: [RemovalCause: Int] = [:]
    /// Background refreshes (refresh-after-write) that stored their value or found it superseded.
    public var refreshSuccesses = 0
    /// Background refreshes that threw (the entry is kept; the next try waits for a backoff).
    public var refreshFailures = 0

    /// Lookups in all.
    public var requests: Int { hits + misses }
    /// Hits per lookup (1 when there were none).
    public var hitRatio: Double { requests == 0 ? 1 : Double(hits) / Double(requests) }
    /// Entries the cache removed on its own (size and expiry).
    public var evictions: Int { (removals[.size] ?? 0) + (removals[.expired] ?? 0) }
}

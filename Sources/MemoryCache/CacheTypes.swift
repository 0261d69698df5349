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

    /// Whether the cache removed it on its own (expiry or size), as opposed to a caller.
    public var wasEvicted: Bool { self == .expired || self == .size }
}

/// When a loaded or inserted entry expires, on top of the cache's time-to-live and time-to-idle
/// (the earliest applies).
public enum Expiry: Sendable, Hashable {
    /// No expiry of its own.
    case never
    /// After this long from now (e.g. "until the current hour's window closes").
    case after(Duration)
    /// At this time of the cache's clock (nanoseconds).
    case at(nanoseconds: Int64)
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

    /// A message for logs.
    public var description: String {
        switch self {
        case .recursiveLoad(let key): "recursive load of key \(key): a loader asked the cache for the key it is loading"
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

    /// Lookups in all.
    public var requests: Int { hits + misses }
    /// Hits per lookup (1 when there were none).
    public var hitRatio: Double { requests == 0 ? 1 : Double(hits) / Double(requests) }
    /// Entries the cache removed on its own (size and expiry).
    public var evictions: Int { (removals[.size] ?? 0) + (removals[.expired] ?? 0) }
}

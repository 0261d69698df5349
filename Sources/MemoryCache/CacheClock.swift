import Synchronization

/// The time source of a ``MemoryCache``: monotonic nanoseconds since an arbitrary origin.
///
/// Inject a ``ManualCacheClock`` in tests so expiry and refresh can be tested without sleeping.
public protocol CacheClock: Sendable {
    /// The current time in nanoseconds; never decreases.
    func nanoseconds() -> Int64
}

/// The system's monotonic clock (Swift's `ContinuousClock`).
public struct ContinuousCacheClock: CacheClock {
    private let origin = ContinuousClock.now

    /// Creates a clock whose time starts near zero.
    public init() {}

    /// Nanoseconds since the clock was created.
    public func nanoseconds() -> Int64 { nanosecondCount(of: origin.duration(to: .now)) }
}

/// A clock that moves only when told to.
public final class ManualCacheClock: CacheClock {
    private let time: Atomic<Int64>

    /// Creates a clock.
    /// - Parameter start: its initial time in nanoseconds
    public init(start: Int64 = 0) { time = Atomic(start) }

    /// The current time.
    public func nanoseconds() -> Int64 { time.load(ordering: .acquiring) }

    /// Moves the clock forward.
    /// - Parameter duration: how far; negative durations are ignored
    public func advance(by duration: Duration) {
        let delta = max(0, nanosecondCount(of: duration))
        time.add(delta, ordering: .acquiringAndReleasing)
    }
}

/// Whole nanoseconds of a duration, saturating at `Int64.max`.
@inlinable
func nanosecondCount(of duration: Duration) -> Int64 {
    let (seconds, attoseconds) = duration.components
    let (s, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
    if overflow { return seconds < 0 ? Int64.min : Int64.max }
    let (total, overflow2) = s.addingReportingOverflow(attoseconds / 1_000_000_000)
    return overflow2 ? Int64.max : total
}

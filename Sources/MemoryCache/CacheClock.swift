#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Synchronization

/// The time source of a ``MemoryCache``: monotonic nanoseconds since an arbitrary origin.
///
/// Inject a ``ManualCacheClock`` in tests so expiry and refresh can be tested without sleeping.
public protocol CacheClock: Sendable {
    /// The current time in nanoseconds; never decreases.
    func nanoseconds() -> Int64
    /// This clock's time at a monotonic instant (for ``Expiry/at(_:)``), saturating at the ends.
    /// The default measures the distance from now on `ContinuousClock`.
    func nanoseconds(at instant: ContinuousClock.Instant) -> Int64
    /// This clock's time at a wall-clock date (for ``Expiry/atWallClock(_:)``), saturating at the
    /// ends. The default measures the distance from the system's current wall time.
    func nanoseconds(atWallClock date: Date) -> Int64
}

extension CacheClock {
    /// Now plus the distance from `ContinuousClock.now` to `instant`, saturating.
    public func nanoseconds(at instant: ContinuousClock.Instant) -> Int64 {
        saturatingAdd(nanoseconds(), nanosecondCount(of: ContinuousClock.now.duration(to: instant)))
    }

    /// Now plus the distance from the system's wall time to `date`, saturating.
    public func nanoseconds(atWallClock date: Date) -> Int64 {
        saturatingAdd(nanoseconds(), nanosecondCount(seconds: date.timeIntervalSince(Date())))
    }
}

/// The system's monotonic clock (Swift's `ContinuousClock`).
public struct ContinuousCacheClock: CacheClock {
    private let origin = ContinuousClock.now

    /// Creates a clock whose time starts near zero.
    public init() {}

    /// Nanoseconds since the clock was created.
    public func nanoseconds() -> Int64 { nanosecondCount(of: origin.duration(to: .now)) }

    /// Nanoseconds from the clock's origin to `instant` (exact, no second reading of the clock).
    public func nanoseconds(at instant: ContinuousClock.Instant) -> Int64 {
        nanosecondCount(of: origin.duration(to: instant))
    }
}

/// A clock that moves only when told to. Its monotonic instants and wall-clock dates are fixed
/// origins plus its time, so ``Expiry/at(_:)`` and ``Expiry/atWallClock(_:)`` are deterministic too.
public final class ManualCacheClock: CacheClock {
    private let time: Atomic<Int64>
    private let start: Int64
    /// The monotonic instant of the clock's start.
    public let instantOrigin: ContinuousClock.Instant
    /// The wall-clock date of the clock's start.
    public let wallClockOrigin: Date

    /// Creates a clock.
    /// - Parameters:
    ///   - start: its initial time in nanoseconds
    ///   - wallClockOrigin: the wall-clock date at `start` (default 2026-01-01T00:00:00Z)
    public init(start: Int64 = 0, wallClockOrigin: Date = Date(timeIntervalSince1970: 1_767_225_600)) {
        time = Atomic(start)
        self.start = start
        instantOrigin = ContinuousClock.now
        self.wallClockOrigin = wallClockOrigin
    }

    /// The current time.
    public func nanoseconds() -> Int64 { time.load(ordering: .acquiring) }

    /// The monotonic instant that corresponds to the clock's current time.
    public var instant: ContinuousClock.Instant { instantOrigin + .nanoseconds(nanoseconds() - start) }

    /// The wall-clock date that corresponds to the clock's current time.
    public var wallClock: Date { wallClockOrigin + Double(nanoseconds() - start) / 1e9 }

    /// The clock's time at `instant` (relative to ``instantOrigin``).
    public func nanoseconds(at instant: ContinuousClock.Instant) -> Int64 {
        saturatingAdd(start, nanosecondCount(of: instantOrigin.duration(to: instant)))
    }

    /// The clock's time at `date` (relative to ``wallClockOrigin``).
    public func nanoseconds(atWallClock date: Date) -> Int64 {
        saturatingAdd(start, nanosecondCount(seconds: date.timeIntervalSince(wallClockOrigin)))
    }

    /// Moves the clock forward, saturating at `Int64.max` nanoseconds.
    /// - Parameter duration: how far; negative durations are ignored
    public func advance(by duration: Duration) {
        let delta = max(0, nanosecondCount(of: duration))
        var current = time.load(ordering: .acquiring)
        while true {
            let (exchanged, original) = time.compareExchange(
                expected: current, desired: saturatingAdd(current, delta), ordering: .acquiringAndReleasing)
            if exchanged { return }
            current = original
        }
    }
}

/// Whole nanoseconds of a duration, saturating at `Int64.min`/`Int64.max`.
@inlinable
func nanosecondCount(of duration: Duration) -> Int64 {
    let (seconds, attoseconds) = duration.components
    let (s, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
    if overflow { return seconds < 0 ? Int64.min : Int64.max }
    let (total, overflow2) = s.addingReportingOverflow(attoseconds / 1_000_000_000)
    return overflow2 ? (s < 0 ? Int64.min : Int64.max) : total
}

/// Whole nanoseconds of a number of seconds, saturating (NaN counts as zero).
func nanosecondCount(seconds: Double) -> Int64 {
    guard !seconds.isNaN else { return 0 }
    let ns = seconds * 1e9
    if ns >= 9.2e18 { return Int64.max }
    if ns <= -9.2e18 { return Int64.min }
    return Int64(ns)
}

/// `a + b`, saturating at the ends of `Int64`.
@inlinable
func saturatingAdd(_ a: Int64, _ b: Int64) -> Int64 {
    let (sum, overflow) = a.addingReportingOverflow(b)
    return overflow ? (b < 0 ? Int64.min : Int64.max) : sum
}

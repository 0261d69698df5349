import Foundation

/// A calendar unit whose boundaries end a result's life (a query over "today" expires at midnight
/// in its time zone, not after a fixed TTL).
public struct CalendarWindow: Sendable, Hashable {
    /// The unit.
    public enum Unit: String, Sendable, Hashable, Codable { case minute, hour, day, week, month }

    /// The unit whose end expires results.
    public var unit: Unit
    /// The IANA time zone the boundaries are in (default UTC).
    public var timeZone: String

    /// - Parameters:
    ///   - unit: the unit
    ///   - timeZone: an IANA name (default "UTC")
    public init(_ unit: Unit, timeZone: String = "UTC") {
        self.unit = unit
        self.timeZone = timeZone
    }

    /// The first boundary strictly after `date`.
    /// - Parameter date: now
    /// - Returns: the start of the next unit in the time zone (nil for an unknown time zone)
    public func nextBoundary(after date: Date) -> Date? {
        guard let zone = TimeZone(identifier: timeZone) else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        calendar.firstWeekday = 2  // ISO weeks start on Monday
        let component: Calendar.Component = switch unit {
        case .minute: .minute
        case .hour: .hour
        case .day: .day
        case .week: .weekOfYear
        case .month: .month
        }
        guard let interval = calendar.dateInterval(of: component, for: date) else { return nil }
        return interval.end
    }
}

/// The parameters that bound the event time a query covers (`[from, to)`): an event outside a
/// cached entry's range does not invalidate it. Parameters of type date (whole days) or integer
/// (µs since the Unix epoch).
public struct EventTimeRange: Sendable, Hashable {
    /// The parameter holding the start (inclusive).
    public var from: String
    /// The parameter holding the end (exclusive).
    public var to: String

    /// - Parameters:
    ///   - from: the start parameter's name
    ///   - to: the end parameter's name
    public init(from: String, to: String) {
        self.from = from
        self.to = to
    }

    /// Microseconds since the epoch of a date or integer value.
    static func microseconds(_ value: ParameterValue) -> Int64? {
        switch value {
        case .date(let days):
            // Saturating: a date far outside Int64 microseconds is before or after every event.
            let (product, overflow) = Int64(days).multipliedReportingOverflow(by: 86_400_000_000)
            return overflow ? (days < 0 ? Int64.min : Int64.max) : product
        case .integer(let micros):
            return micros
        default:
            return nil
        }
    }

    /// The day buckets (days since the epoch, UTC) an entry's range covers, or nil when it spans
    /// more than ``maxBuckets`` days (then it is tagged per event type only).
    static func days(from: Int64, to: Int64) -> ClosedRange<Int64>? {
        guard to > from else { return nil }
        let first = floorDiv(from, 86_400_000_000), last = floorDiv(to - 1, 86_400_000_000)
        return last - first < maxBuckets ? first...last : nil
    }

    /// The days of an entry's range: none when the range is empty (no event can change the
    /// result), a list when it is narrow, nil when it is too wide to list.
    enum Days: Equatable {
        case empty
        case list(ClosedRange<Int64>)
        case wide
    }

    static func entryDays(from: Int64, to: Int64) -> Days {
        guard to > from else { return .empty }
        return days(from: from, to: to).map { .list($0) } ?? .wide
    }

    /// The widest range tagged by day.
    static let maxBuckets: Int64 = 400

    /// Floor division for b > 0, without overflow at `Int64.min`.
    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let quotient = a / b
        return a % b != 0 && a < 0 ? quotient - 1 : quotient
    }
}

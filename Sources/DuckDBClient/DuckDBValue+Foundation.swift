import Foundation

extension DuckDBValue {
    /// A TIMESTAMP WITH TIME ZONE parameter from a `Date` (microsecond precision, rounded down).
    /// - Parameter date: the instant
    /// - Returns: the parameter
    public static func timestampTZ(_ date: Date) -> DuckDBValue {
        .timestampTZ(micros: Int64((date.timeIntervalSince1970 * 1_000_000).rounded(.down)))
    }

    /// A TIMESTAMP (no time zone) parameter holding a `Date`'s UTC wall-clock time.
    /// - Parameter date: the instant
    /// - Returns: the parameter
    public static func timestamp(_ date: Date) -> DuckDBValue {
        .timestamp(micros: Int64((date.timeIntervalSince1970 * 1_000_000).rounded(.down)))
    }
}

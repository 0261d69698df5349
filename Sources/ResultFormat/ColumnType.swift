/// The logical type of a result column, as the database reported it.
///
/// The type decides how a column's values are stored (see ``ColumnValues``) and how encoders format
/// them. Several logical types share a physical representation:
///
/// | logical type | stored as | notes |
/// |---|---|---|
/// | `hugeint`, `uhugeint` | `Double` | exact up to 2^53; encoders print integral values without a fraction |
/// | `decimal(width:scale:)` | `Double` | the nearest double to the exact decimal (relative error ≤ 1.2e-16 for widths ≤ 18) |
/// | `varchar`, `uuid`, `enumeration` | UTF-8 bytes + offsets | UUIDs in canonical 8-4-4-4-12 form |
/// | `date` | `Int32` days since 1970-01-01 | `Int32.max` / `-Int32.max` are ±infinity |
/// | `time` | `Int64` µs since midnight | TIME_NS is truncated to µs |
/// | `timestamp` | `Int64` µs since the epoch, no time zone | `_S`, `_MS`, `_NS` variants normalised to µs |
/// | `timestampTZ` | `Int64` µs since the epoch, UTC | |
/// | `interval` | ``Interval`` | months, days and µs kept apart, as in SQL |
public enum ColumnType: Sendable, Hashable {
    case boolean
    case int8, int16, int32, int64
    case uint8, uint16, uint32, uint64
    case hugeint, uhugeint
    case float, double
    case decimal(width: UInt8, scale: UInt8)
    case varchar, uuid, enumeration
    case blob
    case date, time, timestamp, timestampTZ
    case interval

    /// The SQL spelling of the type, as DuckDB writes it.
    public var sqlName: String {
        switch self {
        case .boolean: "BOOLEAN"
        case .int8: "TINYINT"
        case .int16: "SMALLINT"
        case .int32: "INTEGER"
        case .int64: "BIGINT"
        case .uint8: "UTINYINT"
        case .uint16: "USMALLINT"
        case .uint32: "UINTEGER"
        case .uint64: "UBIGINT"
        case .hugeint: "HUGEINT"
        case .uhugeint: "UHUGEINT"
        case .float: "FLOAT"
        case .double: "DOUBLE"
        case .decimal(let width, let scale): "DECIMAL(\(width),\(scale))"
        case .varchar: "VARCHAR"
        case .uuid: "UUID"
        case .enumeration: "ENUM"
        case .blob: "BLOB"
        case .date: "DATE"
        case .time: "TIME"
        case .timestamp: "TIMESTAMP"
        case .timestampTZ: "TIMESTAMP WITH TIME ZONE"
        case .interval: "INTERVAL"
        }
    }
}

/// A SQL interval: months, days and microseconds are kept apart because a month has no fixed
/// length and a day may not be 24 hours long across a time-zone change.
///
/// The layout matches DuckDB's `duckdb_interval` (and Arrow's month-day-nano interval up to the unit
/// of the last field).
public struct Interval: Sendable, Hashable {
    /// Whole months.
    public var months: Int32
    /// Whole days.
    public var days: Int32
    /// Microseconds.
    public var micros: Int64

    /// Creates an interval.
    /// - Parameters:
    ///   - months: whole months
    ///   - days: whole days
    ///   - micros: microseconds
    public init(months: Int32, days: Int32, micros: Int64) {
        self.months = months
        self.days = days
        self.micros = micros
    }
}

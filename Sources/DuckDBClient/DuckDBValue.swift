import CDuckDB
import ResultFormat

/// A typed parameter for a prepared statement. Values are bound, never spliced into SQL text.
public enum DuckDBValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case blob([UInt8])
    /// Days since 1970-01-01.
    case date(days: Int32)
    /// Microseconds since midnight.
    case time(micros: Int64)
    /// Microseconds since the epoch, no time zone.
    case timestamp(micros: Int64)
    /// Microseconds since the epoch, UTC.
    case timestampTZ(micros: Int64)
    case interval(Interval)
}

extension DuckDBValue: ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByStringLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByNilLiteral
{
    /// An integer parameter.
    public init(integerLiteral value: Int64) { self = .int(value) }
    /// A double parameter.
    public init(floatLiteral value: Double) { self = .double(value) }
    /// A string parameter.
    public init(stringLiteral value: String) { self = .string(value) }
    /// A boolean parameter.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// SQL NULL.
    public init(nilLiteral: ()) { self = .null }
}

extension DuckDBValue {
    /// Binds this value as parameter `index` (1-based) of `statement`.
    func bind(to statement: duckdb_prepared_statement, at index: Int) -> duckdb_state {
        let i = idx_t(index)
        switch self {
        case .null: return duckdb_bind_null(statement, i)
        case .bool(let v): return duckdb_bind_boolean(statement, i, v)
        case .int(let v): return duckdb_bind_int64(statement, i, v)
        case .double(let v): return duckdb_bind_double(statement, i, v)
        case .string(let v):
            return v.withCString { duckdb_bind_varchar_length(statement, i, $0, idx_t(v.utf8.count)) }
        case .blob(let v):
            return v.withUnsafeBytes { buf in
                guard let base = buf.baseAddress else { return duckdb_bind_blob(statement, i, "", 0) }
                return duckdb_bind_blob(statement, i, base, idx_t(buf.count))
            }
        case .date(let days): return duckdb_bind_date(statement, i, duckdb_date(days: days))
        case .time(let micros): return duckdb_bind_time(statement, i, duckdb_time(micros: micros))
        case .timestamp(let micros): return duckdb_bind_timestamp(statement, i, duckdb_timestamp(micros: micros))
        case .timestampTZ(let micros): return duckdb_bind_timestamp_tz(statement, i, duckdb_timestamp(micros: micros))
        case .interval(let v):
            return duckdb_bind_interval(statement, i, duckdb_interval(months: v.months, days: v.days, micros: v.micros))
        }
    }
}

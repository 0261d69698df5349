/// The logical type of a result column, as the database reported it.
///
/// The type decides how a column's values are stored (see ``ColumnValues``) and how encoders format
/// them. Several logical types share a physical representation:
///
/// | logical type | stored as | notes |
/// |---|---|---|
/// | `hugeint`, `decimal(width:scale:)` | `Int128` | exact; a DECIMAL holds its unscaled value (`1.25` in `DECIMAL(4,2)` is 125) |
/// | `uhugeint` | `UInt128` | exact |
/// | `varchar`, `uuid`, `enumeration` | UTF-8 bytes + offsets | UUIDs in canonical 8-4-4-4-12 form |
/// | `date` | `Int32` days since 1970-01-01 | `Int32.max` / `-Int32.max` are ±infinity |
/// | `time` | `Int64` µs since midnight | TIME_NS is truncated to µs |
/// | `timestamp` | `Int64` µs since the epoch, no time zone | `_S`, `_MS`, `_NS` variants normalised to µs |
/// | `timestampTZ` | `Int64` µs since the epoch, UTC | |
/// | `interval` | ``Interval`` | months, days and µs kept apart, as in SQL |
/// | `list(_:)` | ``ListValues`` | offsets into one element column (DuckDB's fixed-size ARRAY arrives as a LIST) |
/// | `structure(_:)` | ``StructValues`` | one column per field, each with the struct's row count |
/// | `map(key:value:)` | ``ListValues`` | a list of `STRUCT(key, value)` entries, as Arrow stores maps |
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
    /// A list of values of one type (`INTEGER[]`).
    indirect case list(ColumnType)
    /// A struct with named, typed fields (`STRUCT(a INTEGER, b VARCHAR)`).
    case structure([StructField])
    /// A map from keys to values (`MAP(VARCHAR, INTEGER)`).
    indirect case map(key: ColumnType, value: ColumnType)

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
        case .list(let element): element.sqlName + "[]"
        case .structure(let fields):
            "STRUCT(" + fields.map { Self.quotedIfNeeded($0.name) + " " + $0.type.sqlName }.joined(separator: ", ") + ")"
        case .map(let key, let value): "MAP(\(key.sqlName), \(value.sqlName))"
        }
    }

    /// A struct field name as DuckDB prints it: bare when it is a plain lower-case identifier.
    static func quotedIfNeeded(_ name: String) -> String {
        let plain = !name.isEmpty && name.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 }
            && !(name.utf8.first.map { $0 >= 48 && $0 <= 57 } ?? false)
        return plain ? name : "\"" + name.replacing("\"", with: "\"\"") + "\""
    }

    /// Whether the type holds other values (LIST, STRUCT, MAP).
    public var isNested: Bool {
        switch self {
        case .list, .structure, .map: true
        default: false
        }
    }

    /// How deeply types nest inside this one (0 for a scalar type).
    public var nestingDepth: Int {
        switch self {
        case .list(let element): 1 + element.nestingDepth
        case .map(let key, let value): 2 + max(key.nestingDepth, value.nestingDepth)
        case .structure(let fields): 1 + (fields.map(\.type.nestingDepth).max() ?? 0)
        default: 0
        }
    }

    /// Why Arrow (and so this module's reader) cannot hold this type, or nil: DECIMAL widths outside
    /// 1…38 or scales above the width, STRUCTs without fields, at any depth.
    public var arrowProblem: String? {
        switch self {
        case .decimal(let width, let scale):
            return width >= 1 && width <= 38 && scale <= width ? nil : "\(sqlName) is outside DECIMAL(1…38, 0…width)"
        case .list(let element): return element.arrowProblem
        case .map(let key, let value): return key.arrowProblem ?? value.arrowProblem
        case .structure(let fields):
            return fields.isEmpty ? "a STRUCT without fields" : fields.lazy.compactMap(\.type.arrowProblem).first
        default: return nil
        }
    }

    /// The entry type of a MAP's list: `STRUCT(key K, value V)`.
    public static func mapEntry(key: ColumnType, value: ColumnType) -> ColumnType {
        .structure([StructField(name: "key", type: key), StructField(name: "value", type: value)])
    }
}

/// One field of a STRUCT type.
public struct StructField: Sendable, Hashable {
    /// The field's name.
    public var name: String
    /// Its type.
    public var type: ColumnType

    /// Creates a field.
    /// - Parameters:
    ///   - name: the field's name
    ///   - type: its type
    public init(name: String, type: ColumnType) {
        self.name = name
        self.type = type
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

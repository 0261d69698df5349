import CDuckDB
import ResultFormat

/// Accumulates one result column from DuckDB vectors, converting to the ``ColumnValues`` layout.
///
/// Each vector becomes one part, sized exactly (fixed-width values are copied in bulk, strings of
/// at most 12 bytes are read from inside DuckDB's 16-byte `duckdb_string_t`, longer ones through its
/// pointer); ``finish(name:)`` joins the parts with one allocation per column, so a large result is
/// never re-copied by array growth. Null rows are never dereferenced and hold zero or empty values.
struct ColumnBuilder {
    enum Conversion {
        case bool, int8, int16, int32, int64, uint8, uint16, uint32, uint64, float, double
        case hugeint, uhugeint, uuid
        case decimal(storage: duckdb_type, divisor: Double)
        case date
        case time, timeNanos
        case timestamp(multiplier: Int64), timestampNanos
        case varchar, blob
        case enumeration(storage: duckdb_type, dictionary: VariableLengthValues)
        case interval
        case sqlNull
    }

    let type: ColumnType
    let conversion: Conversion
    private var validity = Validity()
    private var parts: [ColumnValues] = []

    init(type: ColumnType, conversion: Conversion) {
        self.type = type
        self.conversion = conversion
    }

    static func make(for logical: duckdb_logical_type, column: String) throws -> ColumnBuilder {
        try makeBuilder(for: logical, column: column)
    }

    private static func makeBuilder(for logical: duckdb_logical_type, column: String) throws -> ColumnBuilder {
        let id = duckdb_get_type_id(logical)
        switch id {
        case DUCKDB_TYPE_BOOLEAN: return .init(type: .boolean, conversion: .bool)
        case DUCKDB_TYPE_TINYINT: return .init(type: .int8, conversion: .int8)
        case DUCKDB_TYPE_SMALLINT: return .init(type: .int16, conversion: .int16)
        case DUCKDB_TYPE_INTEGER: return .init(type: .int32, conversion: .int32)
        case DUCKDB_TYPE_BIGINT: return .init(type: .int64, conversion: .int64)
        case DUCKDB_TYPE_UTINYINT: return .init(type: .uint8, conversion: .uint8)
        case DUCKDB_TYPE_USMALLINT: return .init(type: .uint16, conversion: .uint16)
        case DUCKDB_TYPE_UINTEGER: return .init(type: .uint32, conversion: .uint32)
        case DUCKDB_TYPE_UBIGINT: return .init(type: .uint64, conversion: .uint64)
        case DUCKDB_TYPE_HUGEINT: return .init(type: .hugeint, conversion: .hugeint)
        case DUCKDB_TYPE_UHUGEINT: return .init(type: .uhugeint, conversion: .uhugeint)
        case DUCKDB_TYPE_FLOAT: return .init(type: .float, conversion: .float)
        case DUCKDB_TYPE_DOUBLE: return .init(type: .double, conversion: .double)
        case DUCKDB_TYPE_DECIMAL:
            let width = duckdb_decimal_width(logical)
            let scale = duckdb_decimal_scale(logical)
            var divisor = 1.0
            for _ in 0..<scale { divisor *= 10 }
            return .init(
                type: .decimal(width: width, scale: scale),
                conversion: .decimal(storage: duckdb_decimal_internal_type(logical), divisor: divisor))
        case DUCKDB_TYPE_VARCHAR: return .init(type: .varchar, conversion: .varchar)
        case DUCKDB_TYPE_BLOB: return .init(type: .blob, conversion: .blob)
        case DUCKDB_TYPE_UUID: return .init(type: .uuid, conversion: .uuid)
        case DUCKDB_TYPE_ENUM:
            var dictionary = VariableLengthValues()
            for i in 0..<duckdb_enum_dictionary_size(logical) {
                guard let raw = duckdb_enum_dictionary_value(logical, idx_t(i)) else {
                    dictionary.appendEmpty()
                    continue
                }
                dictionary.append(utf8: String(cString: raw))
                duckdb_free(raw)
            }
            return .init(
                type: .enumeration,
                conversion: .enumeration(storage: duckdb_enum_internal_type(logical), dictionary: dictionary))
        case DUCKDB_TYPE_DATE: return .init(type: .date, conversion: .date)
        case DUCKDB_TYPE_TIME: return .init(type: .time, conversion: .time)
        case DUCKDB_TYPE_TIME_NS: return .init(type: .time, conversion: .timeNanos)
        case DUCKDB_TYPE_TIMESTAMP: return .init(type: .timestamp, conversion: .timestamp(multiplier: 1))
        case DUCKDB_TYPE_TIMESTAMP_S: return .init(type: .timestamp, conversion: .timestamp(multiplier: 1_000_000))
        case DUCKDB_TYPE_TIMESTAMP_MS: return .init(type: .timestamp, conversion: .timestamp(multiplier: 1000))
        case DUCKDB_TYPE_TIMESTAMP_NS: return .init(type: .timestamp, conversion: .timestampNanos)
        case DUCKDB_TYPE_TIMESTAMP_TZ: return .init(type: .timestampTZ, conversion: .timestamp(multiplier: 1))
        case DuckDBTypeID.timestampTZNanos: return .init(type: .timestampTZ, conversion: .timestampNanos)
        case DUCKDB_TYPE_INTERVAL: return .init(type: .interval, conversion: .interval)
        case DUCKDB_TYPE_SQLNULL: return .init(type: .int32, conversion: .sqlNull)
        default:
            throw DuckDBError(
                .unsupportedType,
                "column \"\(column)\" has type \(ResultReader.typeName(id)), which results cannot hold yet")
        }
    }

    /// Appends `count` rows of `vector`.
    mutating func append(vector: duckdb_vector, count: Int) {
        let mask = duckdb_vector_get_validity(vector)
        if let mask {
            validity.append(bitmap: UnsafePointer(mask), rowCount: count)
        } else {
            validity.appendValid(count)
        }
        if let data = duckdb_vector_get_data(vector) {
            parts.append(convert(data, count, ValidityView(mask: mask)))
        } else {
            parts.append(convert(nil, count, ValidityView(mask: nil)))
        }
    }

    /// One vector's values in this column's storage; `data == nil` gives zeros.
    private func convert(_ data: UnsafeMutableRawPointer?, _ count: Int, _ valid: ValidityView) -> ColumnValues {
        guard let data else { return Self.zeros(emptyValues, count) }
        switch conversion {
        case .bool:
            // DuckDB stores booleans as bytes holding 0 or 1, which is Swift's Bool layout.
            return .boolean(Self.copy(data, count, valid, zero: false))
        case .int8: return .int8(Self.copy(data, count, valid, zero: 0))
        case .int16: return .int16(Self.copy(data, count, valid, zero: 0))
        case .int32, .date: return .int32(Self.copy(data, count, valid, zero: 0))
        case .int64, .time, .timestamp(multiplier: 1): return .int64(Self.copy(data, count, valid, zero: 0))
        case .uint8: return .uint8(Self.copy(data, count, valid, zero: 0))
        case .uint16: return .uint16(Self.copy(data, count, valid, zero: 0))
        case .uint32: return .uint32(Self.copy(data, count, valid, zero: 0))
        case .uint64: return .uint64(Self.copy(data, count, valid, zero: 0))
        case .float: return .float(Self.copy(data, count, valid, zero: 0))
        case .double: return .double(Self.copy(data, count, valid, zero: 0))
        case .timestamp(let multiplier):
            return .int64(Self.map(data, as: Int64.self, count, valid, zero: 0) { v in
                if v == Int64.max || v == -Int64.max { return v }  // ±infinity stays ±infinity
                let (product, overflow) = v.multipliedReportingOverflow(by: multiplier)
                return overflow ? (v < 0 ? -Int64.max : Int64.max) : product
            })
        case .timestampNanos, .timeNanos:
            return .int64(Self.map(data, as: Int64.self, count, valid, zero: 0) { v in
                if v == Int64.max || v == -Int64.max { return v }
                let q = v / 1000
                return v % 1000 < 0 ? q - 1 : q  // round towards -infinity, like DuckDB's cast
            })
        case .hugeint:
            return .double(Self.map(data, as: duckdb_hugeint.self, count, valid, zero: 0) {
                Self.double(lower: $0.lower, upper: $0.upper)
            })
        case .uhugeint:
            return .double(Self.map(data, as: duckdb_uhugeint.self, count, valid, zero: 0) {
                Self.double(lower: $0.lower, unsignedUpper: $0.upper)
            })
        case .decimal(let storage, let divisor):
            switch storage {
            case DUCKDB_TYPE_SMALLINT:
                return .double(Self.map(data, as: Int16.self, count, valid, zero: 0) { Double($0) / divisor })
            case DUCKDB_TYPE_INTEGER:
                return .double(Self.map(data, as: Int32.self, count, valid, zero: 0) { Double($0) / divisor })
            case DUCKDB_TYPE_BIGINT:
                return .double(Self.map(data, as: Int64.self, count, valid, zero: 0) { Double($0) / divisor })
            default:
                return .double(Self.map(data, as: duckdb_hugeint.self, count, valid, zero: 0) {
                    Self.double(lower: $0.lower, upper: $0.upper) / divisor
                })
            }
        case .varchar: return .utf8(Self.strings(data, count, valid))
        case .blob: return .binary(Self.strings(data, count, valid))
        case .uuid:
            var values = VariableLengthValues()
            values.reserve(values: count, bytes: count * 36)
            for i in 0..<count {
                guard valid[i] else { values.appendEmpty(); continue }
                let (lower, upper) = Self.load128(data, i)
                Self.appendUUID(lower: lower, upper: upper, to: &values)
            }
            return .utf8(values)
        case .enumeration(let storage, let dictionary):
            var values = VariableLengthValues()
            values.reserve(values: count, bytes: 0)
            dictionary.bytes.withUnsafeBytes { all in
                for i in 0..<count {
                    guard valid[i] else { values.appendEmpty(); continue }
                    let index: Int
                    switch storage {
                    case DUCKDB_TYPE_UTINYINT: index = Int(data.load(fromByteOffset: i, as: UInt8.self))
                    case DUCKDB_TYPE_USMALLINT: index = Int(data.load(fromByteOffset: i * 2, as: UInt16.self))
                    default: index = Int(data.load(fromByteOffset: i * 4, as: UInt32.self))
                    }
                    guard index < dictionary.count else { values.appendEmpty(); continue }
                    values.append(UnsafeRawBufferPointer(rebasing: all[dictionary.range(at: index)]))
                }
            }
            return .utf8(values)
        case .interval:
            return .interval(Self.map(data, as: duckdb_interval.self, count, valid, zero: Interval(months: 0, days: 0, micros: 0)) {
                Interval(months: $0.months, days: $0.days, micros: $0.micros)
            })
        case .sqlNull:
            return Self.zeros(emptyValues, count)
        }
    }

    /// An empty value list of this column's storage kind.
    private var emptyValues: ColumnValues {
        switch conversion {
        case .bool: .boolean([])
        case .int8: .int8([])
        case .int16: .int16([])
        case .int32, .date, .sqlNull: .int32([])
        case .int64, .time, .timeNanos, .timestamp, .timestampNanos: .int64([])
        case .uint8: .uint8([])
        case .uint16: .uint16([])
        case .uint32: .uint32([])
        case .uint64: .uint64([])
        case .float: .float([])
        case .double, .hugeint, .uhugeint, .decimal: .double([])
        case .varchar, .uuid, .enumeration: .utf8(VariableLengthValues())
        case .blob: .binary(VariableLengthValues())
        case .interval: .interval([])
        }
    }

    /// The column: every part joined, with its validity (all null for an untyped NULL column).
    func finish(name: String) -> Column {
        let values = ColumnValues.concatenating(parts) ?? emptyValues
        if case .sqlNull = conversion {
            var allNull = Validity()
            allNull.appendNull(values.count)
            return Column(name: name, type: type, values: values, validity: allNull)
        }
        return Column(name: name, type: type, values: values, validity: validity)
    }
}

import CDuckDB
import ResultFormat

/// Accumulates one result column from DuckDB vectors, converting to the ``ColumnValues`` layout.
///
/// Fixed-width types are copied a vector at a time; variable-length types are copied value by
/// value (strings of at most 12 bytes live inside DuckDB's 16-byte `duckdb_string_t`, longer ones
/// behind its pointer). Null rows are never dereferenced and hold zero or empty values.
final class ColumnBuilder {
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
    private var bools: [Bool] = []
    private var i8: [Int8] = []
    private var i16: [Int16] = []
    private var i32: [Int32] = []
    private var i64: [Int64] = []
    private var u8: [UInt8] = []
    private var u16: [UInt16] = []
    private var u32: [UInt32] = []
    private var u64: [UInt64] = []
    private var f32: [Float] = []
    private var f64: [Double] = []
    private var bytes = VariableLengthValues()
    private var intervals: [Interval] = []

    init(type: ColumnType, conversion: Conversion) {
        self.type = type
        self.conversion = conversion
    }

    static func make(for logical: duckdb_logical_type, column: String) throws -> ColumnBuilder {
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
        case DUCKDB_TYPE_TIMESTAMP_TZ_NS: return .init(type: .timestampTZ, conversion: .timestampNanos)
        case DUCKDB_TYPE_INTERVAL: return .init(type: .interval, conversion: .interval)
        case DUCKDB_TYPE_SQLNULL: return .init(type: .int32, conversion: .sqlNull)
        default:
            throw DuckDBError(
                .unsupportedType,
                "column \"\(column)\" has type \(ResultReader.typeName(id)), which results cannot hold yet")
        }
    }

    /// Appends `count` rows of `vector`.
    func append(vector: duckdb_vector, count: Int) {
        let mask = duckdb_vector_get_validity(vector)
        if let mask {
            validity.append(bitmap: UnsafePointer(mask), rowCount: count)
        } else {
            validity.appendValid(count)
        }
        guard let data = duckdb_vector_get_data(vector) else {
            appendZeros(count)
            return
        }
        let valid = ValidityView(mask: mask)
        switch conversion {
        case .bool:
            // DuckDB stores booleans as bytes holding 0 or 1, which is Swift's Bool layout.
            Self.copy(data, count, into: &bools, valid: valid, zero: false)
        case .int8: Self.copy(data, count, into: &i8, valid: valid, zero: 0)
        case .int16: Self.copy(data, count, into: &i16, valid: valid, zero: 0)
        case .int32, .date: Self.copy(data, count, into: &i32, valid: valid, zero: 0)
        case .int64, .time, .timestamp(multiplier: 1): Self.copy(data, count, into: &i64, valid: valid, zero: 0)
        case .uint8: Self.copy(data, count, into: &u8, valid: valid, zero: 0)
        case .uint16: Self.copy(data, count, into: &u16, valid: valid, zero: 0)
        case .uint32: Self.copy(data, count, into: &u32, valid: valid, zero: 0)
        case .uint64: Self.copy(data, count, into: &u64, valid: valid, zero: 0)
        case .float: Self.copy(data, count, into: &f32, valid: valid, zero: 0)
        case .double: Self.copy(data, count, into: &f64, valid: valid, zero: 0)
        case .timestamp(let multiplier):
            let p = data.assumingMemoryBound(to: Int64.self)
            for i in 0..<count {
                let v = p[i]
                guard valid[i] else { i64.append(0); continue }
                if v == Int64.max || v == -Int64.max {
                    i64.append(v)  // ±infinity stays ±infinity
                } else {
                    let (product, overflow) = v.multipliedReportingOverflow(by: multiplier)
                    i64.append(overflow ? (v < 0 ? -Int64.max : Int64.max) : product)
                }
            }
        case .timestampNanos, .timeNanos:
            let p = data.assumingMemoryBound(to: Int64.self)
            for i in 0..<count {
                let v = p[i]
                guard valid[i] else { i64.append(0); continue }
                if v == Int64.max || v == -Int64.max {
                    i64.append(v)
                } else {
                    var q = v / 1000
                    if v % 1000 < 0 { q -= 1 }  // round towards -infinity, like DuckDB's cast
                    i64.append(q)
                }
            }
        case .hugeint, .uhugeint:
            let signed = if case .hugeint = conversion { true } else { false }
            for i in 0..<count {
                guard valid[i] else { f64.append(0); continue }
                let (lower, upper) = Self.load128(data, i)
                f64.append(signed ? Self.double(lower: lower, upper: upper) : Self.double(lower: lower, unsignedUpper: UInt64(bitPattern: upper)))
            }
        case .decimal(let storage, let divisor):
            for i in 0..<count {
                guard valid[i] else { f64.append(0); continue }
                let unscaled: Double
                switch storage {
                case DUCKDB_TYPE_SMALLINT: unscaled = Double(data.load(fromByteOffset: i * 2, as: Int16.self))
                case DUCKDB_TYPE_INTEGER: unscaled = Double(data.load(fromByteOffset: i * 4, as: Int32.self))
                case DUCKDB_TYPE_BIGINT: unscaled = Double(data.load(fromByteOffset: i * 8, as: Int64.self))
                default:
                    let (lower, upper) = Self.load128(data, i)
                    unscaled = Self.double(lower: lower, upper: upper)
                }
                f64.append(unscaled / divisor)
            }
        case .varchar, .blob:
            for i in 0..<count {
                guard valid[i] else { bytes.appendEmpty(); continue }
                let string = data + i * 16
                let length = Int(string.load(as: UInt32.self))
                if length <= 12 {
                    bytes.append(UnsafeRawBufferPointer(start: string + 4, count: length))
                } else {
                    let pointer = string.load(fromByteOffset: 8, as: UnsafeRawPointer?.self)
                    bytes.append(UnsafeRawBufferPointer(start: pointer, count: pointer == nil ? 0 : length))
                }
            }
        case .uuid:
            for i in 0..<count {
                guard valid[i] else { bytes.appendEmpty(); continue }
                let (lower, upper) = Self.load128(data, i)
                Self.appendUUID(lower: lower, upper: upper, to: &bytes)
            }
        case .enumeration(let storage, let dictionary):
            for i in 0..<count {
                guard valid[i] else { bytes.appendEmpty(); continue }
                let index: Int
                switch storage {
                case DUCKDB_TYPE_UTINYINT: index = Int(data.load(fromByteOffset: i, as: UInt8.self))
                case DUCKDB_TYPE_USMALLINT: index = Int(data.load(fromByteOffset: i * 2, as: UInt16.self))
                default: index = Int(data.load(fromByteOffset: i * 4, as: UInt32.self))
                }
                guard index < dictionary.count else { bytes.appendEmpty(); continue }
                dictionary.bytes.withUnsafeBytes { all in
                    bytes.append(UnsafeRawBufferPointer(rebasing: all[dictionary.range(at: index)]))
                }
            }
        case .interval:
            for i in 0..<count {
                guard valid[i] else { intervals.append(Interval(months: 0, days: 0, micros: 0)); continue }
                let base = i * 16
                intervals.append(Interval(
                    months: data.load(fromByteOffset: base, as: Int32.self),
                    days: data.load(fromByteOffset: base + 4, as: Int32.self),
                    micros: data.load(fromByteOffset: base + 8, as: Int64.self)))
            }
        case .sqlNull:
            i32.append(contentsOf: repeatElement(0, count: count))
        }
    }

    private func appendZeros(_ count: Int) {
        for _ in 0..<count { appendZero() }
    }

    private func appendZero() {
        switch conversion {
        case .bool: bools.append(false)
        case .int8: i8.append(0)
        case .int16: i16.append(0)
        case .int32, .date, .sqlNull: i32.append(0)
        case .int64, .time, .timeNanos, .timestamp, .timestampNanos: i64.append(0)
        case .uint8: u8.append(0)
        case .uint16: u16.append(0)
        case .uint32: u32.append(0)
        case .uint64: u64.append(0)
        case .float: f32.append(0)
        case .double, .hugeint, .uhugeint, .decimal: f64.append(0)
        case .varchar, .blob, .uuid, .enumeration: bytes.appendEmpty()
        case .interval: intervals.append(Interval(months: 0, days: 0, micros: 0))
        }
    }

    func finish(name: String) -> Column {
        let values: ColumnValues
        switch conversion {
        case .bool: values = .boolean(bools)
        case .int8: values = .int8(i8)
        case .int16: values = .int16(i16)
        case .int32, .date, .sqlNull: values = .int32(i32)
        case .int64, .time, .timeNanos, .timestamp, .timestampNanos: values = .int64(i64)
        case .uint8: values = .uint8(u8)
        case .uint16: values = .uint16(u16)
        case .uint32: values = .uint32(u32)
        case .uint64: values = .uint64(u64)
        case .float: values = .float(f32)
        case .double, .hugeint, .uhugeint, .decimal: values = .double(f64)
        case .varchar, .uuid, .enumeration: values = .utf8(bytes)
        case .blob: values = .binary(bytes)
        case .interval: values = .interval(intervals)
        }
        if case .sqlNull = conversion {
            var allNull = Validity()
            allNull.appendNull(values.count)
            return Column(name: name, type: type, values: values, validity: allNull)
        }
        return Column(name: name, type: type, values: values, validity: validity)
    }
}

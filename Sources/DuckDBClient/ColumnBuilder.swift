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
        case decimal(storage: duckdb_type)
        case date
        case time, timeNanos
        case timestamp(multiplier: Int64), timestampNanos
        case varchar, blob
        case enumeration(storage: duckdb_type, dictionary: VariableLengthValues)
        case interval
        case sqlNull
        /// LIST and MAP (a list of key-value structs): one child builder.
        case list
        /// Fixed-size ARRAY, held as a LIST.
        case array(size: Int)
        /// STRUCT: one child builder per field.
        case structure
    }

    let type: ColumnType
    let conversion: Conversion
    private var validity = Validity()
    private var parts: [ColumnValues] = []
    /// Nested columns: the element builder (LIST, MAP, ARRAY) or the field builders (STRUCT).
    private var children: [ColumnBuilder] = []
    /// LIST, MAP, ARRAY: `rows + 1` cumulative element offsets.
    private var listOffsets: [Int] = [0]

    init(type: ColumnType, conversion: Conversion, children: [ColumnBuilder] = []) {
        self.type = type
        self.conversion = conversion
        self.children = children
    }

    /// The bytes of values held so far, not counting children.
    private var heldBytes = 0
    /// How many more bytes of strings one vector may bring (the result cap's room), checked before
    /// they are copied; nil: no cap. Set by the reader before each vector, passed to children.
    var budget: Int? {
        didSet { for i in children.indices { children[i].budget = budget } }
    }

    /// The bytes this builder holds so far (for a result cap), nested children included.
    /// - Complexity: O(nested columns)
    var byteCount: Int {
        heldBytes + validity.words.count * 8 + listOffsets.count * 8 + children.reduce(0) { $0 + $1.byteCount }
    }

    /// A builder of the same column holding no rows (the next batch of a streamed result).
    func emptied() -> ColumnBuilder {
        ColumnBuilder(type: type, conversion: conversion, children: children.map { $0.emptied() })
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
            return .init(
                type: .decimal(width: duckdb_decimal_width(logical), scale: duckdb_decimal_scale(logical)),
                conversion: .decimal(storage: duckdb_decimal_internal_type(logical)))
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
        case DUCKDB_TYPE_LIST:
            let element = try child(duckdb_list_type_child_type(logical), column: column)
            return .init(type: .list(element.type), conversion: .list, children: [element])
        case DUCKDB_TYPE_ARRAY:
            let element = try child(duckdb_array_type_child_type(logical), column: column)
            return .init(type: .list(element.type), conversion: .array(size: Int(duckdb_array_type_array_size(logical))), children: [element])
        case DUCKDB_TYPE_MAP:
            let key = try child(duckdb_map_type_key_type(logical), column: column)
            let value = try child(duckdb_map_type_value_type(logical), column: column)
            let entry = ColumnBuilder(type: .mapEntry(key: key.type, value: value.type), conversion: .structure, children: [key, value])
            return .init(type: .map(key: key.type, value: value.type), conversion: .list, children: [entry])
        case DUCKDB_TYPE_STRUCT:
            var fields: [StructField] = []
            var builders: [ColumnBuilder] = []
            for i in 0..<duckdb_struct_type_child_count(logical) {
                let name = duckdb_struct_type_child_name(logical, i).map { raw in
                    defer { duckdb_free(raw) }
                    return String(cString: raw)
                } ?? "f\(i)"
                let builder = try child(duckdb_struct_type_child_type(logical, i), column: column)
                fields.append(StructField(name: name, type: builder.type))
                builders.append(builder)
            }
            return .init(type: .structure(fields), conversion: .structure, children: builders)
        default:
            throw DuckDBError(
                .unsupportedType,
                "column \"\(column)\" has type \(ResultReader.typeName(id)), which results cannot hold yet")
        }
    }

    /// The builder of a nested type's child (the logical type is destroyed here).
    private static func child(_ logical: duckdb_logical_type?, column: String) throws -> ColumnBuilder {
        var owned = logical
        defer { duckdb_destroy_logical_type(&owned) }
        guard let logical else { throw DuckDBError(.execute, "no child type in column \(column)") }
        return try makeBuilder(for: logical, column: column)
    }

    /// Appends `count` rows of `vector`.
    /// - Throws: ``DuckDBError`` when a list entry points outside its child vector
    mutating func append(vector: duckdb_vector, count: Int) throws {
        let mask = duckdb_vector_get_validity(vector)
        if let mask {
            validity.append(bitmap: UnsafePointer(mask), rowCount: count)
        } else {
            validity.appendValid(count)
        }
        let valid = ValidityView(mask: mask)
        switch conversion {
        case .structure:
            for i in children.indices {
                if let field = duckdb_struct_vector_get_child(vector, idx_t(i)) { try children[i].append(vector: field, count: count) }
            }
            return
        case .list:
            guard let data = duckdb_vector_get_data(vector), let child = duckdb_list_vector_get_child(vector) else {
                for _ in 0..<count { listOffsets.append(listOffsets[listOffsets.count - 1]) }
                return
            }
            let entries = data.assumingMemoryBound(to: duckdb_list_entry.self)
            try appendLists(child: child, childSize: Int(clamping: duckdb_list_vector_get_size(vector)), count: count, valid: valid) {
                (Int(clamping: entries[$0].offset), Int(clamping: entries[$0].length))
            }
            return
        case .array(let size):
            guard let child = duckdb_array_vector_get_child(vector) else {
                for _ in 0..<count { listOffsets.append(listOffsets[listOffsets.count - 1]) }
                return
            }
            try appendLists(child: child, childSize: count * size, count: count, valid: valid) { ($0 * size, size) }
            return
        default:
            break
        }
        if let data = duckdb_vector_get_data(vector) {
            let part = try convert(data, count, ValidityView(mask: mask))
            heldBytes += Column(unchecked: "", type: type, values: part).byteCount
            parts.append(part)
        } else {
            parts.append(try convert(nil, count, ValidityView(mask: nil)))
        }
    }

    /// Appends the lists of `count` rows whose elements lie in `child` (`entry(row)` gives each
    /// row's offset and length there). Elements usually lie back to back from 0 and are copied in
    /// one pass; otherwise (a constant vector flattened, a null ARRAY's slots) DuckDB gathers the
    /// rows' elements into a fresh vector first.
    private mutating func appendLists(
        child: duckdb_vector, childSize: Int, count: Int, valid: ValidityView, entry: (Int) -> (offset: Int, length: Int)
    ) throws {
        var expected = 0
        var sequential = true
        var total = 0
        var base = listOffsets[listOffsets.count - 1]
        for row in 0..<count {
            if valid[row] {
                let (offset, length) = entry(row)
                let (end, overflow) = offset.addingReportingOverflow(length)
                guard offset >= 0, length >= 0, !overflow, end <= childSize, total <= Int(UInt32.max) - length else {
                    throw DuckDBError(.execute, "a list entry of \(type.sqlName) (\(offset), \(length)) lies outside its \(childSize) elements")
                }
                if offset != expected { sequential = false }
                expected = offset + length
                total += length
                base += length
            }
            listOffsets.append(base)  // a null row holds no elements
        }
        if sequential {
            try children[0].append(vector: child, count: total)
            return
        }
        guard total > 0, let sel = duckdb_create_selection_vector(idx_t(total)) else { return }
        defer { duckdb_destroy_selection_vector(sel) }
        if let target = duckdb_selection_vector_get_data_ptr(sel) {
            var i = 0
            for row in 0..<count where valid[row] {
                let (offset, length) = entry(row)
                for element in offset..<(offset + length) {
                    target[i] = sel_t(element)
                    i += 1
                }
            }
        }
        var logical: duckdb_logical_type? = duckdb_vector_get_column_type(child)
        defer { duckdb_destroy_logical_type(&logical) }
        guard let logical else { return }
        var gathered: duckdb_vector? = duckdb_create_vector(logical, idx_t(total))
        defer { duckdb_destroy_vector(&gathered) }
        guard let gathered else { return }
        duckdb_vector_copy_sel(child, gathered, sel, idx_t(total), 0, 0)
        try children[0].append(vector: gathered, count: total)
    }

    /// One vector's values in this column's storage; `data == nil` gives zeros.
    private func convert(_ data: UnsafeMutableRawPointer?, _ count: Int, _ valid: ValidityView) throws -> ColumnValues {
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
            return .int128(Self.map(data, as: duckdb_hugeint.self, count, valid, zero: 0) {
                Int128($0.upper) << 64 | Int128($0.lower)
            })
        case .uhugeint:
            return .uint128(Self.map(data, as: duckdb_uhugeint.self, count, valid, zero: 0) {
                UInt128($0.upper) << 64 | UInt128($0.lower)
            })
        case .decimal(let storage):
            switch storage {
            case DUCKDB_TYPE_SMALLINT: return .int128(Self.map(data, as: Int16.self, count, valid, zero: 0) { Int128($0) })
            case DUCKDB_TYPE_INTEGER: return .int128(Self.map(data, as: Int32.self, count, valid, zero: 0) { Int128($0) })
            case DUCKDB_TYPE_BIGINT: return .int128(Self.map(data, as: Int64.self, count, valid, zero: 0) { Int128($0) })
            default:
                return .int128(Self.map(data, as: duckdb_hugeint.self, count, valid, zero: 0) {
                    Int128($0.upper) << 64 | Int128($0.lower)
                })
            }
        case .varchar: return .utf8(try Self.strings(data, count, valid, budget: budget))
        case .blob: return .binary(try Self.strings(data, count, valid, budget: budget))
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
        case .list, .array, .structure:
            return emptyValues  // handled in append(vector:count:)
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
        case .double: .double([])
        case .hugeint, .decimal: .int128([])
        case .uhugeint: .uint128([])
        case .list, .array, .structure: .int32([])  // not used: nested columns finish from their children
        case .varchar, .uuid, .enumeration: .utf8(VariableLengthValues())
        case .blob: .binary(VariableLengthValues())
        case .interval: .interval([])
        }
    }

    /// The column: every part joined, with its validity (all null for an untyped NULL column).
    func finish(name: String) -> Column {
        switch conversion {
        case .list, .array:
            let elements = children[0].finish(name: type.arrowElementName)
            return Column(unchecked: name, type: type, values: .list(ListValues(unchecked: listOffsets, elements: elements)), validity: validity)
        case .structure:
            guard case .structure(let fields) = type else { break }
            let columns = zip(children, fields).map { $0.finish(name: $1.name) }
            return Column(unchecked: name, type: type, values: .structure(StructValues(unchecked: validity.count, fields: columns)), validity: validity)
        default:
            break
        }
        let values = ColumnValues.concatenating(parts) ?? emptyValues
        if case .sqlNull = conversion {
            var allNull = Validity()
            allNull.appendNull(values.count)
            return Column(unchecked: name, type: type, values: values, validity: allNull)
        }
        return Column(unchecked: name, type: type, values: values, validity: validity)
    }
}

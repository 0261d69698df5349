/// Reading raw columns back as values: one row as a ``Value`` and whole arrays as ``Column``s, for
/// both storage layouts (Arrow buffers of an archive, Swift arrays of a ``QueryResult``), nested
/// columns included. Offsets are checked on every read.
extension RawColumn {
    /// Row `row` as a ``Value``.
    func value(_ row: Int) throws -> Value {
        if isNull(row) { return .null }
        switch type {
        case .boolean: return .bool(bool(row))
        case .int8: return .int(Int64(load(row, as: Int8.self)))
        case .int16: return .int(Int64(load(row, as: Int16.self)))
        case .int32: return .int(Int64(load(row, as: Int32.self)))
        case .int64: return .int(load(row, as: Int64.self))
        case .uint8: return .uint(UInt64(load(row, as: UInt8.self)))
        case .uint16: return .uint(UInt64(load(row, as: UInt16.self)))
        case .uint32: return .uint(UInt64(load(row, as: UInt32.self)))
        case .uint64: return .uint(load(row, as: UInt64.self))
        case .float: return .double(Double(load(row, as: Float.self)))
        case .double: return .double(load(row, as: Double.self))
        case .hugeint: return .hugeint(load(row, as: Int128.self))
        case .uhugeint: return .uhugeint(load(row, as: UInt128.self))
        case .decimal(_, let scale): return .decimal(ExactDecimal(unscaled: load(row, as: Int128.self), scale: scale))
        case .varchar, .uuid, .enumeration:
            let bytes = try bytes(row)
            guard let string = String(validating: bytes, as: UTF8.self) else {
                throw ArchiveError(.invalidData, "row \(row) of a column is not valid UTF-8")
            }
            return .string(string)
        case .blob: return .blob(Array(try bytes(row)))
        case .date: return .date(load(row, as: Int32.self))
        case .time: return .time(load(row, as: Int64.self))
        case .timestamp: return .timestamp(load(row, as: Int64.self))
        case .timestampTZ: return .timestampTZ(load(row, as: Int64.self))
        case .interval: return .interval(interval(row))
        case .list:
            let range = try listRange(row)
            try children[0].checkMonotone(range)
            return .list(try range.map { try children[0].value($0) })
        case .structure(let fields):
            return .structure(names: fields.map(\.name), values: try children.map { try $0.value(row) })
        case .map:
            let range = try listRange(row)
            let entries = children[0]
            try entries.checkMonotone(range)
            return .map(keys: try range.map { try entries.children[0].value($0) }, values: try range.map { try entries.children[1].value($0) })
        }
    }

    /// Rows `rows` copied into a ``Column`` (null rows hold zero values, as ``QueryResult`` documents).
    func column(name: String, rows: Range<Int>) throws -> Column {
        try checkMonotone(rows)
        var validity = Validity()
        for row in rows { validity.append(!isNull(row)) }
        let hasNulls = validity.nullCount > 0
        func read<T>(_ zero: T, _ get: (Int) -> T) -> [T] {
            rows.map { hasNulls && isNull($0) ? zero : get($0) }
        }
        let values: ColumnValues
        switch type {
        case .boolean: values = .boolean(read(false) { bool($0) })
        case .int8: values = .int8(read(0) { load($0, as: Int8.self) })
        case .int16: values = .int16(read(0) { load($0, as: Int16.self) })
        case .int32, .date: values = .int32(read(0) { load($0, as: Int32.self) })
        case .int64, .time, .timestamp, .timestampTZ: values = .int64(read(0) { load($0, as: Int64.self) })
        case .uint8: values = .uint8(read(0) { load($0, as: UInt8.self) })
        case .uint16: values = .uint16(read(0) { load($0, as: UInt16.self) })
        case .uint32: values = .uint32(read(0) { load($0, as: UInt32.self) })
        case .uint64: values = .uint64(read(0) { load($0, as: UInt64.self) })
        case .float: values = .float(read(0) { load($0, as: Float.self) })
        case .double: values = .double(read(0) { load($0, as: Double.self) })
        case .hugeint, .decimal: values = .int128(read(0) { load($0, as: Int128.self) })
        case .uhugeint: values = .uint128(read(0) { load($0, as: UInt128.self) })
        case .interval: values = .interval(read(Interval(months: 0, days: 0, micros: 0)) { interval($0) })
        case .varchar, .uuid, .enumeration, .blob:
            var v = VariableLengthValues()
            for row in rows {
                if isNull(row) { v.appendEmpty() } else { v.append(try bytes(row)) }
            }
            values = type == .blob ? .binary(v) : .utf8(v)
        case .list, .map:
            var offsets = [0]
            offsets.reserveCapacity(rows.count + 1)
            // Element columns are named as Arrow names them (`l`, a MAP's `entries`).
            let childName = type.arrowChildren[0].name
            var ranges: [Range<Int>] = []
            ranges.reserveCapacity(rows.count)
            for row in rows {
                let range = isNull(row) ? 0..<0 : try listRange(row)
                offsets.append(offsets[offsets.count - 1] + range.count)
                if !range.isEmpty { ranges.append(range) }
            }
            let elements: Column
            if let first = ranges.first, let last = ranges.last,
               zip(ranges, ranges.dropFirst()).allSatisfy({ $0.upperBound == $1.lowerBound })
            {
                // The usual layout: the lists' elements back to back, read in one pass.
                elements = try children[0].column(name: childName, rows: first.lowerBound..<last.upperBound)
            } else {
                let parts = try ranges.map { try children[0].column(name: childName, rows: $0) }
                elements = try Column.concatenating(parts) ?? children[0].column(name: childName, rows: 0..<0)
            }
            values = .list(ListValues(unchecked: offsets, elements: elements))
        case .structure(let fields):
            var columns: [Column] = []
            for (i, field) in fields.enumerated() { columns.append(try children[i].column(name: field.name, rows: rows)) }
            values = .structure(StructValues(unchecked: rows.count, fields: columns))
        }
        return Column(unchecked: name, type: type, values: values, validity: hasNulls ? validity : nil)
    }
}

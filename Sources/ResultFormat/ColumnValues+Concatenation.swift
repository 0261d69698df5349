extension ColumnValues {
    /// An empty value list of the same kind as `self`.
    public var emptyOfSameKind: ColumnValues {
        switch self {
        case .boolean: .boolean([])
        case .int8: .int8([])
        case .int16: .int16([])
        case .int32: .int32([])
        case .int64: .int64([])
        case .uint8: .uint8([])
        case .uint16: .uint16([])
        case .uint32: .uint32([])
        case .uint64: .uint64([])
        case .float: .float([])
        case .double: .double([])
        case .utf8: .utf8(VariableLengthValues())
        case .binary: .binary(VariableLengthValues())
        case .interval: .interval([])
        case .int128: .int128([])
        case .uint128: .uint128([])
        case .list(let v):
            .list(ListValues(unchecked: [0], elements: Column(unchecked: v.elements.name, type: v.elements.type, values: v.elements.values.emptyOfSameKind)))
        case .structure(let v):
            .structure(StructValues(unchecked: 0, fields: v.fields.map {
                Column(unchecked: $0.name, type: $0.type, values: $0.values.emptyOfSameKind)
            }))
        }
    }

    /// Joins parts of one kind into one value list, allocating the result once at its exact size.
    /// - Parameter parts: value lists that are all of the same kind (e.g. one per DuckDB chunk)
    /// - Returns: the concatenation, or `nil` when `parts` is empty or mixes kinds
    /// - Complexity: O(total values + total bytes)
    public static func concatenating(_ parts: [ColumnValues]) -> ColumnValues? {
        guard let first = parts.first else { return nil }
        if parts.count == 1 { return first }
        func join<T>(_ extract: (ColumnValues) -> [T]?) -> [T]? {
            var total = 0
            var arrays: [[T]] = []
            arrays.reserveCapacity(parts.count)
            for part in parts {
                guard let a = extract(part) else { return nil }
                total += a.count
                arrays.append(a)
            }
            var out: [T] = []
            out.reserveCapacity(total)
            for a in arrays { out.append(contentsOf: a) }
            return out
        }
        func joinVariable(_ extract: (ColumnValues) -> VariableLengthValues?) -> VariableLengthValues? {
            var pieces: [VariableLengthValues] = []
            pieces.reserveCapacity(parts.count)
            var values = 0
            var bytes = 0
            for part in parts {
                guard let v = extract(part) else { return nil }
                values += v.count
                bytes += v.bytes.count
                pieces.append(v)
            }
            let offsets = [Int](unsafeUninitializedCapacity: values + 1) { out, initialized in
                out.initializeElement(at: 0, to: 0)
                var next = 1
                var base = 0
                for piece in pieces {
                    piece.offsets.withUnsafeBufferPointer { source in
                        for i in 1..<source.count {
                            out.initializeElement(at: next, to: source[i] + base)
                            next += 1
                        }
                    }
                    base += piece.bytes.count
                }
                initialized = next
            }
            var data: [UInt8] = []
            data.reserveCapacity(bytes)
            for piece in pieces { data.append(contentsOf: piece.bytes) }
            return VariableLengthValues(unchecked: offsets, bytes: data)
        }
        switch first {
        case .boolean: return join { if case .boolean(let v) = $0 { v } else { nil } }.map(ColumnValues.boolean)
        case .int8: return join { if case .int8(let v) = $0 { v } else { nil } }.map(ColumnValues.int8)
        case .int16: return join { if case .int16(let v) = $0 { v } else { nil } }.map(ColumnValues.int16)
        case .int32: return join { if case .int32(let v) = $0 { v } else { nil } }.map(ColumnValues.int32)
        case .int64: return join { if case .int64(let v) = $0 { v } else { nil } }.map(ColumnValues.int64)
        case .uint8: return join { if case .uint8(let v) = $0 { v } else { nil } }.map(ColumnValues.uint8)
        case .uint16: return join { if case .uint16(let v) = $0 { v } else { nil } }.map(ColumnValues.uint16)
        case .uint32: return join { if case .uint32(let v) = $0 { v } else { nil } }.map(ColumnValues.uint32)
        case .uint64: return join { if case .uint64(let v) = $0 { v } else { nil } }.map(ColumnValues.uint64)
        case .float: return join { if case .float(let v) = $0 { v } else { nil } }.map(ColumnValues.float)
        case .double: return join { if case .double(let v) = $0 { v } else { nil } }.map(ColumnValues.double)
        case .interval: return join { if case .interval(let v) = $0 { v } else { nil } }.map(ColumnValues.interval)
        case .utf8: return joinVariable { if case .utf8(let v) = $0 { v } else { nil } }.map(ColumnValues.utf8)
        case .binary: return joinVariable { if case .binary(let v) = $0 { v } else { nil } }.map(ColumnValues.binary)
        case .int128: return join { if case .int128(let v) = $0 { v } else { nil } }.map(ColumnValues.int128)
        case .uint128: return join { if case .uint128(let v) = $0 { v } else { nil } }.map(ColumnValues.uint128)
        case .list:
            var lists: [ListValues] = []
            for part in parts {
                guard case .list(let v) = part else { return nil }
                lists.append(v)
            }
            var offsets = [0]
            offsets.reserveCapacity(lists.reduce(1) { $0 + $1.count })
            for list in lists {
                let base = offsets[offsets.count - 1]
                offsets.append(contentsOf: list.offsets.dropFirst().map { $0 + base })
            }
            guard let elements = Column.concatenating(lists.map(\.elements)) else { return nil }
            return .list(ListValues(unchecked: offsets, elements: elements))
        case .structure(let first):
            var structs: [StructValues] = []
            for part in parts {
                guard case .structure(let v) = part, v.fields.count == first.fields.count else { return nil }
                structs.append(v)
            }
            var fields: [Column] = []
            for f in first.fields.indices {
                guard let field = Column.concatenating(structs.map { $0.fields[f] }) else { return nil }
                fields.append(field)
            }
            return .structure(StructValues(unchecked: structs.reduce(0) { $0 + $1.count }, fields: fields))
        }
    }
}

extension Column {
    /// Joins columns of one name and type (parts of one result) into one.
    /// - Parameter parts: columns of the same type
    /// - Returns: the concatenation, or `nil` when `parts` is empty or mixes types
    public static func concatenating(_ parts: [Column]) -> Column? {
        guard let first = parts.first, parts.allSatisfy({ $0.type == first.type }),
              let values = ColumnValues.concatenating(parts.map(\.values))
        else { return nil }
        var validity: Validity?
        if parts.contains(where: { $0.validity != nil }) {
            var joined = Validity()
            for part in parts {
                if let v = part.validity {
                    v.words.withUnsafeBufferPointer { words in
                        if let base = words.baseAddress { joined.append(bitmap: base, rowCount: v.count) }
                    }
                } else {
                    joined.appendValid(part.count)
                }
            }
            validity = joined
        }
        return Column(unchecked: first.name, type: first.type, values: values, validity: validity)
    }
}

extension ArchivedResult {
    /// Checks every value-level rule opening does not: string and blob offsets start at or after 0,
    /// never decrease and stay inside their data; every VARCHAR value is valid UTF-8; each declared
    /// null count matches its bitmap.
    ///
    /// After this succeeds, no accessor of this archive throws.
    /// - Throws: ``ArchiveError`` naming the first broken rule, column and row
    /// - Complexity: O(bytes)
    public func validate() throws {
        try withBytes { bytes in
            for (b, length) in batchLengths.enumerated() {
                for (c, field) in fields.enumerated() {
                    let buffers = self.buffers(batch: b, column: c)
                    if let validity = buffers.validity {
                        let valid = Self.countSetBits(bytes, from: validity, bits: length)
                        guard length - valid == buffers.nullCount else {
                            throw ArchiveError(.inconsistent, "column \"\(field.name)\" declares \(buffers.nullCount) nulls, its bitmap has \(length - valid)")
                        }
                    }
                    guard field.type.physicalLayout == .variable, length > 0 else { continue }
                    let checkUTF8 = field.type != .blob
                    var previous = Int(Int32.load(from: bytes, at: buffers.values.lowerBound))
                    guard previous >= 0 else {
                        throw ArchiveError(.invalidData, "column \"\(field.name)\" has a negative first offset")
                    }
                    for row in 0..<length {
                        let end = Int(Int32.load(from: bytes, at: buffers.values.lowerBound + 4 * (row + 1)))
                        guard previous <= end, end <= buffers.data.count else {
                            throw ArchiveError(.invalidData, "row \(row) of column \"\(field.name)\" has offsets \(previous)..\(end) outside its \(buffers.data.count) bytes")
                        }
                        if checkUTF8 {
                            let value = UnsafeRawBufferPointer(rebasing: bytes[(buffers.data.lowerBound + previous)..<(buffers.data.lowerBound + end)])
                            guard Self.isValidUTF8(value) else {
                                throw ArchiveError(.invalidData, "row \(row) of column \"\(field.name)\" is not valid UTF-8")
                            }
                        }
                        previous = end
                    }
                }
            }
        }
    }

    /// The number of set bits among the first `bits` bits starting at byte `from`.
    static func countSetBits(_ bytes: UnsafeRawBufferPointer, from start: Int, bits: Int) -> Int {
        var count = 0
        let wholeBytes = bits / 8
        var i = 0
        while i + 8 <= wholeBytes {
            count += UInt64.load(from: bytes, at: start + i).nonzeroBitCount
            i += 8
        }
        while i < wholeBytes {
            count += bytes[start + i].nonzeroBitCount
            i += 1
        }
        let rest = bits & 7
        if rest > 0 { count += (bytes[start + wholeBytes] & UInt8((1 << rest) - 1)).nonzeroBitCount }
        return count
    }

    /// The length of the ASCII prefix of the bytes (checked eight bytes at a time).
    @inline(__always)
    static func asciiPrefix(_ bytes: UnsafeRawBufferPointer) -> Int {
        var i = 0
        while i + 8 <= bytes.count, UInt64.load(from: bytes, at: i) & 0x8080_8080_8080_8080 == 0 { i += 8 }
        while i < bytes.count, bytes[i] < 0x80 { i += 1 }
        return i
    }

    /// Whether the bytes are all ASCII.
    static func isASCII(_ bytes: UnsafeRawBufferPointer) -> Bool { asciiPrefix(bytes) == bytes.count }

    /// Whether the bytes are valid UTF-8.
    static func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let i = asciiPrefix(bytes)
        if i == bytes.count { return true }
        return String(validating: UnsafeRawBufferPointer(rebasing: bytes[i...]), as: UTF8.self) != nil
    }

    /// Copies the archive into a ``QueryResult``.
    /// - Returns: the same columns, types, values and nulls
    /// - Throws: ``ArchiveError`` for malformed offsets (intervals' nanoseconds are truncated to µs)
    /// - Complexity: O(bytes)
    public func materialize() throws -> QueryResult {
        var columns: [Column] = []
        for c in 0..<fields.count {
            let column = self.column(c)
            var validity = Validity()
            for row in 0..<rowCount { validity.append(!column.isNull(row)) }
            let values: ColumnValues
            let hasNulls = validity.nullCount > 0
            // Null rows read as zero, as QueryResult documents, whatever the writer left there.
            func read<V: RandomAccessCollection>(_ view: V, zero: V.Element) -> [V.Element] where V.Index == Int {
                hasNulls ? view.indices.map { column.isNull($0) ? zero : view[$0] } : Array(view)
            }
            switch column.type {
            case .boolean: values = .boolean(read(try column.booleans(), zero: false))
            case .int8: values = .int8(read(try column.values(Int8.self), zero: 0))
            case .int16: values = .int16(read(try column.values(Int16.self), zero: 0))
            case .int32, .date: values = .int32(read(try column.int32s(), zero: 0))
            case .int64, .time, .timestamp, .timestampTZ: values = .int64(read(try column.int64s(), zero: 0))
            case .uint8: values = .uint8(read(try column.values(UInt8.self), zero: 0))
            case .uint16: values = .uint16(read(try column.values(UInt16.self), zero: 0))
            case .uint32: values = .uint32(read(try column.values(UInt32.self), zero: 0))
            case .uint64: values = .uint64(read(try column.values(UInt64.self), zero: 0))
            case .float: values = .float(read(try column.values(Float.self), zero: 0))
            case .double, .hugeint, .uhugeint, .decimal: values = .double(read(try column.doubles(), zero: 0))
            case .interval: values = .interval(read(try column.intervals(), zero: Interval(months: 0, days: 0, micros: 0)))
            case .varchar, .uuid, .enumeration, .blob:
                let strings = try column.strings()
                var v = VariableLengthValues()
                for row in 0..<rowCount {
                    if column.isNull(row) { v.appendEmpty() } else { try strings.withBytes(at: row) { v.append($0) } }
                }
                values = column.type == .blob ? .binary(v) : .utf8(v)
            }
            columns.append(Column(name: column.name, type: column.type, values: values, validity: validity))
        }
        return QueryResult(columns: columns, rowCount: rowCount)
    }
}

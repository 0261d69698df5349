/// One column of one batch as raw memory, so the text encoders share one loop for a
/// ``QueryResult`` (Swift arrays) and an ``ArchivedResult`` (Arrow buffers in place).
///
/// Valid only inside the closure that produced it. Fixed-width reads are unaligned loads whose
/// bounds were checked when the pointers were made; variable-length reads check their offsets.
struct RawColumn {
    enum Booleans { case bits, bytes }
    enum Offsets { case int32, int64 }
    enum Intervals { case nanos, micros }

    /// The column's position, for error messages (a name here would cost a retain per value).
    let column: Int
    let type: ColumnType
    /// The validity bitmap (bit set = value), or `nil` when no row is null.
    let validity: UnsafeRawPointer?
    /// Fixed-width values, the boolean bitmap or bytes, or the offsets; `nil` only for an empty
    /// array, from which no row is ever read.
    let storage: UnsafeRawPointer?
    /// The bytes of variable-length values.
    let data: UnsafeRawBufferPointer
    /// The number of rows of this array (a LIST's child has as many as the batch's elements).
    var length = 0
    /// A LIST's or MAP's element array, or a STRUCT's field arrays.
    var children: [RawColumn] = []
    /// How the CSV encoder writes this column's values (decided once, not per value).
    enum LayoutKind { case text, plainNumber, other }
    var layoutKind: LayoutKind {
        switch type {
        case .varchar, .uuid, .enumeration: .text
        case .boolean, .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64: .plainNumber
        default: .other
        }
    }
    var booleans = Booleans.bits
    var offsets = Offsets.int32
    var intervals = Intervals.nanos

    @inline(__always)
    var values: UnsafeRawPointer { storage.unsafelyUnwrapped }

    @inline(__always)
    func isNull(_ row: Int) -> Bool {
        guard let validity else { return false }
        return validity.load(fromByteOffset: row &>> 3, as: UInt8.self) & (1 &<< UInt8(row & 7)) == 0
    }

    @inline(__always)
    func load<T: BitwiseCopyable>(_ row: Int, as type: T.Type) -> T {
        values.loadUnaligned(fromByteOffset: row &* MemoryLayout<T>.size, as: T.self)
    }

    @inline(__always)
    func bool(_ row: Int) -> Bool {
        switch booleans {
        case .bits: values.load(fromByteOffset: row &>> 3, as: UInt8.self) & (1 &<< UInt8(row & 7)) != 0
        case .bytes: values.load(fromByteOffset: row, as: Bool.self)
        }
    }

    @inline(__always)
    func interval(_ row: Int) -> Interval {
        switch intervals {
        case .nanos:
            // Arrow's month_day_nano: int32 months, int32 days, int64 nanoseconds, little-endian.
            let at = row &* 16
            let months = values.loadUnaligned(fromByteOffset: at, as: Int32.self)
            let days = values.loadUnaligned(fromByteOffset: at + 4, as: Int32.self)
            let nanos = values.loadUnaligned(fromByteOffset: at + 8, as: Int64.self)
            return Interval(months: months, days: days, micros: nanos / 1000)
        case .micros:
            // A Swift `[Interval]`: whatever layout the compiler chose.
            return values.loadUnaligned(fromByteOffset: row &* MemoryLayout<Interval>.stride, as: Interval.self)
        }
    }

    /// The element rows of list `row` in ``children``[0], after checking its offsets.
    @inline(__always)
    func listRange(_ row: Int) throws -> Range<Int> {
        let start = offset(row), end = offset(row &+ 1)
        let available = children.first?.length ?? 0
        guard start >= 0, start <= end, end <= available else {
            throw MalformedOffsets(column: column, row: row, start: start, end: end, dataCount: available)
        }
        return start..<end
    }

    /// Checks that the offsets of `rows` never decrease (NULL rows included), at this level and in
    /// a STRUCT's fields: the rows' values then lie in disjoint ranges of the data or child array,
    /// so reading them costs at most the bytes there. Without it, lying offsets of NULL rows would
    /// let every valid row cover the whole child again — exponential in the nesting depth for a
    /// small hostile archive. Called before the rows are read.
    /// - Complexity: O(rows.count) (and the same for each STRUCT field)
    func checkMonotone(_ rows: Range<Int>) throws {
        guard !rows.isEmpty else { return }
        switch type.physicalLayout {
        case .variable, .list:
            let limit = type.physicalLayout == .list ? (children.first?.length ?? 0) : data.count
            var previous = offset(rows.lowerBound)
            guard previous >= 0 else {
                throw MalformedOffsets(column: column, row: rows.lowerBound, start: previous, end: previous, dataCount: limit)
            }
            for row in rows {
                let end = offset(row + 1)
                guard previous <= end, end <= limit else {
                    throw MalformedOffsets(column: column, row: row, start: previous, end: end, dataCount: limit)
                }
                previous = end
            }
        case .structure:
            for child in children { try child.checkMonotone(rows) }
        default:
            break
        }
    }

    /// Offset `index` of a variable-length or list array.
    @inline(__always)
    func offset(_ index: Int) -> Int {
        switch offsets {
        case .int32: Int(values.loadUnaligned(fromByteOffset: index &* 4, as: Int32.self))
        case .int64: values.loadUnaligned(fromByteOffset: index &* 8, as: Int.self)
        }
    }

    /// The bytes of variable-length value `row`, after checking its offsets.
    @inline(__always)
    func bytes(_ row: Int) throws -> UnsafeRawBufferPointer {
        let start = offset(row), end = offset(row &+ 1)
        guard start >= 0, start <= end, end <= data.count else {
            throw MalformedOffsets(column: column, row: row, start: start, end: end, dataCount: data.count)
        }
        return UnsafeRawBufferPointer(rebasing: data[start..<end])
    }
}

/// A variable-length value whose offsets leave its data buffer; ``ArchivedResult`` turns it into an
/// ``ArchiveError`` naming the column.
struct MalformedOffsets: Error {
    var column: Int, row: Int, start: Int, end: Int, dataCount: Int
}

/// Batches of raw columns, the input of the text encoders.
struct RawBatch {
    var rowCount: Int
    var names: [String]
    var columns: [RawColumn]
}

extension ArchivedResult {
    /// Calls `body` with the columns of every batch from `first` on as raw memory.
    func withRawBatches<R>(from first: Int = 0, _ body: ([RawBatch]) throws -> R) throws -> R {
        do {
            return try withRawBatchesUnnamed(from: first, body)
        } catch let e as MalformedOffsets {
            throw ArchiveError(.invalidData, "column \"\(fields[e.column].name)\", row \(e.row) of its batch, has offsets \(e.start)..\(e.end) outside its \(e.dataCount) bytes")
        }
    }

    private func withRawBatchesUnnamed<R>(from first: Int, _ body: ([RawBatch]) throws -> R) throws -> R {
        try withBytes { bytes in
            guard let base = bytes.baseAddress, first < batchLengths.count else {
                // No batches: one empty batch still names the columns (CSV header, JSON columns).
                return try body([RawBatch(rowCount: 0, names: fields.map(\.name), columns: fields.indices.map {
                    emptyRaw(node: roots[$0], column: $0, type: fields[$0].type)
                })])
            }
            let names = fields.map(\.name)
            let batches = batchLengths.enumerated().dropFirst(first).map { b, length in
                RawBatch(rowCount: length, names: names, columns: fields.indices.map { c in
                    raw(node: roots[c], column: c, type: fields[c].type, batch: b, base: base, bytes: bytes)
                })
            }
            return try body(batches)
        }
    }

    /// One array node of one batch as raw memory, its children included.
    private func raw(
        node: Int, column: Int, type: ColumnType, batch: Int, base: UnsafeRawPointer, bytes: UnsafeRawBufferPointer
    ) -> RawColumn {
        let buffers = self.buffers(batch: batch, node: node)
        var raw = RawColumn(
            column: column, type: type, validity: buffers.validity.map { base + $0 },
            storage: buffers.values.isEmpty ? nil : base + buffers.values.lowerBound,
            data: UnsafeRawBufferPointer(rebasing: bytes[buffers.data]))
        raw.length = buffers.length
        let childTypes = type.arrowChildren.map(\.type)
        raw.children = zip(nodes[node].children, childTypes).map { child, childType in
            self.raw(node: child, column: column, type: childType, batch: batch, base: base, bytes: bytes)
        }
        return raw
    }

    /// Calls `body` with one column of one batch as raw memory.
    func withRaw<R>(batch: Int, column: Int, _ body: (RawColumn) throws -> R) throws -> R {
        do {
            return try withBytes { bytes in
                guard let base = bytes.baseAddress else {
                    return try body(emptyRaw(node: roots[column], column: column, type: fields[column].type))
                }
                return try body(raw(node: roots[column], column: column, type: fields[column].type, batch: batch, base: base, bytes: bytes))
            }
        } catch let e as MalformedOffsets {
            throw ArchiveError(.invalidData, "column \"\(fields[e.column].name)\", row \(e.row) of its batch, has offsets \(e.start)..\(e.end) outside its \(e.dataCount) bytes")
        }
    }

    /// An array of no rows of `type`.
    private func emptyRaw(node: Int, column: Int, type: ColumnType) -> RawColumn {
        var raw = RawColumn(column: column, type: type, validity: nil, storage: nil, data: UnsafeRawBufferPointer(start: nil, count: 0))
        raw.children = zip(nodes[node].children, type.arrowChildren.map(\.type)).map { emptyRaw(node: $0, column: column, type: $1) }
        return raw
    }
}

extension QueryResult {
    /// Calls `body` with the result as one batch of raw columns.
    func withRawBatches<R>(_ body: ([RawBatch]) throws -> R) rethrows -> R {
        var raw: [RawColumn] = []
        raw.reserveCapacity(columns.count)
        func nest(_ index: Int, _ raw: inout [RawColumn]) throws -> R {
            if index == columns.count { return try body([RawBatch(rowCount: rowCount, names: columnNames, columns: raw)]) }
            return try columns[index].withRaw(index: index) { column in
                raw.append(column)
                defer { raw.removeLast() }
                return try nest(index + 1, &raw)
            }
        }
        return try nest(0, &raw)
    }
}

extension Column {
    /// Calls `body` with the column as raw memory, nested columns included.
    func withRaw<R>(index: Int, _ body: (RawColumn) throws -> R) rethrows -> R {
        func make(_ values: UnsafeRawBufferPointer, _ data: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0), children: [RawColumn] = []) throws -> R {
            let pointer = values.baseAddress
            func finish(_ validity: UnsafeRawPointer?) throws -> R {
                var column = RawColumn(column: index, type: type, validity: validity, storage: pointer, data: data)
                column.booleans = .bytes
                column.offsets = .int64
                column.intervals = .micros
                column.length = count
                column.children = children
                return try body(column)
            }
            if let validity {
                return try validity.words.withUnsafeBytes { try finish($0.baseAddress) }
            }
            return try finish(nil)
        }
        switch values {
        case .boolean(let v): return try v.withUnsafeBytes { try make($0) }
        case .int8(let v): return try v.withUnsafeBytes { try make($0) }
        case .int16(let v): return try v.withUnsafeBytes { try make($0) }
        case .int32(let v): return try v.withUnsafeBytes { try make($0) }
        case .int64(let v): return try v.withUnsafeBytes { try make($0) }
        case .uint8(let v): return try v.withUnsafeBytes { try make($0) }
        case .uint16(let v): return try v.withUnsafeBytes { try make($0) }
        case .uint32(let v): return try v.withUnsafeBytes { try make($0) }
        case .uint64(let v): return try v.withUnsafeBytes { try make($0) }
        case .float(let v): return try v.withUnsafeBytes { try make($0) }
        case .double(let v): return try v.withUnsafeBytes { try make($0) }
        case .int128(let v): return try v.withUnsafeBytes { try make($0) }
        case .uint128(let v): return try v.withUnsafeBytes { try make($0) }
        case .interval(let v): return try v.withUnsafeBytes { try make($0) }
        case .utf8(let v), .binary(let v):
            return try v.offsets.withUnsafeBytes { offsets in
                try v.bytes.withUnsafeBytes { bytes in try make(offsets, bytes) }
            }
        case .list(let v):
            return try v.offsets.withUnsafeBytes { offsets in
                try v.elements.withRaw(index: index) { elements in try make(offsets, children: [elements]) }
            }
        case .structure(let v):
            return try Self.withRaw(v.fields, index: index) { fields in
                try make(UnsafeRawBufferPointer(start: nil, count: 0), children: fields)
            }
        }
    }

    /// Calls `body` with every column of `columns` as raw memory.
    static func withRaw<R>(_ columns: [Column], index: Int, _ body: ([RawColumn]) throws -> R) rethrows -> R {
        var raw: [RawColumn] = []
        raw.reserveCapacity(columns.count)
        func nest(_ i: Int, _ raw: inout [RawColumn]) throws -> R {
            if i == columns.count { return try body(raw) }
            return try columns[i].withRaw(index: index) { column in
                raw.append(column)
                defer { raw.removeLast() }
                return try nest(i + 1, &raw)
            }
        }
        return try nest(0, &raw)
    }
}

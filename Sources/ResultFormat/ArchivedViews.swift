/// Fixed-width values of an archived column, read in place; null rows hold whatever the writer put
/// there (zero for ``ArrowIPCWriter``), so check ``ArchivedColumn/isNull(_:)``.
public struct ArchivedValues<T: ArchivedScalar>: RandomAccessCollection, Sendable {
    let column: ArchivedColumn

    public var startIndex: Int { 0 }
    public var endIndex: Int { column.count }

    /// Value `row`.
    /// - Complexity: O(log batches)
    public subscript(row: Int) -> T {
        let at = column.valueRange(row, width: T.byteWidth)
        return column.archive.withBytes { T.load(from: $0, at: at) }
    }
}

/// The values of an archived BOOLEAN column (a bitmap), read in place.
public struct ArchivedBooleans: RandomAccessCollection, Sendable {
    let column: ArchivedColumn

    public var startIndex: Int { 0 }
    public var endIndex: Int { column.count }

    /// Value `row`.
    /// - Complexity: O(log batches)
    public subscript(row: Int) -> Bool {
        let (b, r) = column.archive.locate(row)
        let buffer = column.archive.buffers(batch: b, column: column.index).values
        precondition(buffer.lowerBound + r &>> 3 < buffer.upperBound, "value outside its buffer")
        let byte = column.archive.withBytes { $0[buffer.lowerBound + r &>> 3] }
        return byte & (1 << UInt8(r & 7)) != 0
    }
}

/// The values of an archived INTERVAL column (Arrow month_day_nano, nanoseconds truncated to µs).
public struct ArchivedIntervals: RandomAccessCollection, Sendable {
    let column: ArchivedColumn

    public var startIndex: Int { 0 }
    public var endIndex: Int { column.count }

    /// Value `row`.
    /// - Complexity: O(log batches)
    public subscript(row: Int) -> Interval {
        let at = column.valueRange(row, width: 16)
        return column.archive.withBytes { bytes in
            Interval(
                months: Int32.load(from: bytes, at: at), days: Int32.load(from: bytes, at: at + 4),
                micros: Int64.load(from: bytes, at: at + 8) / 1000)
        }
    }
}

/// The values of an archived VARCHAR, UUID, ENUM or BLOB column, read in place.
///
/// Each access checks the value's two offsets against the data buffer, so lying offsets are an
/// error, never an out-of-bounds read.
public struct ArchivedStrings: Sendable {
    let column: ArchivedColumn

    /// The number of values.
    public var count: Int { column.count }

    /// Calls `body` with the bytes of value `row`, valid only inside `body`.
    /// - Parameters:
    ///   - row: `0..<count`
    ///   - body: receives the value's bytes (empty for a null)
    /// - Throws: ``ArchiveError`` `.invalidData` when the offsets are malformed, or what `body` throws
    /// - Complexity: O(log batches)
    public func withBytes<R>(at row: Int, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let (b, r) = column.archive.locate(row)
        let buffers = column.archive.buffers(batch: b, column: column.index)
        return try column.archive.withBytes { bytes in
            let range = try Self.valueRange(bytes, offsets: buffers.values, data: buffers.data, row: r, column: column.name)
            return try body(UnsafeRawBufferPointer(rebasing: bytes[range]))
        }
    }

    /// Value `row` as a string.
    /// - Parameter row: `0..<count`
    /// - Throws: ``ArchiveError`` `.invalidData` for malformed offsets or invalid UTF-8
    public func string(at row: Int) throws -> String {
        try withBytes(at: row) { bytes in
            guard let string = String(validating: bytes, as: UTF8.self) else {
                throw ArchiveError(.invalidData, "row \(row) of column \"\(column.name)\" is not valid UTF-8")
            }
            return string
        }
    }

    /// Value `row`'s bytes, copied.
    /// - Parameter row: `0..<count`
    /// - Throws: ``ArchiveError`` `.invalidData` for malformed offsets
    public func bytes(at row: Int) throws -> [UInt8] {
        try withBytes(at: row) { Array($0) }
    }

    /// The absolute range of a value's bytes, from its offsets, checked against the data buffer.
    @inline(__always)
    static func valueRange(
        _ bytes: UnsafeRawBufferPointer, offsets: Range<Int>, data: Range<Int>, row: Int, column: String
    ) throws -> Range<Int> {
        let at = offsets.lowerBound + 4 * row
        precondition(at + 8 <= offsets.upperBound, "offset outside its buffer")
        let start = Int(Int32.load(from: bytes, at: at))
        let end = Int(Int32.load(from: bytes, at: at + 4))
        guard start >= 0, start <= end, end <= data.count else {
            throw ArchiveError(
                .invalidData, "row \(row) of column \"\(column)\" has offsets \(start)..\(end) outside its \(data.count) bytes")
        }
        return (data.lowerBound + start)..<(data.lowerBound + end)
    }
}

/// One column of an ``ArchivedResult``; typed views read its values straight from the bytes.
public struct ArchivedColumn: Sendable {
    let archive: ArchivedResult
    /// The column's position.
    public let index: Int

    /// The column's name.
    public var name: String { archive.fields[index].name }
    /// The column's type.
    public var type: ColumnType { archive.fields[index].type }
    /// The number of rows.
    public var count: Int { archive.rowCount }

    /// The number of null rows, as the batches declare it (``ArchivedResult/validate()`` checks it).
    public var nullCount: Int { (0..<archive.batchCount).reduce(0) { $0 + archive.buffers(batch: $1, column: index).nullCount } }

    /// Whether row `row` is null.
    /// - Parameter row: `0..<count`
    /// - Complexity: O(log batches)
    public func isNull(_ row: Int) -> Bool {
        let (b, r) = archive.locate(row)
        guard let validity = archive.buffers(batch: b, column: index).validity else { return false }
        let byte = archive.withBytes { $0[validity + r &>> 3] }
        return byte & (1 << UInt8(r & 7)) == 0
    }

    /// The values as `T`, read in place.
    /// - Parameter type: the Swift type of the column's storage (`Int64` for BIGINT, TIME and
    ///   timestamps; `Int32` for INTEGER and DATE; `Int128` for HUGEINT and DECIMAL; …)
    /// - Throws: ``ArchiveError`` `.typeMismatch` when the column is stored otherwise
    public func values<T: ArchivedScalar>(_ type: T.Type) throws -> ArchivedValues<T> {
        guard T.canRead(self.type) else {
            throw ArchiveError(.typeMismatch, "column \"\(name)\" is \(self.type.sqlName), not readable as \(T.self)")
        }
        return ArchivedValues(column: self)
    }

    /// The values of a BIGINT, TIME, TIMESTAMP or TIMESTAMPTZ column (µs for the time types).
    public func int64s() throws -> ArchivedValues<Int64> { try values(Int64.self) }
    /// The values of an INTEGER or DATE column (days since 1970-01-01 for DATE).
    public func int32s() throws -> ArchivedValues<Int32> { try values(Int32.self) }
    /// The values of a DOUBLE column.
    public func doubles() throws -> ArchivedValues<Double> { try values(Double.self) }
    /// The values of a HUGEINT column, or a DECIMAL column's unscaled values.
    public func int128s() throws -> ArchivedValues<Int128> { try values(Int128.self) }

    /// The values of a BOOLEAN column.
    public func booleans() throws -> ArchivedBooleans {
        guard type == .boolean else {
            throw ArchiveError(.typeMismatch, "column \"\(name)\" is \(type.sqlName), not BOOLEAN")
        }
        return ArchivedBooleans(column: self)
    }

    /// The values of a VARCHAR, UUID, ENUM or BLOB column.
    public func strings() throws -> ArchivedStrings {
        guard type.physicalLayout == .variable else {
            throw ArchiveError(.typeMismatch, "column \"\(name)\" is \(type.sqlName), not a string or blob")
        }
        return ArchivedStrings(column: self)
    }

    /// Row `row` as a ``Value`` (nested values included); convenient for tests and small results,
    /// not for bulk work.
    /// - Parameter row: `0..<count`
    /// - Throws: ``ArchiveError`` for a malformed string or list offset or an invalid UTF-8 string
    public func value(at row: Int) throws -> Value {
        let (b, r) = archive.locate(row)
        return try archive.withRaw(batch: b, column: index) { try $0.value(r) }
    }

    /// The values of an INTERVAL column (nanoseconds truncated to microseconds).
    public func intervals() throws -> ArchivedIntervals {
        guard type == .interval else {
            throw ArchiveError(.typeMismatch, "column \"\(name)\" is \(type.sqlName), not INTERVAL")
        }
        return ArchivedIntervals(column: self)
    }

    /// The absolute byte range of `row`'s fixed-width value, checked against its buffer.
    @inline(__always)
    func valueRange(_ row: Int, width: Int) -> Int {
        let (b, r) = archive.locate(row)
        let buffer = archive.buffers(batch: b, column: index).values
        let at = buffer.lowerBound + r * width
        // Opening checked the buffer holds `length × width` bytes; this guards the invariant.
        precondition(at + width <= buffer.upperBound, "value outside its buffer")
        return at
    }
}

/// A fixed-width type that column values can be read as.
public protocol ArchivedScalar: Sendable {
    /// Bytes per value.
    static var byteWidth: Int { get }
    /// Whether a column of this type is stored as `Self`.
    static func canRead(_ type: ColumnType) -> Bool
    /// Loads a little-endian value at any alignment; the caller has checked the bounds.
    static func load(from bytes: UnsafeRawBufferPointer, at offset: Int) -> Self
}

extension ArchivedScalar where Self: FixedWidthInteger {
    @inline(__always)
    public static var byteWidth: Int { MemoryLayout<Self>.size }

    @inline(__always)
    public static func load(from bytes: UnsafeRawBufferPointer, at offset: Int) -> Self {
        Self(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: Self.self))
    }
}

extension Int8: ArchivedScalar { public static func canRead(_ type: ColumnType) -> Bool { type == .int8 } }
extension Int16: ArchivedScalar { public static func canRead(_ type: ColumnType) -> Bool { type == .int16 } }
extension Int32: ArchivedScalar {
    public static func canRead(_ type: ColumnType) -> Bool { type == .int32 || type == .date }
}
extension Int64: ArchivedScalar {
    public static func canRead(_ type: ColumnType) -> Bool {
        type == .int64 || type == .time || type == .timestamp || type == .timestampTZ
    }
}
extension UInt8: ArchivedScalar { public static func canRead(_ type: ColumnType) -> Bool { type == .uint8 } }
extension UInt16: ArchivedScalar { public static func canRead(_ type: ColumnType) -> Bool { type == .uint16 } }
extension UInt32: ArchivedScalar { public static func canRead(_ type: ColumnType) -> Bool { type == .uint32 } }
extension UInt64: ArchivedScalar { public static func canRead(_ type: ColumnType) -> Bool { type == .uint64 } }

extension Float: ArchivedScalar {
    public static var byteWidth: Int { 4 }
    public static func canRead(_ type: ColumnType) -> Bool { type == .float }
    @inline(__always)
    public static func load(from bytes: UnsafeRawBufferPointer, at offset: Int) -> Float {
        Float(bitPattern: UInt32.load(from: bytes, at: offset))
    }
}

extension Int128: ArchivedScalar {
    public static func canRead(_ type: ColumnType) -> Bool {
        switch type {
        case .hugeint, .decimal: true
        default: false
        }
    }
}
extension UInt128: ArchivedScalar { public static func canRead(_ type: ColumnType) -> Bool { type == .uhugeint } }

extension Double: ArchivedScalar {
    public static var byteWidth: Int { 8 }
    public static func canRead(_ type: ColumnType) -> Bool { type == .double }
    @inline(__always)
    public static func load(from bytes: UnsafeRawBufferPointer, at offset: Int) -> Double {
        Double(bitPattern: UInt64.load(from: bytes, at: offset))
    }
}

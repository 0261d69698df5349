/// Variable-length values (strings or blobs) of one column, stored the way Arrow stores them:
/// every value's bytes back to back in ``bytes``, value `i` at `bytes[offsets[i]..<offsets[i + 1]]`.
///
/// A null value has an empty range. ``offsets`` always has `count + 1` elements and starts at 0.
public struct VariableLengthValues: Sendable, Equatable {
    /// `count + 1` non-decreasing byte offsets into ``bytes``, starting at 0.
    public private(set) var offsets: [Int]
    /// The concatenated bytes of all values.
    public private(set) var bytes: [UInt8]

    /// An empty column.
    public init() {
        offsets = [0]
        bytes = []
    }

    /// Creates values from offsets and bytes, checking the offsets.
    /// - Parameters:
    ///   - offsets: `count + 1` non-decreasing offsets starting at 0 and ending at `bytes.count`
    ///   - bytes: the concatenated values
    /// - Throws: ``ResultShapeError`` naming the first malformed offset
    /// - Complexity: O(count)
    public init(offsets: [Int], bytes: [UInt8]) throws(ResultShapeError) {
        guard offsets.first == 0, offsets.last == bytes.count else {
            throw ResultShapeError("offsets must start at 0 and end at the byte count \(bytes.count)")
        }
        for i in 1..<offsets.count where offsets[i] < offsets[i - 1] {
            throw ResultShapeError("offset \(i) (\(offsets[i])) is below offset \(i - 1) (\(offsets[i - 1]))")
        }
        self.offsets = offsets
        self.bytes = bytes
    }

    /// Creates values from offsets and bytes the caller built well formed (the DuckDB reader).
    package init(unchecked offsets: [Int], bytes: [UInt8]) {
        self.offsets = offsets
        self.bytes = bytes
    }

    /// Creates values from strings, stored as UTF-8.
    /// - Parameter strings: the values
    public init<S: Sequence>(strings: S) where S.Element == String {
        self.init()
        for s in strings { append(utf8: s) }
    }

    /// The number of values.
    public var count: Int { offsets.count - 1 }

    /// Reserves space for `values` more values holding `bytes` more bytes.
    /// - Parameters:
    ///   - values: how many values will be appended
    ///   - bytes: how many bytes they will hold
    public mutating func reserve(values: Int, bytes byteCount: Int) {
        offsets.reserveCapacity(offsets.count + values)
        bytes.reserveCapacity(bytes.count + byteCount)
    }

    /// Appends one value.
    /// - Parameter value: the value's bytes
    public mutating func append(_ value: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: value)
        offsets.append(bytes.count)
    }

    /// Appends a string as UTF-8.
    /// - Parameter string: the value
    public mutating func append(utf8 string: String) {
        var s = string
        s.withUTF8 { bytes.append(contentsOf: $0) }
        offsets.append(bytes.count)
    }

    /// Appends an empty value (used for nulls).
    public mutating func appendEmpty() {
        offsets.append(bytes.count)
    }

    /// The byte range of value `index`.
    /// - Parameter index: the value's position
    /// - Returns: its range in ``bytes``
    @inlinable
    public func range(at index: Int) -> Range<Int> { offsets[index]..<offsets[index + 1] }

    /// Value `index` decoded as UTF-8 (invalid sequences are repaired with U+FFFD).
    /// - Parameter index: the value's position
    /// - Returns: the string
    public func string(at index: Int) -> String {
        String(decoding: bytes[range(at: index)], as: UTF8.self)
    }

    /// Value `index` as bytes.
    /// - Parameter index: the value's position
    /// - Returns: a copy of the bytes
    public func blob(at index: Int) -> [UInt8] { Array(bytes[range(at: index)]) }
}

/// The physical storage of one column's values; rows that are null hold a zero (or empty) value.
public enum ColumnValues: Sendable, Equatable {
    case boolean([Bool])
    case int8([Int8])
    case int16([Int16])
    case int32([Int32])
    case int64([Int64])
    case uint8([UInt8])
    case uint16([UInt16])
    case uint32([UInt32])
    case uint64([UInt64])
    case float([Float])
    case double([Double])
    case utf8(VariableLengthValues)
    case binary(VariableLengthValues)
    case interval([Interval])
    /// HUGEINT, and DECIMAL as unscaled integers.
    case int128([Int128])
    /// UHUGEINT.
    case uint128([UInt128])
    /// LIST and MAP: per row a range of an element column.
    indirect case list(ListValues)
    /// STRUCT: one column per field.
    indirect case structure(StructValues)

    /// The number of values.
    public var count: Int {
        switch self {
        case .boolean(let v): v.count
        case .int8(let v): v.count
        case .int16(let v): v.count
        case .int32(let v): v.count
        case .int64(let v): v.count
        case .uint8(let v): v.count
        case .uint16(let v): v.count
        case .uint32(let v): v.count
        case .uint64(let v): v.count
        case .float(let v): v.count
        case .double(let v): v.count
        case .utf8(let v): v.count
        case .binary(let v): v.count
        case .interval(let v): v.count
        case .int128(let v): v.count
        case .uint128(let v): v.count
        case .list(let v): v.count
        case .structure(let v): v.count
        }
    }
}

/// The values of a LIST (or MAP) column: row `i` holds `elements` rows `offsets[i]..<offsets[i + 1]`.
public struct ListValues: Sendable, Equatable {
    /// `count + 1` non-decreasing offsets into ``elements``, from 0 to `elements.count`.
    public let offsets: [Int]
    /// Every row's elements, back to back (a MAP's are `STRUCT(key, value)` entries).
    public let elements: Column

    /// Creates list values, checking the offsets.
    /// - Parameters:
    ///   - offsets: `count + 1` non-decreasing offsets from 0 to `elements.count`
    ///   - elements: the elements of all rows
    /// - Throws: ``ResultShapeError`` for malformed offsets
    public init(offsets: [Int], elements: Column) throws(ResultShapeError) {
        guard offsets.first == 0, offsets.last == elements.count else {
            throw ResultShapeError("list offsets must start at 0 and end at the element count \(elements.count)")
        }
        for i in 1..<offsets.count where offsets[i] < offsets[i - 1] {
            throw ResultShapeError("list offset \(i) (\(offsets[i])) is below offset \(i - 1) (\(offsets[i - 1]))")
        }
        self.offsets = offsets
        self.elements = elements
    }

    package init(unchecked offsets: [Int], elements: Column) {
        self.offsets = offsets
        self.elements = elements
    }

    /// The number of rows (lists).
    public var count: Int { offsets.count - 1 }

    /// The element rows of list `index`.
    @inlinable
    public func range(at index: Int) -> Range<Int> { offsets[index]..<offsets[index + 1] }
}

/// The values of a STRUCT column: one column per field, each `count` rows long.
public struct StructValues: Sendable, Equatable {
    /// The number of rows.
    public let count: Int
    /// One column per field, in the type's order.
    public let fields: [Column]

    /// Creates struct values, checking the field lengths.
    /// - Parameters:
    ///   - count: the number of rows
    ///   - fields: one column per field, each `count` rows long
    /// - Throws: ``ResultShapeError`` when a field has another length
    public init(count: Int, fields: [Column]) throws(ResultShapeError) {
        guard count >= 0 else { throw ResultShapeError("negative row count \(count)") }
        for field in fields where field.count != count {
            throw ResultShapeError("struct field \"\(field.name)\" has \(field.count) rows, the struct \(count)")
        }
        self.count = count
        self.fields = fields
    }

    package init(unchecked count: Int, fields: [Column]) {
        self.count = count
        self.fields = fields
    }
}

/// Why a result, column or value list could not be made: its parts contradict each other.
public struct ResultShapeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong.
    public var message: String

    /// Creates an error.
    /// - Parameter message: what is wrong
    public init(_ message: String) { self.message = message }

    public var description: String { "malformed result: \(message)" }
}

extension ColumnValues {
    /// Whether these values are the storage ``ColumnType`` documents for `type` (for nested types,
    /// the element and field columns' types must be the type's own, field names included).
    public func canStore(_ type: ColumnType) -> Bool {
        switch (self, type) {
        case (.boolean, .boolean), (.int8, .int8), (.int16, .int16), (.int32, .int32), (.int32, .date),
             (.int64, .int64), (.int64, .time), (.int64, .timestamp), (.int64, .timestampTZ),
             (.uint8, .uint8), (.uint16, .uint16), (.uint32, .uint32), (.uint64, .uint64), (.float, .float),
             (.double, .double), (.int128, .hugeint), (.uint128, .uhugeint), (.int128, .decimal),
             (.utf8, .varchar), (.utf8, .uuid), (.utf8, .enumeration), (.binary, .blob), (.interval, .interval):
            true
        case (.list(let values), .list(let element)):
            values.elements.type == element
        case (.list(let values), .map(let key, let value)):
            values.elements.type == .mapEntry(key: key, value: value)
        case (.structure(let values), .structure(let fields)):
            values.fields.count == fields.count
                && zip(values.fields, fields).allSatisfy { $0.name == $1.name && $0.type == $1.type }
        default:
            false
        }
    }

    /// The storage's name, for messages.
    var kindName: String {
        switch self {
        case .boolean: "booleans"
        case .int8: "Int8"
        case .int16: "Int16"
        case .int32: "Int32"
        case .int64: "Int64"
        case .uint8: "UInt8"
        case .uint16: "UInt16"
        case .uint32: "UInt32"
        case .uint64: "UInt64"
        case .float: "Float"
        case .double: "Double"
        case .utf8: "UTF-8 strings"
        case .binary: "bytes"
        case .interval: "intervals"
        case .int128: "Int128"
        case .uint128: "UInt128"
        case .list: "lists"
        case .structure: "struct fields"
        }
    }
}

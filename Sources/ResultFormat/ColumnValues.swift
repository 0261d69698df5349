/// Variable-length values (strings or blobs) of one column, stored the way Arrow stores them:
/// every value's bytes back to back in ``bytes``, value `i` at `bytes[offsets[i]..<offsets[i + 1]]`.
///
/// A null value has an empty range. ``offsets`` always has `count + 1` elements and starts at 0.
public struct VariableLengthValues: Sendable, Equatable {
    /// `count + 1` non-decreasing byte offsets into ``bytes``, starting at 0.
    public var offsets: [Int]
    /// The concatenated bytes of all values.
    public var bytes: [UInt8]

    /// An empty column.
    public init() {
        offsets = [0]
        bytes = []
    }

    /// Creates values from offsets and bytes.
    /// - Parameters:
    ///   - offsets: `count + 1` non-decreasing offsets starting at 0 and ending at `bytes.count`
    ///   - bytes: the concatenated values
    /// - Precondition: the offsets are well formed.
    public init(offsets: [Int], bytes: [UInt8]) {
        precondition(offsets.first == 0 && offsets.last == bytes.count, "malformed offsets")
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
    @inlinable
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
    @inlinable
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
        }
    }
}

extension ColumnValues {
    /// Whether these values are the storage ``ColumnType`` documents for `type`.
    public func canStore(_ type: ColumnType) -> Bool {
        switch (self, type) {
        case (.boolean, .boolean), (.int8, .int8), (.int16, .int16), (.int32, .int32), (.int32, .date),
             (.int64, .int64), (.int64, .time), (.int64, .timestamp), (.int64, .timestampTZ),
             (.uint8, .uint8), (.uint16, .uint16), (.uint32, .uint32), (.uint64, .uint64), (.float, .float),
             (.double, .double), (.double, .hugeint), (.double, .uhugeint), (.double, .decimal),
             (.utf8, .varchar), (.utf8, .uuid), (.utf8, .enumeration), (.binary, .blob), (.interval, .interval):
            true
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
        }
    }
}

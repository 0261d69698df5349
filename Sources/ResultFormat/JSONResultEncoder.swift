/// Encodes a ``QueryResult`` as JSON: an array with one object per row, keys in column order.
///
/// Value forms are those of the shared text formatting: numbers as JSON numbers (NaN and ±infinity
/// as `null`), HUGEINT as integers when exact, dates, times and timestamps as ISO 8601 strings
/// (TIMESTAMPTZ with a `Z`), intervals as ISO 8601 durations, blobs as base64 strings, SQL NULL as
/// `null`. Strings are escaped per RFC 8259 (`"`, `\`, and control characters; other characters are
/// written as UTF-8). Invalid UTF-8 in a VARCHAR is replaced with U+FFFD so the output is always valid JSON.
public struct JSONResultEncoder: Sendable {
    /// Creates an encoder.
    public init() {}

    /// Encodes the result.
    /// - Parameter result: the result to encode
    /// - Returns: UTF-8 JSON bytes, without a trailing newline
    /// - Complexity: O(bytes of output)
    public func encode(_ result: QueryResult) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(16 + result.rowCount * max(1, result.columns.count) * 12)
        let keys: [[UInt8]] = result.columns.map { column in
            var key: [UInt8] = []
            Self.appendString(column.name.utf8, to: &key)
            key.append(UInt8(ascii: ":"))
            return key
        }
        out.append(UInt8(ascii: "["))
        for row in 0..<result.rowCount {
            if row > 0 { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "{"))
            for (c, column) in result.columns.enumerated() {
                if c > 0 { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: keys[c])
                Self.appendValue(column, row: row, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
        return out
    }

    static func appendValue(_ column: Column, row: Int, to out: inout [UInt8]) {
        if column.isNull(row) {
            out.append(contentsOf: "null".utf8)
            return
        }
        switch column.values {
        case .boolean(let v): out.append(contentsOf: v[row] ? "true".utf8 : "false".utf8)
        case .int8(let v): ValueFormatting.appendInt(Int64(v[row]), to: &out)
        case .int16(let v): ValueFormatting.appendInt(Int64(v[row]), to: &out)
        case .int32(let v):
            if column.type == .date {
                out.append(UInt8(ascii: "\""))
                ValueFormatting.appendDate(v[row], to: &out)
                out.append(UInt8(ascii: "\""))
            } else {
                ValueFormatting.appendInt(Int64(v[row]), to: &out)
            }
        case .int64(let v):
            switch column.type {
            case .time:
                out.append(UInt8(ascii: "\""))
                ValueFormatting.appendTime(v[row], to: &out)
                out.append(UInt8(ascii: "\""))
            case .timestamp, .timestampTZ:
                out.append(UInt8(ascii: "\""))
                ValueFormatting.appendTimestamp(
                    v[row], separator: UInt8(ascii: "T"), utc: column.type == .timestampTZ, to: &out)
                out.append(UInt8(ascii: "\""))
            default:
                ValueFormatting.appendInt(v[row], to: &out)
            }
        case .uint8(let v): ValueFormatting.appendUInt(UInt64(v[row]), to: &out)
        case .uint16(let v): ValueFormatting.appendUInt(UInt64(v[row]), to: &out)
        case .uint32(let v): ValueFormatting.appendUInt(UInt64(v[row]), to: &out)
        case .uint64(let v): ValueFormatting.appendUInt(v[row], to: &out)
        case .float(let v):
            if v[row].isFinite { out.append(contentsOf: v[row].description.utf8) } else { out.append(contentsOf: "null".utf8) }
        case .double(let v):
            let x = v[row]
            if x.isFinite {
                let integral = column.type == .hugeint || column.type == .uhugeint
                ValueFormatting.appendDouble(x, integral: integral, to: &out)
            } else {
                out.append(contentsOf: "null".utf8)
            }
        case .utf8(let v):
            let range = v.range(at: row)
            v.bytes.withUnsafeBufferPointer { buf in
                let slice = UnsafeBufferPointer(rebasing: buf[range])
                if validUTF8(slice) {
                    appendString(slice, to: &out)
                } else {
                    appendString(String(decoding: slice, as: UTF8.self).utf8, to: &out)
                }
            }
        case .binary(let v):
            out.append(UInt8(ascii: "\""))
            ValueFormatting.appendBase64(v.bytes[v.range(at: row)], to: &out)
            out.append(UInt8(ascii: "\""))
        case .interval(let v):
            out.append(UInt8(ascii: "\""))
            ValueFormatting.appendInterval(v[row], to: &out)
            out.append(UInt8(ascii: "\""))
        }
    }

    static func validUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        // Fast path: ASCII.
        var ascii = true
        for b in bytes where b >= 0x80 { ascii = false; break }
        if ascii { return true }
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    private static let hex = Array("0123456789abcdef".utf8)

    /// Appends a quoted, escaped JSON string.
    static func appendString<C: Collection>(_ utf8: C, to out: inout [UInt8]) where C.Element == UInt8 {
        out.append(UInt8(ascii: "\""))
        for b in utf8 {
            switch b {
            case UInt8(ascii: "\""): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "\\"))
            case 0x0A: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
            case 0x0D: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "r"))
            case 0x09: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "t"))
            case 0..<0x20:
                out.append(contentsOf: "\\u00".utf8)
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 15)])
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

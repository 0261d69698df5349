/// Encodes a ``QueryResult`` as CSV per RFC 4180: a header line with the column names, one line per
/// row, CRLF line breaks, fields containing a comma, quote, CR or LF enclosed in double quotes with
/// quotes doubled.
///
/// SQL NULL is an empty field; an empty string is `""` so the two stay distinguishable. Other values
/// use the shared text forms (timestamps with a space separator, e.g. `2024-01-31 12:00:00.5`,
/// TIMESTAMPTZ with a trailing `Z`; non-finite floats as `nan`, `inf`, `-inf`; blobs as base64).
public struct CSVResultEncoder: Sendable {
    /// The line terminator; RFC 4180 specifies CRLF.
    public var lineTerminator: [UInt8]

    /// Creates an encoder.
    /// - Parameter lineTerminator: the line break to write (default CRLF)
    public init(lineTerminator: String = "\r\n") {
        self.lineTerminator = Array(lineTerminator.utf8)
    }

    /// Encodes the result.
    /// - Parameter result: the result to encode
    /// - Returns: UTF-8 CSV bytes, each line (the last too) ending with the line terminator
    /// - Complexity: O(bytes of output)
    public func encode(_ result: QueryResult) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(16 + result.rowCount * max(1, result.columns.count) * 8)
        for (c, column) in result.columns.enumerated() {
            if c > 0 { out.append(UInt8(ascii: ",")) }
            Self.appendField(Array(column.name.utf8)[...], forceQuotes: column.name.isEmpty, to: &out)
        }
        out.append(contentsOf: lineTerminator)
        var scratch: [UInt8] = []
        for row in 0..<result.rowCount {
            for (c, column) in result.columns.enumerated() {
                if c > 0 { out.append(UInt8(ascii: ",")) }
                if column.isNull(row) { continue }
                switch column.values {
                case .utf8(let v):
                    let slice = v.bytes[v.range(at: row)]
                    Self.appendField(slice, forceQuotes: slice.isEmpty, to: &out)
                default:
                    scratch.removeAll(keepingCapacity: true)
                    Self.appendPlain(column, row: row, to: &scratch)
                    Self.appendField(scratch[...], forceQuotes: false, to: &out)
                }
            }
            out.append(contentsOf: lineTerminator)
        }
        return out
    }

    static func appendPlain(_ column: Column, row: Int, to out: inout [UInt8]) {
        switch column.values {
        case .int32(let v) where column.type == .date:
            ValueFormatting.appendDate(v[row], to: &out)
        case .int64(let v) where column.type == .time:
            ValueFormatting.appendTime(v[row], to: &out)
        case .int64(let v) where column.type == .timestamp || column.type == .timestampTZ:
            ValueFormatting.appendTimestamp(
                v[row], separator: UInt8(ascii: " "), utc: column.type == .timestampTZ, to: &out)
        case .float(let v) where !v[row].isFinite:
            out.append(contentsOf: nonFinite(Double(v[row])).utf8)
        case .double(let v) where !v[row].isFinite:
            out.append(contentsOf: nonFinite(v[row]).utf8)
        case .binary(let v):
            ValueFormatting.appendBase64(v.bytes[v.range(at: row)], to: &out)
        case .interval(let v):
            ValueFormatting.appendInterval(v[row], to: &out)
        default:
            // Numbers and booleans look the same as in JSON.
            JSONResultEncoder.appendValue(column, row: row, to: &out)
        }
    }

    private static func nonFinite(_ x: Double) -> String {
        x.isNaN ? "nan" : (x > 0 ? "inf" : "-inf")
    }

    static func appendField(_ field: ArraySlice<UInt8>, forceQuotes: Bool, to out: inout [UInt8]) {
        let needsQuotes = forceQuotes || field.contains { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 0x0A || $0 == 0x0D }
        guard needsQuotes else {
            out.append(contentsOf: field)
            return
        }
        out.append(UInt8(ascii: "\""))
        for b in field {
            if b == UInt8(ascii: "\"") { out.append(b) }
            out.append(b)
        }
        out.append(UInt8(ascii: "\""))
    }
}

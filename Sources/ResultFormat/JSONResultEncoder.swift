/// Encodes a result as JSON, from a ``QueryResult`` or straight from an ``ArchivedResult``.
///
/// Two layouts:
/// - ``Layout/rows``: an array with one object per row, keys in column order
///   (`[{"a":1,"b":"x"},…]`) — what `analytics-cache query` writes;
/// - ``Layout/columns``: one object holding the row count and, per column, its name, SQL type and
///   values (`{"rowCount":2,"columns":[{"name":"a","type":"BIGINT","values":[1,2]},…]}`) —
///   smaller, and keeps columns with the same name apart.
///
/// Value forms are those of the shared text formatting: numbers as JSON numbers (NaN and ±infinity
/// as `null`); HUGEINT, UHUGEINT and DECIMAL exactly — as JSON numbers when a reader that parses
/// numbers as doubles gets the same value back (integers up to 2^53 in magnitude, decimals of at
/// most 15 significant digits, e.g. `12.50`), otherwise as JSON strings of the exact digits
/// (`"9007199254740993"`), so no reader silently rounds a sum; LIST as arrays, STRUCT as objects,
/// MAP as objects keyed by the key's text (as DuckDB's `to_json`); dates, times and timestamps as ISO 8601 strings
/// (TIMESTAMPTZ with a `Z`), intervals as ISO 8601 durations, blobs as base64 strings, SQL NULL as
/// `null`. Strings are escaped per RFC 8259 (`"`, `\`, and control characters; other characters are
/// written as UTF-8). Invalid UTF-8 in a VARCHAR is replaced with U+FFFD so the output is always valid JSON.
public struct JSONResultEncoder: Sendable {
    /// How rows and columns are arranged.
    public enum Layout: Sendable {
        /// An array of row objects.
        case rows
        /// An object of columns, each with its values as an array.
        case columns
    }

    /// The layout written.
    public var layout: Layout

    /// Creates an encoder.
    /// - Parameter layout: the layout to write (default: an array of row objects)
    public init(layout: Layout = .rows) {
        self.layout = layout
    }

    /// Encodes a result.
    /// - Parameter result: the result to encode
    /// - Returns: UTF-8 JSON bytes, without a trailing newline
    /// - Complexity: O(bytes of output)
    public func encode(_ result: QueryResult) -> [UInt8] {
        TextEncoding.encode(result, bytesPerValue: 12, loop)
    }

    /// Encodes an archived result, reading values in place.
    /// - Parameter archive: the result to encode
    /// - Returns: UTF-8 JSON bytes, without a trailing newline
    /// - Throws: ``ArchiveError`` when a string's offsets are malformed
    /// - Complexity: O(bytes of output)
    public func encode(_ archive: ArchivedResult) throws -> [UInt8] {
        try TextEncoding.encode(archive, bytesPerValue: 12, loop)
    }

    /// Writes an archived result in chunks, for streaming a large result without holding its text.
    /// - Parameters:
    ///   - archive: the result to encode
    ///   - chunkSize: about how many bytes each chunk holds
    ///   - sink: receives the chunks in order
    /// - Throws: ``ArchiveError`` when a string's offsets are malformed, or what `sink` throws
    public func write(_ archive: ArchivedResult, chunkSize: Int = 1 << 16, to sink: ([UInt8]) throws -> Void) throws {
        try TextEncoding.write(archive, chunkSize: chunkSize, to: sink, loop)
    }

    /// The encoding of an archived result as an async sequence of byte chunks, each encoded when
    /// the consumer pulls it (an HTTP response body streams it).
    /// - Parameters:
    ///   - archive: the result to encode
    ///   - chunkSize: about how many bytes each chunk holds
    /// - Returns: the chunks, in order; their concatenation equals ``encode(_:)-(ArchivedResult)``
    public func chunks(_ archive: ArchivedResult, chunkSize: Int = 1 << 16) -> EncodedChunks {
        EncodedChunks(source: .archive(archive), chunkSize: chunkSize, loop: loop, forwardOnly: layout == .rows)
    }

    /// The encoding of a result as an async sequence of byte chunks, encoded as they are pulled.
    /// - Parameters:
    ///   - result: the result to encode
    ///   - chunkSize: about how many bytes each chunk holds
    /// - Returns: the chunks, in order; their concatenation equals ``encode(_:)-(QueryResult)``
    public func chunks(_ result: QueryResult, chunkSize: Int = 1 << 16) -> EncodedChunks {
        EncodedChunks(source: .result(result), chunkSize: chunkSize, loop: loop, forwardOnly: layout == .rows)
    }

    /// The resumable loop, as a value the chunk sequences keep.
    var loop: TextEncoding.Loop {
        let encoder = self
        return { batches, cursor, out, limit in try encoder.encode(batches, &cursor, &out, limit: limit) }
    }

    /// Appends text from `cursor` on until `out` holds `limit` bytes or the output is complete.
    func encode(_ batches: [RawBatch], _ cursor: inout TextEncoding.Cursor, _ out: inout [UInt8], limit: Int) throws {
        guard let first = batches.first else {
            if cursor.phase == .start { out.append(contentsOf: layout == .rows ? "[]".utf8 : #"{"rowCount":0,"columns":[]}"#.utf8) }
            cursor.phase = .done
            return
        }
        switch layout {
        case .rows:
            if cursor.phase == .start {
                out.append(UInt8(ascii: "["))
                cursor.phase = .body
            }
            if cursor.phase == .body {
                let keys: [[UInt8]] = first.names.map { name in
                    var key: [UInt8] = []
                    Self.appendString(name.utf8, to: &key)
                    key.append(UInt8(ascii: ":"))
                    return key
                }
                while cursor.batch < batches.count {
                    let batch = batches[cursor.batch]
                    if cursor.row == 0 { for c in batch.columns.indices { try batch.columns[c].checkMonotone(0..<batch.rowCount) } }
                    while cursor.row < batch.rowCount {
                        if cursor.started { out.append(UInt8(ascii: ",")) }
                        cursor.started = true
                        out.append(UInt8(ascii: "{"))
                        // Indices, not enumerated(): a RawColumn copy per value would retain its children.
                        for c in batch.columns.indices {
                            if c > 0 { out.append(UInt8(ascii: ",")) }
                            out.append(contentsOf: keys[c])
                            try Self.appendValue(batch.columns[c], row: cursor.row, to: &out)
                        }
                        out.append(UInt8(ascii: "}"))
                        cursor.row += 1
                        if out.count >= limit { return }
                    }
                    cursor.batch += 1
                    cursor.row = 0
                }
                out.append(UInt8(ascii: "]"))
                cursor.phase = .done
            }
        case .columns:
            if cursor.phase == .start {
                out.append(contentsOf: #"{"rowCount":"#.utf8)
                ValueFormatting.appendInt(Int64(batches.reduce(0) { $0 + $1.rowCount }), to: &out)
                out.append(contentsOf: #","columns":["#.utf8)
                cursor.phase = .body
            }
            if cursor.phase == .body {
                while cursor.column < first.columns.count {
                    let c = cursor.column
                    if cursor.batch == 0 && cursor.row == 0 && !cursor.started {
                        if c > 0 { out.append(UInt8(ascii: ",")) }
                        out.append(contentsOf: #"{"name":"#.utf8)
                        Self.appendString(first.names[c].utf8, to: &out)
                        out.append(contentsOf: #","type":"#.utf8)
                        Self.appendString(first.columns[c].type.sqlName.utf8, to: &out)
                        out.append(contentsOf: #","values":["#.utf8)
                    }
                    while cursor.batch < batches.count {
                        if cursor.row == 0 { try batches[cursor.batch].columns[c].checkMonotone(0..<batches[cursor.batch].rowCount) }
                        while cursor.row < batches[cursor.batch].rowCount {
                            if cursor.started { out.append(UInt8(ascii: ",")) }
                            cursor.started = true
                            try Self.appendValue(batches[cursor.batch].columns[c], row: cursor.row, to: &out)
                            cursor.row += 1
                            if out.count >= limit { return }
                        }
                        cursor.batch += 1
                        cursor.row = 0
                    }
                    out.append(contentsOf: "]}".utf8)
                    cursor.column += 1
                    cursor.batch = 0
                    cursor.started = false
                }
                out.append(contentsOf: "]}".utf8)
                cursor.phase = .done
            }
        }
    }

    @inline(__always)
    static func appendValue(_ column: borrowing RawColumn, row: Int, to out: inout [UInt8]) throws {
        if column.isNull(row) {
            out.append(contentsOf: "null".utf8)
            return
        }
        switch column.type {
        case .varchar, .uuid, .enumeration:
            let bytes = try column.bytes(row)
            if TextEncoding.isValidUTF8(bytes) {
                appendString(bytes, to: &out)
            } else {
                appendString(String(decoding: bytes, as: UTF8.self).utf8, to: &out)
            }
        case .float, .double:
            let x = column.type == .float ? Double(column.load(row, as: Float.self)) : column.load(row, as: Double.self)
            if !x.isFinite {
                out.append(contentsOf: "null".utf8)
            } else if column.type == .float {
                out.append(contentsOf: Float(x).description.utf8)
            } else {
                ValueFormatting.appendDouble(x, integral: false, to: &out)
            }
        case .hugeint:
            let v = column.load(row, as: Int128.self)
            let quoted = !ValueFormatting.isDoubleExact(v)
            if quoted { out.append(UInt8(ascii: "\"")) }
            ValueFormatting.appendInt128(v, to: &out)
            if quoted { out.append(UInt8(ascii: "\"")) }
        case .uhugeint:
            let v = column.load(row, as: UInt128.self)
            let quoted = v > 1 << 53
            if quoted { out.append(UInt8(ascii: "\"")) }
            ValueFormatting.appendUInt128(v, to: &out)
            if quoted { out.append(UInt8(ascii: "\"")) }
        case .decimal(_, let scale):
            let v = column.load(row, as: Int128.self)
            let quoted = !ValueFormatting.isDoubleExact(decimal: v)
            if quoted { out.append(UInt8(ascii: "\"")) }
            ValueFormatting.appendDecimal(v, scale: Int(scale), to: &out)
            if quoted { out.append(UInt8(ascii: "\"")) }
        case .list:
            let range = try column.listRange(row)
            try column.children[0].checkMonotone(range)
            out.append(UInt8(ascii: "["))
            for r in range {
                if r > range.lowerBound { out.append(UInt8(ascii: ",")) }
                try appendValue(column.children[0], row: r, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .structure(let fields):
            out.append(UInt8(ascii: "{"))
            for (i, field) in fields.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                appendString(field.name.utf8, to: &out)
                out.append(UInt8(ascii: ":"))
                try appendValue(column.children[i], row: row, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        case .map:
            let range = try column.listRange(row)
            let entries = column.children[0]
            try entries.checkMonotone(range)
            out.append(UInt8(ascii: "{"))
            for r in range {
                if r > range.lowerBound { out.append(UInt8(ascii: ",")) }
                let key = entries.children[0]
                var text: [UInt8] = []
                if key.isNull(r) {
                    text = Array("null".utf8)
                } else if key.type.isNested {
                    try TextEncoding.appendNested(key, row: r, timestampSeparator: UInt8(ascii: "T"), to: &text)
                } else {
                    try TextEncoding.appendPlain(key, row: r, timestampSeparator: UInt8(ascii: "T"), to: &text)
                }
                if text.withUnsafeBytes({ TextEncoding.isValidUTF8($0) }) {
                    appendString(text, to: &out)
                } else {
                    appendString(String(decoding: text, as: UTF8.self).utf8, to: &out)
                }
                out.append(UInt8(ascii: ":"))
                try appendValue(entries.children[1], row: r, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        case .date, .time, .timestamp, .timestampTZ, .interval, .blob:
            out.append(UInt8(ascii: "\""))
            try TextEncoding.appendPlain(column, row: row, timestampSeparator: UInt8(ascii: "T"), to: &out)
            out.append(UInt8(ascii: "\""))
        default:
            try TextEncoding.appendPlain(column, row: row, timestampSeparator: UInt8(ascii: "T"), to: &out)
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

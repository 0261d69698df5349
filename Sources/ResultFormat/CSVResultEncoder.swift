/// Encodes a result as CSV per RFC 4180, from a ``QueryResult`` or straight from an
/// ``ArchivedResult``: a header line with the column names, one line per row, CRLF line breaks,
/// fields containing a comma, quote, CR or LF enclosed in double quotes with quotes doubled.
///
/// SQL NULL is an empty field; an empty string is `""` so the two stay distinguishable. Other values
/// use the shared text forms (timestamps with a space separator, e.g. `2024-01-31 12:00:00.5`,
/// TIMESTAMPTZ with a trailing `Z`; non-finite floats as `nan`, `inf`, `-inf`; blobs as base64).
/// String bytes are written as stored.
public struct CSVResultEncoder: Sendable {
    /// The line terminator; RFC 4180 specifies CRLF.
    public var lineTerminator: [UInt8]

    /// Creates an encoder.
    /// - Parameter lineTerminator: the line break to write (default CRLF)
    public init(lineTerminator: String = "\r\n") {
        self.lineTerminator = Array(lineTerminator.utf8)
    }

    /// Encodes a result.
    /// - Parameter result: the result to encode
    /// - Returns: UTF-8 CSV bytes, each line (the last too) ending with the line terminator
    /// - Complexity: O(bytes of output)
    public func encode(_ result: QueryResult) -> [UInt8] {
        TextEncoding.encode(result, bytesPerValue: 8, loop)
    }

    /// Encodes an archived result, reading values in place.
    /// - Parameter archive: the result to encode
    /// - Returns: UTF-8 CSV bytes
    /// - Throws: ``ArchiveError`` when a string's offsets are malformed
    /// - Complexity: O(bytes of output)
    public func encode(_ archive: ArchivedResult) throws -> [UInt8] {
        try TextEncoding.encode(archive, bytesPerValue: 8, loop)
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
        EncodedChunks(source: .archive(archive), chunkSize: chunkSize, loop: loop, forwardOnly: true)
    }

    /// The encoding of a result as an async sequence of byte chunks, encoded as they are pulled.
    /// - Parameters:
    ///   - result: the result to encode
    ///   - chunkSize: about how many bytes each chunk holds
    /// - Returns: the chunks, in order; their concatenation equals ``encode(_:)-(QueryResult)``
    public func chunks(_ result: QueryResult, chunkSize: Int = 1 << 16) -> EncodedChunks {
        EncodedChunks(source: .result(result), chunkSize: chunkSize, loop: loop, forwardOnly: true)
    }

    /// The resumable loop, as a value the chunk sequences keep.
    var loop: TextEncoding.Loop {
        let encoder = self
        return { batches, cursor, out, limit in try encoder.encode(batches, &cursor, &out, limit: limit) }
    }

    /// Appends text from `cursor` on until `out` holds `limit` bytes or the output is complete.
    func encode(_ batches: [RawBatch], _ cursor: inout TextEncoding.Cursor, _ out: inout [UInt8], limit: Int) throws {
        guard let first = batches.first else {
            cursor.phase = .done
            return
        }
        if cursor.phase == .start {
            for (c, name) in first.names.enumerated() {
                if c > 0 { out.append(UInt8(ascii: ",")) }
                let name = Array(name.utf8)
                name.withUnsafeBytes { Self.appendField($0, forceQuotes: name.isEmpty, to: &out) }
            }
            out.append(contentsOf: lineTerminator)
            cursor.phase = .body
        }
        guard cursor.phase == .body else { return }
        var scratch: [UInt8] = []
        while cursor.batch < batches.count {
            let batch = batches[cursor.batch]
            if cursor.row == 0 { for c in batch.columns.indices { try batch.columns[c].checkMonotone(0..<batch.rowCount) } }
            while cursor.row < batch.rowCount {
                let row = cursor.row
                // Indices, not enumerated(): a RawColumn copy per value would retain its children.
                for c in batch.columns.indices {
                    if c > 0 { out.append(UInt8(ascii: ",")) }
                    try Self.appendField(batch.columns[c], row: row, scratch: &scratch, to: &out)
                }
                out.append(contentsOf: lineTerminator)
                cursor.row += 1
                if out.count >= limit { return }
            }
            cursor.batch += 1
            cursor.row = 0
        }
        cursor.phase = .done
    }

    /// Appends one value's field (nothing for NULL).
    @inline(__always)
    static func appendField(_ column: borrowing RawColumn, row: Int, scratch: inout [UInt8], to out: inout [UInt8]) throws {
        if column.isNull(row) { return }
        switch column.layoutKind {
        case .text:
            let bytes = try column.bytes(row)
            appendField(bytes, forceQuotes: bytes.isEmpty, to: &out)
        case .plainNumber:
            // Never contain a comma, quote or line break.
            try TextEncoding.appendPlain(column, row: row, timestampSeparator: UInt8(ascii: " "), to: &out)
        case .other:
            scratch.removeAll(keepingCapacity: true)
            try TextEncoding.appendPlain(column, row: row, timestampSeparator: UInt8(ascii: " "), to: &scratch)
            // An empty blob is `""`, apart from NULL's empty field.
            scratch.withUnsafeBytes { appendField($0, forceQuotes: scratch.isEmpty, to: &out) }
        }
    }

    static func appendField(_ field: UnsafeRawBufferPointer, forceQuotes: Bool, to out: inout [UInt8]) {
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

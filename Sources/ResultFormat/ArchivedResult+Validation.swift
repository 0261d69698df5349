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
            for b in batchLengths.indices {
                for node in nodes.indices {
                    try validate(node: node, batch: b, bytes: bytes)
                }
            }
        }
    }

    private func validate(node n: Int, batch b: Int, bytes: UnsafeRawBufferPointer) throws {
        let node = nodes[n]
        let buffers = self.buffers(batch: b, node: n)
        let length = buffers.length
        if let validity = buffers.validity {
            let valid = Self.countSetBits(bytes, from: validity, bits: length)
            guard length - valid == buffers.nullCount else {
                throw ArchiveError(.inconsistent, "column \"\(node.name)\" declares \(buffers.nullCount) nulls, its bitmap has \(length - valid)")
            }
        }
        let limit: Int
        switch node.layout {
        case .variable: limit = buffers.data.count
        case .list: limit = node.children.first.map { self.buffers(batch: b, node: $0).length } ?? 0
        default: return
        }
        guard length > 0 else { return }
        let checkUTF8 = node.layout == .variable && !isBlob(node: n)
        var previous = Int(Int32.load(from: bytes, at: buffers.values.lowerBound))
        guard previous >= 0 else {
            throw ArchiveError(.invalidData, "column \"\(node.name)\" has a negative first offset")
        }
        for row in 0..<length {
            let end = Int(Int32.load(from: bytes, at: buffers.values.lowerBound + 4 * (row + 1)))
            guard previous <= end, end <= limit else {
                throw ArchiveError(.invalidData, "row \(row) of column \"\(node.name)\" has offsets \(previous)..\(end) outside its \(limit) \(node.layout == .list ? "elements" : "bytes")")
            }
            if checkUTF8 {
                let value = UnsafeRawBufferPointer(rebasing: bytes[(buffers.data.lowerBound + previous)..<(buffers.data.lowerBound + end)])
                guard Self.isValidUTF8(value) else {
                    throw ArchiveError(.invalidData, "row \(row) of column \"\(node.name)\" is not valid UTF-8")
                }
            }
            previous = end
        }
    }

    /// Whether a variable-length node holds bytes rather than text.
    private func isBlob(node: Int) -> Bool { nodes[node].type == .blob }

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
        let perBatch: [[Column]] = try withRawBatches { batches in
            try batches.map { batch in
                try zip(batch.columns, fields).map { raw, field in try raw.column(name: field.name, rows: 0..<batch.rowCount) }
            }
        }
        var columns: [Column] = []
        for (c, field) in fields.enumerated() {
            let parts = perBatch.map { $0[c] }
            guard let column = Column.concatenating(parts) else {
                throw ArchiveError(.inconsistent, "column \"\(field.name)\" could not be joined across batches")
            }
            columns.append(column)
        }
        return QueryResult(unchecked: columns, rowCount: rowCount)
    }
}

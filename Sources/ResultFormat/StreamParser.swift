/// Reads the structure of an Arrow IPC stream: framing, schema, record batch metadata. Checks every
/// count and range it reads against the bytes it was given; touches no column values.
enum StreamParser {
    struct Parsed {
        var fields: [ArchivedField] = []
        /// Per field: its buffer layout (computed once, used for every batch).
        var layouts: [PhysicalLayout] = []
        /// Buffers per record batch, from the layouts.
        var bufferCount = 0
        var lengths: [Int] = []
        var starts: [Int] = []
        var rowCount = 0
        /// Batch after batch, one entry per column.
        var buffers: [ColumnBuffers] = []
    }

    /// The most rows one batch may claim; keeps every size computation far from overflow.
    static let maxBatchLength = Int(Int32.max)

    static func parse(_ bytes: UnsafeRawBufferPointer) throws -> Parsed {
        var parsed = Parsed()
        var schemaSeen = false
        var position = 0
        while position < bytes.count {
            // Framing: 0xFFFFFFFF then the metadata length, or (before Arrow 0.15) the length alone.
            var length = Int(try bytes.checkedLoad(Int32.self, at: position))
            position += 4
            if UInt32(truncatingIfNeeded: length) == Arrow.continuation {
                length = Int(try bytes.checkedLoad(Int32.self, at: position))
                position += 4
            }
            if length == 0 { break }  // end-of-stream marker
            guard length > 0, length <= bytes.count - position else {
                throw ArchiveError(.truncated, "message metadata of \(length) bytes at \(position) runs past the end")
            }
            let metadata = UnsafeRawBufferPointer(rebasing: bytes[position..<(position + length)])
            position += length
            let message = try FlatBufferTable.root(of: metadata)
            let version: Int16 = try message.scalar(Arrow.Slot.messageVersion, default: 0)
            guard version >= 3 else {
                throw ArchiveError(.unsupported, "metadata version V\(version + 1) (V4 or V5 needed)")
            }
            let bodyLength = Int(try message.scalar(Arrow.Slot.messageBodyLength, default: Int64(0)))
            guard bodyLength >= 0, bodyLength <= bytes.count - position else {
                throw ArchiveError(.truncated, "message body of \(bodyLength) bytes at \(position) runs past the end")
            }
            let body = position..<(position + bodyLength)
            position += bodyLength
            let headerType: UInt8 = try message.scalar(Arrow.Slot.messageHeaderType, default: 0)
            guard let header = try message.table(Arrow.Slot.messageHeader) else {
                throw ArchiveError(.malformedMetadata, "message without a header")
            }
            switch Arrow.MessageHeader(rawValue: headerType) {
            case .schema:
                guard !schemaSeen else { throw ArchiveError(.malformedMetadata, "a second schema message") }
                parsed.fields = try parseSchema(header)
                parsed.layouts = parsed.fields.map(\.type.physicalLayout)
                parsed.bufferCount = parsed.layouts.reduce(0) { $0 + $1.bufferCount }
                // Room for 16 batches (1 M rows at the writer's default) without regrowing.
                parsed.buffers.reserveCapacity(16 * parsed.fields.count)
                parsed.lengths.reserveCapacity(16)
                parsed.starts.reserveCapacity(16)
                schemaSeen = true
            case .recordBatch:
                guard schemaSeen else { throw ArchiveError(.malformedMetadata, "a record batch before the schema") }
                let length = try parseBatch(header, body: body, into: &parsed)
                parsed.lengths.append(length)
                parsed.starts.append(parsed.rowCount)
                parsed.rowCount += length
            case .dictionaryBatch:
                throw ArchiveError(.unsupported, "dictionary-encoded columns")
            case nil:
                throw ArchiveError(.malformedMetadata, "unknown message type \(headerType)")
            }
        }
        guard schemaSeen else { throw ArchiveError(.truncated, "the stream has no schema message") }
        return parsed
    }

    static func parseSchema(_ schema: FlatBufferTable) throws -> [ArchivedField] {
        guard try schema.scalar(Arrow.Slot.schemaEndianness, default: Int16(0)) == 0 else {
            throw ArchiveError(.unsupported, "big-endian data")
        }
        var fields: [ArchivedField] = []
        // FlatBuffers lets many entries point at one table: a small schema could name a huge string
        // for every one of many fields. Decoded bytes and visited metadata pairs may not exceed what
        // distinct tables could hold, which keeps opening O(metadata).
        let budget = schema.buffer.count
        var decoded = 0
        func spend(_ bytes: Int) throws {
            decoded += bytes
            guard decoded <= budget else {
                throw ArchiveError(.malformedMetadata, "the schema decodes to more than its \(budget) bytes (shared tables)")
            }
        }
        for field in try schema.tables(Arrow.Slot.schemaFields) {
            let name = try field.string(Arrow.Slot.fieldName) ?? ""
            try spend(8 + name.utf8.count)
            guard try !field.has(Arrow.Slot.fieldDictionary) else {
                throw ArchiveError(.unsupported, "column \"\(name)\" is dictionary-encoded")
            }
            guard try field.vector(Arrow.Slot.fieldChildren, elementSize: 4)?.count ?? 0 == 0 else {
                throw ArchiveError(.unsupported, "column \"\(name)\" has a nested type")
            }
            var duckDBType: String?
            for pair in try field.tables(Arrow.Slot.fieldMetadata) {
                let key = try pair.string(Arrow.Slot.key) ?? ""
                try spend(8 + key.utf8.count)
                if key == Arrow.duckDBTypeKey {
                    duckDBType = try pair.string(Arrow.Slot.value)
                    try spend(duckDBType?.utf8.count ?? 0)
                }
            }
            let typeID: UInt8 = try field.scalar(Arrow.Slot.fieldTypeType, default: 0)
            guard let typeTable = try field.table(Arrow.Slot.fieldType) else {
                throw ArchiveError(.malformedMetadata, "column \"\(name)\" has no type")
            }
            let type = try ColumnType.fromArrow(typeID: typeID, table: typeTable, duckDBType: duckDBType)
            fields.append(ArchivedField(name: name, type: type))
        }
        return fields
    }

    /// Checks one record batch and appends its columns' buffers; returns its row count.
    ///
    /// Runs for every batch of every open, so it avoids touching the fields' names (strings) unless
    /// it reports an error, and reads the node and buffer vectors, whose extent `vector` checked,
    /// without further checks.
    static func parseBatch(_ batch: FlatBufferTable, body: Range<Int>, into parsed: inout Parsed) throws -> Int {
        let columnCount = parsed.layouts.count
        guard try !batch.has(Arrow.Slot.batchCompression) else {
            throw ArchiveError(.unsupported, "compressed record batches")
        }
        let length = Int(try batch.scalar(Arrow.Slot.batchLength, default: Int64(0)))
        guard length >= 0, length <= maxBatchLength else {
            throw ArchiveError(.inconsistent, "record batch claims \(length) rows")
        }
        guard length == 0 || columnCount > 0 else {
            throw ArchiveError(.inconsistent, "record batch of \(length) rows without columns")
        }
        let nodes = try batch.vector(Arrow.Slot.batchNodes, elementSize: 16) ?? (0, 0)
        let buffers = try batch.vector(Arrow.Slot.batchBuffers, elementSize: 16) ?? (0, 0)
        guard nodes.count == columnCount else {
            throw ArchiveError(.inconsistent, "record batch has \(nodes.count) field nodes for \(columnCount) columns")
        }
        guard buffers.count == parsed.bufferCount else {
            throw ArchiveError(.inconsistent, "record batch has \(buffers.count) buffers, \(parsed.bufferCount) expected")
        }
        var cursor = BufferCursor(metadata: batch.buffer, at: buffers.start, body: body)
        var failure: (column: Int, problem: String)?
        // Room for this batch up front (growing geometrically), so the appends below stay simple.
        if parsed.buffers.capacity - parsed.buffers.count < columnCount {
            parsed.buffers.reserveCapacity(2 * (parsed.buffers.count + columnCount))
        }
        for c in 0..<columnCount {
            let nodeLength = cursor.int64(nodes.start + 16 * c)
            let nullCount = cursor.int64(nodes.start + 16 * c + 8)
            guard nodeLength == length, nullCount >= 0, nullCount <= length else {
                failure = (c, "has \(nodeLength) rows and \(nullCount) nulls in a batch of \(length)")
                break
            }
            let validity = cursor.next(minimum: nullCount > 0 ? (length + 7) / 8 : 0)
            let values: Range<Int>
            var data = 0..<0
            switch parsed.layouts[c] {
            case .bitmap: values = cursor.next(minimum: (length + 7) / 8)
            case .fixed(let width): values = cursor.next(minimum: length * width)
            case .variable:
                // A batch without rows may omit even the single offset.
                values = cursor.next(minimum: length == 0 ? 0 : (length + 1) * 4)
                data = cursor.next(minimum: 0)
            }
            if let problem = cursor.failure {
                failure = (c, "has a buffer \(problem) (\(length) rows)")
                break
            }
            parsed.buffers.append(ColumnBuffers(
                nullCount: nullCount, validityStart: validity.lowerBound, values: values, data: data))
        }
        if let failure {
            throw ArchiveError(.inconsistent, "column \"\(parsed.fields[failure.column].name)\" \(failure.problem)")
        }
        return length
    }

    /// Walks a record batch's buffer vector, checking each buffer against the body.
    struct BufferCursor {
        /// The metadata; the node and buffer vectors lie inside it (checked by `vector`).
        let metadata: UnsafeRawBufferPointer
        var at: Int
        let body: Range<Int>
        /// Why the last buffer was rejected, if one was.
        var failure: String?

        @inline(__always)
        func int64(_ offset: Int) -> Int {
            Int(Int64(littleEndian: metadata.loadUnaligned(fromByteOffset: offset, as: Int64.self)))
        }

        /// The next buffer's absolute range, or an empty range with ``failure`` set.
        @inline(__always)
        mutating func next(minimum: Int) -> Range<Int> {
            let offset = int64(at), size = int64(at + 8)
            at += 16
            guard offset >= 0, size >= 0, offset <= body.count, size <= body.count - offset else {
                failure = "outside the message body"
                return 0..<0
            }
            guard size >= minimum else {
                failure = "of \(size) bytes where \(minimum) are needed"
                return 0..<0
            }
            return (body.lowerBound + offset)..<(body.lowerBound + offset + size)
        }
    }
}

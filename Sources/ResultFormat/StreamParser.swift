/// Reads the structure of an Arrow IPC stream: framing, schema, record batch metadata. Checks every
/// count and range it reads against the bytes it was given; touches no column values.
enum StreamParser {
    struct Parsed {
        var fields: [ArchivedField] = []
        var batches: [BatchLayout] = []
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
                schemaSeen = true
            case .recordBatch:
                guard schemaSeen else { throw ArchiveError(.malformedMetadata, "a record batch before the schema") }
                parsed.batches.append(try parseBatch(header, body: body, fields: parsed.fields))
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
        for field in try schema.tables(Arrow.Slot.schemaFields) {
            let name = try field.string(Arrow.Slot.fieldName) ?? ""
            guard try !field.has(Arrow.Slot.fieldDictionary) else {
                throw ArchiveError(.unsupported, "column \"\(name)\" is dictionary-encoded")
            }
            guard try field.vector(Arrow.Slot.fieldChildren, elementSize: 4)?.count ?? 0 == 0 else {
                throw ArchiveError(.unsupported, "column \"\(name)\" has a nested type")
            }
            var duckDBType: String?
            for pair in try field.tables(Arrow.Slot.fieldMetadata) {
                if try pair.string(Arrow.Slot.key) == Arrow.duckDBTypeKey {
                    duckDBType = try pair.string(Arrow.Slot.value)
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

    static func parseBatch(_ batch: FlatBufferTable, body: Range<Int>, fields: [ArchivedField]) throws -> BatchLayout {
        guard try !batch.has(Arrow.Slot.batchCompression) else {
            throw ArchiveError(.unsupported, "compressed record batches")
        }
        let length = Int(try batch.scalar(Arrow.Slot.batchLength, default: Int64(0)))
        guard length >= 0, length <= maxBatchLength else {
            throw ArchiveError(.inconsistent, "record batch claims \(length) rows")
        }
        guard length == 0 || !fields.isEmpty else {
            throw ArchiveError(.inconsistent, "record batch of \(length) rows without columns")
        }
        let nodes = try batch.vector(Arrow.Slot.batchNodes, elementSize: 16) ?? (0, 0)
        let buffers = try batch.vector(Arrow.Slot.batchBuffers, elementSize: 16) ?? (0, 0)
        guard nodes.count == fields.count else {
            throw ArchiveError(.inconsistent, "record batch has \(nodes.count) field nodes for \(fields.count) columns")
        }
        let expectedBuffers = fields.reduce(0) { $0 + $1.type.physicalLayout.bufferCount }
        guard buffers.count == expectedBuffers else {
            throw ArchiveError(.inconsistent, "record batch has \(buffers.count) buffers, \(expectedBuffers) expected")
        }
        let metadata = batch.buffer
        var bufferIndex = 0
        func nextBuffer(_ column: String, minimum: Int) throws -> Range<Int> {
            let at = buffers.start + 16 * bufferIndex
            bufferIndex += 1
            let offset = Int(try metadata.checkedLoad(Int64.self, at: at))
            let size = Int(try metadata.checkedLoad(Int64.self, at: at + 8))
            guard offset >= 0, size >= 0, offset <= body.count, size <= body.count - offset else {
                throw ArchiveError(.inconsistent, "a buffer of column \"\(column)\" lies outside the message body")
            }
            guard size >= minimum else {
                throw ArchiveError(.inconsistent, "a buffer of column \"\(column)\" has \(size) bytes, \(minimum) needed for \(length) rows")
            }
            return (body.lowerBound + offset)..<(body.lowerBound + offset + size)
        }
        var columns: [BatchLayout.ColumnBuffers] = []
        columns.reserveCapacity(fields.count)
        for (c, field) in fields.enumerated() {
            let nodeLength = Int(try metadata.checkedLoad(Int64.self, at: nodes.start + 16 * c))
            let nullCount = Int(try metadata.checkedLoad(Int64.self, at: nodes.start + 16 * c + 8))
            guard nodeLength == length else {
                throw ArchiveError(.inconsistent, "column \"\(field.name)\" has \(nodeLength) rows in a batch of \(length)")
            }
            guard nullCount >= 0, nullCount <= length else {
                throw ArchiveError(.inconsistent, "column \"\(field.name)\" claims \(nullCount) nulls in \(length) rows")
            }
            let validity = try nextBuffer(field.name, minimum: nullCount > 0 ? (length + 7) / 8 : 0)
            let values: Range<Int>
            var data = 0..<0
            switch field.type.physicalLayout {
            case .bitmap: values = try nextBuffer(field.name, minimum: (length + 7) / 8)
            case .fixed(let width): values = try nextBuffer(field.name, minimum: length * width)
            case .variable:
                // A batch without rows may omit even the single offset.
                values = try nextBuffer(field.name, minimum: length == 0 ? 0 : (length + 1) * 4)
                data = try nextBuffer(field.name, minimum: 0)
            }
            columns.append(.init(
                nullCount: nullCount, validity: nullCount > 0 ? validity : nil, values: values, data: data))
        }
        return BatchLayout(length: length, columns: columns)
    }
}

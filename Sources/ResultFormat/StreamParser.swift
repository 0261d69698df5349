/// Reads the structure of an Arrow IPC stream: framing, schema, record batch metadata. Checks every
/// count and range it reads against the bytes it was given; touches no column values.
enum StreamParser {
    struct Parsed {
        var fields: [ArchivedField] = []
        /// Every array node of the schema, depth first (a column, then its children).
        var nodes: [ArchivedNode] = []
        /// The node of each top-level column.
        var roots: [Int] = []
        /// Per node, its layout and its parent's index when the parent is a STRUCT (its length is
        /// then the node's minimum), -1 for a column (its length is the batch's), -2 for a LIST's or
        /// MAP's child (any length): flat arrays, so checking a batch copies no node.
        var layouts: [PhysicalLayout] = []
        var structParents: [Int] = []
        /// Buffers per record batch, from the layouts.
        var bufferCount = 0
        var lengths: [Int] = []
        var starts: [Int] = []
        var rowCount = 0
        /// Batch after batch, one entry per node.
        var buffers: [ColumnBuffers] = []
    }

    /// The most columns and nested fields a schema may have.
    static let maxNodes = 1 << 16

    /// The most rows one batch may claim; keeps every size computation far from overflow.
    static let maxBatchLength = Int(Int32.max)

    static func parse(_ bytes: UnsafeRawBufferPointer) throws -> Parsed {
        var parsed = Parsed()
        var schemaSeen = false
        var position = 0
        var ended = false
        while position < bytes.count {
            // Framing: 0xFFFFFFFF then the metadata length, or (before Arrow 0.15) the length alone.
            var length = Int(try bytes.checkedLoad(Int32.self, at: position))
            position += 4
            if UInt32(truncatingIfNeeded: length) == Arrow.continuation {
                length = Int(try bytes.checkedLoad(Int32.self, at: position))
                position += 4
            }
            if length == 0 {  // end-of-stream marker
                ended = true
                break
            }
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
                try parseSchema(header, into: &parsed)
                parsed.layouts = parsed.nodes.map(\.layout)
                parsed.structParents = [Int](repeating: -2, count: parsed.nodes.count)
                for root in parsed.roots { parsed.structParents[root] = -1 }
                for (index, node) in parsed.nodes.enumerated() where node.layout == .structure {
                    for child in node.children { parsed.structParents[child] = index }
                }
                parsed.bufferCount = parsed.nodes.reduce(0) { $0 + $1.layout.bufferCount }
                // Room for 16 batches (1 M rows at the writer's default) without regrowing, bounded
                // whatever the schema claims.
                parsed.buffers.reserveCapacity(min(16 * parsed.nodes.count, 1 << 16))
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
        // A stream cut between two messages would otherwise open with fewer rows: a cache must
        // never serve part of a result as the whole.
        guard ended else { throw ArchiveError(.truncated, "the stream ends without its end-of-stream marker") }
        guard position == bytes.count else {
            throw ArchiveError(.malformedMetadata, "\(bytes.count - position) bytes after the end-of-stream marker")
        }
        return parsed
    }

    static func parseSchema(_ schema: FlatBufferTable, into parsed: inout Parsed) throws {
        guard try schema.scalar(Arrow.Slot.schemaEndianness, default: Int16(0)) == 0 else {
            throw ArchiveError(.unsupported, "big-endian data")
        }
        // FlatBuffers lets many entries point at one table: a small schema could name a huge string
        // for every one of many fields, or the same child field many times at every level. Decoded
        // bytes, visited metadata pairs and fields may not exceed what distinct tables could hold,
        // which keeps opening O(metadata); nesting is bounded too.
        var budget = Budget(limit: schema.buffer.count)
        for field in try schema.tables(Arrow.Slot.schemaFields) {
            let (archived, node) = try parseField(field, depth: 0, budget: &budget, nodes: &parsed.nodes)
            parsed.fields.append(archived)
            parsed.roots.append(node)
        }
    }

    struct Budget {
        let limit: Int
        var spent = 0
        mutating func spend(_ bytes: Int) throws {
            spent += bytes
            guard spent <= limit else {
                throw ArchiveError(.malformedMetadata, "the schema decodes to more than its \(limit) bytes (shared tables)")
            }
        }
    }

    /// Reads one field and its children into `nodes` (depth first); returns it and its node index.
    static func parseField(
        _ field: FlatBufferTable, depth: Int, budget: inout Budget, nodes: inout [ArchivedNode]
    ) throws -> (ArchivedField, Int) {
        let name = try field.string(Arrow.Slot.fieldName) ?? ""
        try budget.spend(16 + name.utf8.count)
        guard depth < Arrow.maxNestingDepth else {
            throw ArchiveError(.unsupported, "column \"\(name)\" nests deeper than \(Arrow.maxNestingDepth) levels")
        }
        guard try !field.has(Arrow.Slot.fieldDictionary) else {
            throw ArchiveError(.unsupported, "column \"\(name)\" is dictionary-encoded")
        }
        var duckDBType: String?
        var extensionName: String?
        var extensionMetadata: String?
        for pair in try field.tables(Arrow.Slot.fieldMetadata) {
            let key = try pair.string(Arrow.Slot.key) ?? ""
            try budget.spend(8 + key.utf8.count)
            guard key == Arrow.duckDBTypeKey || key == Arrow.extensionNameKey || key == Arrow.extensionMetadataKey else { continue }
            let value = try pair.string(Arrow.Slot.value)
            try budget.spend(value?.utf8.count ?? 0)
            switch key {
            case Arrow.duckDBTypeKey: duckDBType = value
            case Arrow.extensionNameKey: extensionName = value
            default: extensionMetadata = value
            }
        }
        let index = nodes.count
        guard index < maxNodes else {
            throw ArchiveError(.unsupported, "the schema has more than \(maxNodes) columns and nested fields")
        }
        nodes.append(ArchivedNode(name: name, type: .boolean, layout: .structure, children: []))
        var children: [ArchivedField] = []
        var childNodes: [Int] = []
        for child in try field.tables(Arrow.Slot.fieldChildren) {
            let (archived, node) = try parseField(child, depth: depth + 1, budget: &budget, nodes: &nodes)
            children.append(archived)
            childNodes.append(node)
        }
        let typeID: UInt8 = try field.scalar(Arrow.Slot.fieldTypeType, default: 0)
        guard let typeTable = try field.table(Arrow.Slot.fieldType) else {
            throw ArchiveError(.malformedMetadata, "column \"\(name)\" has no type")
        }
        let isUHugeInt = extensionName == Arrow.opaqueExtension && (extensionMetadata?.contains(#""type_name":"uhugeint""#) ?? false)
        let type = try ColumnType.fromArrow(
            typeID: typeID, table: typeTable, duckDBType: duckDBType, isUHugeInt: isUHugeInt, children: children)
        nodes[index] = ArchivedNode(name: name, type: type, layout: type.physicalLayout, children: childNodes)
        return (ArchivedField(name: name, type: type), index)
    }

    /// Checks one record batch and appends its columns' buffers; returns its row count.
    ///
    /// Runs for every batch of every open, so it avoids touching the fields' names (strings) unless
    /// it reports an error, and reads the node and buffer vectors, whose extent `vector` checked,
    /// without further checks.
    static func parseBatch(_ batch: FlatBufferTable, body: Range<Int>, into parsed: inout Parsed) throws -> Int {
        let nodeCount = parsed.nodes.count
        guard try !batch.has(Arrow.Slot.batchCompression) else {
            throw ArchiveError(.unsupported, "compressed record batches")
        }
        let length = Int(try batch.scalar(Arrow.Slot.batchLength, default: Int64(0)))
        guard length >= 0, length <= maxBatchLength else {
            throw ArchiveError(.inconsistent, "record batch claims \(length) rows")
        }
        guard length == 0 || nodeCount > 0 else {
            throw ArchiveError(.inconsistent, "record batch of \(length) rows without columns")
        }
        let nodes = try batch.vector(Arrow.Slot.batchNodes, elementSize: 16) ?? (0, 0)
        let buffers = try batch.vector(Arrow.Slot.batchBuffers, elementSize: 16) ?? (0, 0)
        guard nodes.count == nodeCount else {
            throw ArchiveError(.inconsistent, "record batch has \(nodes.count) field nodes for \(nodeCount) arrays")
        }
        guard buffers.count == parsed.bufferCount else {
            throw ArchiveError(.inconsistent, "record batch has \(buffers.count) buffers, \(parsed.bufferCount) expected")
        }
        var cursor = BufferCursor(metadata: batch.buffer, at: buffers.start, body: body)
        var failure: (node: Int, problem: String)?
        // Room for this batch up front (growing geometrically), so the appends below stay simple.
        if parsed.buffers.capacity - parsed.buffers.count < nodeCount {
            parsed.buffers.reserveCapacity(2 * (parsed.buffers.count + nodeCount))
        }
        let first = parsed.buffers.count
        for n in 0..<nodeCount {
            let nodeLength = cursor.int64(nodes.start + 16 * n)
            let nullCount = cursor.int64(nodes.start + 16 * n + 8)
            // The length each node must have: the batch's for a column, at least the parent's for a
            // struct's field (its parent, earlier in depth-first order, is already appended); a
            // list's child may hold any number of elements (offsets are checked against it on
            // access and by validate()).
            let parent = parsed.structParents[n]
            let lengthFits = parent == -1 ? nodeLength == length
                : parent >= 0 ? nodeLength >= parsed.buffers[first + parent].length : true
            guard nodeLength >= 0, nodeLength <= maxBatchLength, lengthFits, nullCount >= 0, nullCount <= nodeLength else {
                failure = (n, "has \(nodeLength) rows and \(nullCount) nulls in a batch of \(length)")
                break
            }
            let validity = cursor.next(minimum: nullCount > 0 ? (nodeLength + 7) / 8 : 0)
            var values = 0..<0
            var data = 0..<0
            switch parsed.layouts[n] {
            case .bitmap: values = cursor.next(minimum: (nodeLength + 7) / 8)
            case .fixed(let width): values = cursor.next(minimum: nodeLength * width)
            case .variable:
                // A batch without rows may omit even the single offset.
                values = cursor.next(minimum: nodeLength == 0 ? 0 : (nodeLength + 1) * 4)
                data = cursor.next(minimum: 0)
            case .list: values = cursor.next(minimum: nodeLength == 0 ? 0 : (nodeLength + 1) * 4)
            case .structure: break
            }
            if let problem = cursor.failure {
                failure = (n, "has a buffer \(problem) (\(nodeLength) rows)")
                break
            }
            parsed.buffers.append(ColumnBuffers(
                length: nodeLength, nullCount: nullCount, validityStart: validity.lowerBound, values: values, data: data))
        }
        if let failure {
            parsed.buffers.removeSubrange(first...)
            throw ArchiveError(.inconsistent, "column \"\(parsed.nodes[failure.node].name)\" \(failure.problem)")
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

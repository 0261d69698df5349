/// Writes a ``QueryResult`` as an Arrow IPC stream: a schema message, record batches of up to
/// ``maxRowsPerBatch`` rows, and the end-of-stream marker.
///
/// Type mapping (DuckDB's own Arrow export where the two overlap):
///
/// | column type | Arrow type |
/// |---|---|
/// | BOOLEAN | bool |
/// | TINYINT … BIGINT, UTINYINT … UBIGINT | int8 … int64, uint8 … uint64 |
/// | FLOAT, DOUBLE | float32, float64 |
/// | DECIMAL(w, s) | decimal128(w, s) |
/// | HUGEINT | decimal128(38, 0) |
/// | UHUGEINT | fixed_size_binary(16) with the `arrow.opaque` extension (type_name `uhugeint`, vendor `DuckDB`) |
/// | LIST | list (child field `l`) |
/// | STRUCT | struct |
/// | MAP | map (non-null `entries` struct of a non-null `key` and a `value`) |
/// | VARCHAR, UUID, ENUM | utf8 (DuckDB exports ENUM as a dictionary) |
/// | BLOB | binary |
/// | DATE | date32 (days) |
/// | TIME | time64\[us\] |
/// | TIMESTAMP | timestamp\[us\] without a time zone |
/// | TIMESTAMP WITH TIME ZONE | timestamp\[us, tz=UTC\] |
/// | INTERVAL | month_day_nano (microseconds × 1000) |
///
/// These are DuckDB's own Arrow export types (pyarrow reads both the same). Every field, nested ones
/// included, carries the custom metadata `duckdb.type` = its SQL type name, so a reader of this
/// module gets HUGEINT, UUID and ENUM back. Buffers are 8-byte aligned and padded;
/// a validity bitmap is written only for a column with nulls in that batch. A result without rows is
/// a schema message followed by the end-of-stream marker.
public struct ArrowIPCWriter: Sendable {
    /// The most rows in one record batch (fewer when a batch's strings would pass 2 GiB).
    public let maxRowsPerBatch: Int

    /// Creates a writer.
    /// - Parameter maxRowsPerBatch: the most rows in one record batch, clamped to 1…2^31 − 1
    public init(maxRowsPerBatch: Int = 65_536) {
        self.maxRowsPerBatch = min(max(1, maxRowsPerBatch), Int(Int32.max))
    }

    /// Encodes the whole stream into one buffer.
    /// - Parameter result: the result to encode
    /// - Returns: the IPC stream bytes
    /// - Throws: ``ArchiveError`` with kind `.outOfRange` when an interval's microseconds overflow
    ///   nanoseconds or a single string is 2 GiB or longer
    /// - Complexity: O(bytes of the result)
    public func encode(_ result: QueryResult) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(estimatedSize(of: result))
        try writeMessages(result) { message in
            message(&out)
        }
        return out
    }

    /// Writes the stream message by message, for sending without holding it all.
    /// - Parameters:
    ///   - result: the result to encode
    ///   - sink: receives each message's bytes in order (the schema, each batch, the end marker)
    /// - Throws: what `encode` throws, or what `sink` throws
    public func write(_ result: QueryResult, to sink: ([UInt8]) throws -> Void) throws {
        try writeMessages(result) { message in
            var bytes: [UInt8] = []
            message(&bytes)
            try sink(bytes)
        }
    }

    /// Produces each message as a closure that appends it to a buffer.
    private func writeMessages(_ result: QueryResult, _ emit: ((inout [UInt8]) -> Void) throws -> Void) throws {
        // Everything that can fail is checked before the first byte goes out, so a sink never
        // receives the start of a stream that then stops.
        let ends = try batchEnds(result)
        let schema = Self.schemaMetadata(result)
        try emit { Self.appendMessage(metadata: schema, bodyLength: 0, to: &$0) }
        var start = 0
        for end in ends {
            let batch = RecordBatchPlan(result, rows: start..<end)
            try emit { out in
                Self.appendMessage(metadata: batch.metadata, bodyLength: batch.bodyLength, to: &out)
                batch.appendBody(result, to: &out)
            }
            start = end
        }
        try emit { Self.appendEndOfStream(to: &$0) }
    }

    /// Appends the record batches of `result` (no schema, no end marker) to a stream being built.
    func appendBatches(_ result: QueryResult, to out: inout [UInt8]) throws {
        var start = 0
        for end in try batchEnds(result) {
            let batch = RecordBatchPlan(result, rows: start..<end)
            Self.appendMessage(metadata: batch.metadata, bodyLength: batch.bodyLength, to: &out)
            batch.appendBody(result, to: &out)
            start = end
        }
    }

    /// The end-of-stream marker.
    static func appendEndOfStream(to out: inout [UInt8]) {
        appendLittleEndian(Arrow.continuation, to: &out)
        appendLittleEndian(UInt32(0), to: &out)
    }

    /// Where each batch of `result` ends, after checking that every value can be written.
    private func batchEnds(_ result: QueryResult) throws -> [Int] {
        func check(_ column: Column) throws {
            switch column.values {
            case .interval(let values):
                for (row, interval) in values.enumerated() where interval.micros.multipliedReportingOverflow(by: 1000).overflow {
                    throw ArchiveError(.outOfRange, "interval in row \(row) of \"\(column.name)\" overflows nanoseconds")
                }
            case .list(let v): try check(v.elements)
            case .structure(let v): for field in v.fields { try check(field) }
            default: break
            }
        }
        for column in result.columns {
            // What a reader (this module's, pyarrow) refuses is refused before the first byte.
            guard column.type.nestingDepth < Arrow.maxNestingDepth else {
                throw ArchiveError(.unsupported, "column \"\(column.name)\" nests \(column.type.nestingDepth) levels deep (at most \(Arrow.maxNestingDepth - 1) are written)")
            }
            if let problem = column.type.arrowProblem {
                throw ArchiveError(.outOfRange, "column \"\(column.name)\": \(problem)")
            }
            try check(column)
        }
        var start = 0
        var ends: [Int] = []
        while start < result.rowCount {
            let end = try batchEnd(result, from: start)
            ends.append(end)
            start = end
        }
        return ends
    }

    /// The end of the batch starting at `start`: `maxRowsPerBatch` rows, fewer when a string,
    /// blob or list column (at any depth) would not fit 32-bit offsets.
    private func batchEnd(_ result: QueryResult, from start: Int) throws -> Int {
        let limit = Int(Int32.max)
        func fits(_ column: Column, _ rows: Range<Int>) -> Bool {
            switch column.values {
            case .utf8(let v), .binary(let v): return v.offsets[rows.upperBound] - v.offsets[rows.lowerBound] <= limit
            case .list(let v):
                let elements = v.offsets[rows.lowerBound]..<v.offsets[rows.upperBound]
                return elements.count <= limit && fits(v.elements, elements)
            case .structure(let v): return v.fields.allSatisfy { fits($0, rows) }
            default: return true
            }
        }
        var end = start + min(result.rowCount - start, maxRowsPerBatch)
        // Halve until it fits (spans only shrink with fewer rows).
        while end > start, !result.columns.allSatisfy({ fits($0, start..<end) }) {
            end = start + (end - start) / 2
        }
        guard end > start else {
            throw ArchiveError(.outOfRange, "row \(start) holds a value or list of 2 GiB (2^31 elements) or more")
        }
        return end
    }

    private func estimatedSize(of result: QueryResult) -> Int {
        var bytes = 512 + 64 * result.columns.count
        for column in result.columns {
            bytes += column.byteCount
        }
        let batches = result.rowCount / maxRowsPerBatch + 1
        return bytes + batches * (256 + 64 * result.columns.count)
    }

    // MARK: Framing

    /// Appends one encapsulated message: continuation marker, metadata length, metadata padded to
    /// 8 bytes. The body follows.
    static func appendMessage(metadata: [UInt8], bodyLength: Int, to out: inout [UInt8]) {
        let padded = (metadata.count + 7) & ~7
        appendLittleEndian(Arrow.continuation, to: &out)
        appendLittleEndian(Int32(padded), to: &out)
        out.append(contentsOf: metadata)
        out.append(contentsOf: repeatElement(0, count: padded - metadata.count))
    }

    static func appendLittleEndian<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    /// The schema message's FlatBuffer.
    static func schemaMetadata(_ result: QueryResult) -> [UInt8] {
        schemaMetadata(result.columns.map { ($0.name, $0.type) })
    }

    /// The schema message's FlatBuffer for columns of these names and types.
    static func schemaMetadata(_ columns: [(name: String, type: ColumnType)]) -> [UInt8] {
        var b = FlatBufferBuilder(capacity: 128 + 96 * columns.count)
        let fields = columns.map { writeField(name: $0.name, type: $0.type, nullable: true, into: &b) }
        let fieldVector = b.createVector(fields)
        b.startTable()
        b.add(fieldVector, slot: Arrow.Slot.schemaFields)
        let schema = b.endTable()
        return message(&b, header: .schema, table: schema, bodyLength: 0)
    }

    /// Writes one `Field` table, its children first (FlatBuffers are built bottom up).
    static func writeField(
        name: String, type: ColumnType, nullable: Bool, isMapEntry: Bool = false, into b: inout FlatBufferBuilder
    ) -> FlatBufferBuilder.Offset {
        let isMap: Bool
        if case .map = type { isMap = true } else { isMap = false }
        let children = type.arrowChildren(isMapEntry: isMapEntry).map {
            writeField(name: $0.name, type: $0.type, nullable: $0.nullable, isMapEntry: isMap, into: &b)
        }
        let childVector = b.createVector(children)
        let nameOffset = b.createString(name)
        let (typeID, typeTable) = type.writeArrowType(into: &b)
        var pairs: [(String, String)] = [(Arrow.duckDBTypeKey, type.sqlName)]
        if type == .uhugeint {
            pairs.append((Arrow.extensionNameKey, Arrow.opaqueExtension))
            pairs.append((Arrow.extensionMetadataKey, Arrow.uhugeintOpaqueMetadata))
        }
        let pairOffsets = pairs.map { key, value -> FlatBufferBuilder.Offset in
            let k = b.createString(key)
            let v = b.createString(value)
            b.startTable()
            b.add(k, slot: Arrow.Slot.key)
            b.add(v, slot: Arrow.Slot.value)
            return b.endTable()
        }
        let metadata = b.createVector(pairOffsets)
        b.startTable()
        b.add(nameOffset, slot: Arrow.Slot.fieldName)
        b.add(UInt8(nullable ? 1 : 0), slot: Arrow.Slot.fieldNullable, default: 0)
        b.add(typeID.rawValue, slot: Arrow.Slot.fieldTypeType, default: 0)
        b.add(typeTable, slot: Arrow.Slot.fieldType)
        b.add(childVector, slot: Arrow.Slot.fieldChildren)
        b.add(metadata, slot: Arrow.Slot.fieldMetadata)
        return b.endTable()
    }

    /// Finishes a `Message` table around a header.
    static func message(
        _ b: inout FlatBufferBuilder, header: Arrow.MessageHeader, table: FlatBufferBuilder.Offset, bodyLength: Int
    ) -> [UInt8] {
        b.startTable()
        b.add(Int64(bodyLength), slot: Arrow.Slot.messageBodyLength, default: 0)
        b.add(table, slot: Arrow.Slot.messageHeader)
        b.add(Arrow.metadataVersion, slot: Arrow.Slot.messageVersion, default: 0)
        b.add(header.rawValue, slot: Arrow.Slot.messageHeaderType, default: 0)
        let root = b.endTable()
        return b.finish(root: root)
    }
}

/// Builds one Arrow IPC stream from a result that arrives in parts (DuckDB's chunks): the schema
/// first, then each part's record batches as it is appended, then the end-of-stream marker — so a
/// large result is never held whole next to its stream.
public struct ArrowStreamBuilder: Sendable {
    /// The columns every appended part must have.
    public let fields: [ArchivedField]
    private let writer: ArrowIPCWriter
    private var bytes: [UInt8] = []
    /// The rows appended so far.
    public private(set) var rowCount = 0
    private var finished = false

    /// Starts a stream with this schema.
    /// - Parameters:
    ///   - fields: the columns' names and types
    ///   - maxRowsPerBatch: the most rows in one record batch
    public init(fields: [ArchivedField], maxRowsPerBatch: Int = 65_536) {
        self.fields = fields
        writer = ArrowIPCWriter(maxRowsPerBatch: maxRowsPerBatch)
        ArrowIPCWriter.appendMessage(
            metadata: ArrowIPCWriter.schemaMetadata(fields.map { (name: $0.name, type: $0.type) }), bodyLength: 0, to: &bytes)
    }

    /// The bytes written so far.
    public var byteCount: Int { bytes.count }

    /// Appends a part's rows as record batches.
    /// - Parameter part: rows with exactly the stream's columns
    /// - Throws: ``ArchiveError`` `.typeMismatch` for other columns, or what ``ArrowIPCWriter`` throws
    public mutating func append(_ part: QueryResult) throws {
        precondition(!finished, "append after finish")
        guard part.columns.count == fields.count, zip(part.columns, fields).allSatisfy({ $0.name == $1.name && $0.type == $1.type }) else {
            throw ArchiveError(.typeMismatch, "a part's columns differ from the stream's schema")
        }
        try writer.appendBatches(part, to: &bytes)
        rowCount += part.rowCount
    }

    /// Ends the stream.
    /// - Returns: the complete IPC stream
    public mutating func finish() -> [UInt8] {
        if !finished {
            ArrowIPCWriter.appendEndOfStream(to: &bytes)
            finished = true
        }
        return bytes
    }
}

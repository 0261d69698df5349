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
/// | DECIMAL, HUGEINT, UHUGEINT | float64 (DuckDB exports decimal128; ``QueryResult`` holds doubles) |
/// | VARCHAR, UUID, ENUM | utf8 (DuckDB exports ENUM as a dictionary) |
/// | BLOB | binary |
/// | DATE | date32 (days) |
/// | TIME | time64\[us\] |
/// | TIMESTAMP | timestamp\[us\] without a time zone |
/// | TIMESTAMP WITH TIME ZONE | timestamp\[us, tz=UTC\] |
/// | INTERVAL | month_day_nano (microseconds × 1000) |
///
/// Every field carries the custom metadata `duckdb.type` = the column's SQL type name, so a reader
/// of this module gets DECIMAL, HUGEINT, UUID and ENUM back. Buffers are 8-byte aligned and padded;
/// a validity bitmap is written only for a column with nulls in that batch. A result without rows is
/// a schema message followed by the end-of-stream marker.
public struct ArrowIPCWriter: Sendable {
    /// The most rows in one record batch (fewer when a batch's strings would pass 2 GiB).
    public var maxRowsPerBatch: Int

    /// Creates a writer.
    /// - Parameter maxRowsPerBatch: the most rows in one record batch; at least 1
    public init(maxRowsPerBatch: Int = 65_536) {
        precondition(maxRowsPerBatch >= 1, "a batch holds at least one row")
        self.maxRowsPerBatch = maxRowsPerBatch
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
        for column in result.columns {
            if case .interval(let values) = column.values {
                for (row, interval) in values.enumerated() where interval.micros.multipliedReportingOverflow(by: 1000).overflow {
                    throw ArchiveError(.outOfRange, "interval in row \(row) of \"\(column.name)\" overflows nanoseconds")
                }
            }
        }
        var start = 0
        var ends: [Int] = []
        while start < result.rowCount {
            let end = try batchEnd(result, from: start)
            ends.append(end)
            start = end
        }
        let schema = Self.schemaMetadata(result)
        try emit { Self.appendMessage(metadata: schema, bodyLength: 0, to: &$0) }
        start = 0
        for end in ends {
            let batch = try RecordBatchPlan(result, rows: start..<end)
            try emit { out in
                Self.appendMessage(metadata: batch.metadata, bodyLength: batch.bodyLength, to: &out)
                batch.appendBody(result, to: &out)
            }
            start = end
        }
        try emit { out in
            Self.appendLittleEndian(Arrow.continuation, to: &out)
            Self.appendLittleEndian(UInt32(0), to: &out)
        }
    }

    /// The end of the batch starting at `start`: `maxRowsPerBatch` rows, fewer when a
    /// variable-length column's bytes would not fit 32-bit offsets.
    private func batchEnd(_ result: QueryResult, from start: Int) throws -> Int {
        var end = min(result.rowCount, start + maxRowsPerBatch)
        for column in result.columns {
            guard case .variable = column.type.physicalLayout else { continue }
            let offsets: [Int]
            switch column.values {
            case .utf8(let v), .binary(let v): offsets = v.offsets
            default: continue
            }
            let limit = Int(Int32.max)
            if offsets[end] - offsets[start] <= limit { continue }
            // The last row whose end offset still fits (offsets are non-decreasing).
            var low = start, high = end
            while low < high {
                let mid = (low + high + 1) / 2
                if offsets[mid] - offsets[start] <= limit { low = mid } else { high = mid - 1 }
            }
            guard low > start else {
                throw ArchiveError(.outOfRange, "value \(start) of column \"\(column.name)\" is 2 GiB or longer")
            }
            end = low
        }
        return end
    }

    private func estimatedSize(of result: QueryResult) -> Int {
        var bytes = 512 + 64 * result.columns.count
        for column in result.columns {
            switch column.type.physicalLayout {
            case .bitmap: bytes += result.rowCount / 8 + 8
            case .fixed(let width): bytes += result.rowCount * width
            case .variable:
                if case .utf8(let v) = column.values { bytes += v.bytes.count + 4 * result.rowCount }
                if case .binary(let v) = column.values { bytes += v.bytes.count + 4 * result.rowCount }
            }
            if column.nullCount > 0 { bytes += result.rowCount / 8 + 8 }
        }
        let batches = (result.rowCount + maxRowsPerBatch - 1) / maxRowsPerBatch
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
        var b = FlatBufferBuilder(capacity: 128 + 96 * result.columns.count)
        var fields: [FlatBufferBuilder.Offset] = []
        for column in result.columns {
            let name = b.createString(column.name)
            let (typeID, typeTable) = column.type.writeArrowType(into: &b)
            let key = b.createString(Arrow.duckDBTypeKey)
            let value = b.createString(column.type.sqlName)
            b.startTable()
            b.add(key, slot: Arrow.Slot.key)
            b.add(value, slot: Arrow.Slot.value)
            let pair = b.endTable()
            let metadata = b.createVector([pair])
            b.startTable()
            b.add(name, slot: Arrow.Slot.fieldName)
            b.add(UInt8(1), slot: Arrow.Slot.fieldNullable, default: 0)
            b.add(typeID.rawValue, slot: Arrow.Slot.fieldTypeType, default: 0)
            b.add(typeTable, slot: Arrow.Slot.fieldType)
            b.add(metadata, slot: Arrow.Slot.fieldMetadata)
            fields.append(b.endTable())
        }
        let fieldVector = b.createVector(fields)
        b.startTable()
        b.add(fieldVector, slot: Arrow.Slot.schemaFields)
        let schema = b.endTable()
        return message(&b, header: .schema, table: schema, bodyLength: 0)
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

/// The layout of one record batch of a ``QueryResult``: where each buffer goes in the body, and the
/// `RecordBatch` metadata describing it. ``appendBody(_:to:)`` then writes the buffers.
struct RecordBatchPlan {
    let rows: Range<Int>
    /// Per column: its null count in these rows.
    let nullCounts: [Int]
    /// Every buffer's (offset, length) in the body, three per variable-length column, two otherwise.
    let buffers: [(Int64, Int64)]
    let bodyLength: Int
    let metadata: [UInt8]

    init(_ result: QueryResult, rows: Range<Int>) throws {
        self.rows = rows
        let n = rows.count
        var nullCounts: [Int] = []
        var buffers: [(Int64, Int64)] = []
        var position = 0
        func place(_ length: Int) {
            buffers.append((Int64(position), Int64(length)))
            position += (length + 7) & ~7
        }
        for column in result.columns {
            let nulls = column.validity?.nullCount(in: rows) ?? 0
            nullCounts.append(nulls)
            place(nulls > 0 ? (n + 7) / 8 : 0)
            switch column.type.physicalLayout {
            case .bitmap: place((n + 7) / 8)
            case .fixed(let width): place(n * width)
            case .variable:
                place((n + 1) * 4)
                let offsets = column.values.variableLength?.offsets ?? [0]
                place(offsets[rows.upperBound] - offsets[rows.lowerBound])
            }
        }
        self.nullCounts = nullCounts
        self.buffers = buffers
        self.bodyLength = position

        var b = FlatBufferBuilder(capacity: 128 + 48 * buffers.count)
        let bufferVector = b.createStructVector(buffers)
        let nodeVector = b.createStructVector(nullCounts.map { (Int64(n), Int64($0)) })
        b.startTable()
        b.add(Int64(n), slot: Arrow.Slot.batchLength, default: 0)
        b.add(nodeVector, slot: Arrow.Slot.batchNodes)
        b.add(bufferVector, slot: Arrow.Slot.batchBuffers)
        let batch = b.endTable()
        metadata = ArrowIPCWriter.message(&b, header: .recordBatch, table: batch, bodyLength: position)
    }

    /// Appends the body: every buffer at its planned offset, zero padding between.
    func appendBody(_ result: QueryResult, to out: inout [UInt8]) {
        let bodyStart = out.count
        out.reserveCapacity(out.count + bodyLength)
        func pad() {
            let used = out.count - bodyStart
            out.append(contentsOf: repeatElement(0, count: ((used + 7) & ~7) - used))
        }
        func raw<T>(_ values: [T]) {
            values[rows].withUnsafeBytes { out.append(contentsOf: $0) }
        }
        for (c, column) in result.columns.enumerated() {
            if nullCounts[c] > 0, let validity = column.validity {
                validity.appendBitmap(rows: rows, to: &out)
            }
            pad()
            switch column.values {
            case .boolean(let v): Self.appendBits(v[rows], to: &out)
            case .int8(let v): raw(v)
            case .int16(let v): raw(v)
            case .int32(let v): raw(v)
            case .int64(let v): raw(v)
            case .uint8(let v): raw(v)
            case .uint16(let v): raw(v)
            case .uint32(let v): raw(v)
            case .uint64(let v): raw(v)
            case .float(let v): raw(v)
            case .double(let v): raw(v)
            case .interval(let v):
                // Checked in init: `micros * 1000` does not overflow.
                // Arrow's month_day_nano, field by field (no reliance on a Swift struct's layout).
                for interval in v[rows] {
                    ArrowIPCWriter.appendLittleEndian(interval.months, to: &out)
                    ArrowIPCWriter.appendLittleEndian(interval.days, to: &out)
                    ArrowIPCWriter.appendLittleEndian(interval.micros &* 1000, to: &out)
                }
            case .utf8(let v), .binary(let v):
                let base = v.offsets[rows.lowerBound]
                let offsets = v.offsets[rows.lowerBound...rows.upperBound].map { Int32(truncatingIfNeeded: $0 - base) }
                offsets.withUnsafeBytes { out.append(contentsOf: $0) }
                pad()
                v.bytes[base..<v.offsets[rows.upperBound]].withUnsafeBytes { out.append(contentsOf: $0) }
            }
            pad()
        }
    }

    /// Packs booleans into an Arrow bitmap, least significant bit first.
    static func appendBits(_ values: ArraySlice<Bool>, to out: inout [UInt8]) {
        var byte: UInt8 = 0
        var bit = 0
        for v in values {
            if v { byte |= 1 << UInt8(bit) }
            bit += 1
            if bit == 8 {
                out.append(byte)
                byte = 0
                bit = 0
            }
        }
        if bit > 0 { out.append(byte) }
    }
}

extension ColumnValues {
    /// The offsets and bytes of a VARCHAR or BLOB column.
    var variableLength: VariableLengthValues? {
        switch self {
        case .utf8(let v), .binary(let v): v
        default: nil
        }
    }
}

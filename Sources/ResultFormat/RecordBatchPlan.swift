/// The layout of one record batch of a ``QueryResult``: where each buffer goes in the body, and the
/// `RecordBatch` metadata describing it. ``appendBody(_:to:)`` then writes the buffers.
///
/// Nested columns are flattened depth first, as Arrow lays them out: a node and its buffers, then
/// its children's. A LIST's child covers the element rows of the batch's lists, rebased to 0.
struct RecordBatchPlan {
    let rows: Range<Int>
    /// Per array node, depth first: (length, null count).
    let nodes: [(Int64, Int64)]
    /// Every buffer's (offset, length) in the body.
    let buffers: [(Int64, Int64)]
    let bodyLength: Int
    let metadata: [UInt8]

    init(_ result: QueryResult, rows: Range<Int>) {
        self.rows = rows
        var nodes: [(Int64, Int64)] = []
        var buffers: [(Int64, Int64)] = []
        var position = 0
        func place(_ length: Int) {
            buffers.append((Int64(position), Int64(length)))
            position += (length + 7) & ~7
        }
        func plan(_ column: Column, _ rows: Range<Int>) {
            let n = rows.count
            let nulls = column.validity?.nullCount(in: rows) ?? 0
            nodes.append((Int64(n), Int64(nulls)))
            place(nulls > 0 ? (n + 7) / 8 : 0)
            switch column.values {
            case .boolean: place((n + 7) / 8)
            case .utf8(let v), .binary(let v):
                place((n + 1) * 4)
                place(v.offsets[rows.upperBound] - v.offsets[rows.lowerBound])
            case .list(let v):
                place((n + 1) * 4)
                plan(v.elements, v.offsets[rows.lowerBound]..<v.offsets[rows.upperBound])
            case .structure(let v):
                for field in v.fields { plan(field, rows) }
            default:
                if case .fixed(let width) = column.type.physicalLayout { place(n * width) }
            }
        }
        for column in result.columns { plan(column, rows) }
        self.nodes = nodes
        self.buffers = buffers
        self.bodyLength = position

        var b = FlatBufferBuilder(capacity: 128 + 32 * (buffers.count + nodes.count))
        let bufferVector = b.createStructVector(buffers)
        let nodeVector = b.createStructVector(nodes)
        b.startTable()
        b.add(Int64(rows.count), slot: Arrow.Slot.batchLength, default: 0)
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
        func raw<T>(_ values: [T], _ rows: Range<Int>) {
            values[rows].withUnsafeBytes { out.append(contentsOf: $0) }
        }
        func offsets(_ offsets: [Int], _ rows: Range<Int>) {
            let base = offsets[rows.lowerBound]
            let rebased = offsets[rows.lowerBound...rows.upperBound].map { Int32(truncatingIfNeeded: $0 - base) }
            rebased.withUnsafeBytes { out.append(contentsOf: $0) }
            pad()
        }
        func write(_ column: Column, _ rows: Range<Int>) {
            if let validity = column.validity, validity.nullCount(in: rows) > 0 {
                validity.appendBitmap(rows: rows, to: &out)
            }
            pad()
            switch column.values {
            case .boolean(let v): Self.appendBits(v[rows], to: &out)
            case .int8(let v): raw(v, rows)
            case .int16(let v): raw(v, rows)
            case .int32(let v): raw(v, rows)
            case .int64(let v): raw(v, rows)
            case .uint8(let v): raw(v, rows)
            case .uint16(let v): raw(v, rows)
            case .uint32(let v): raw(v, rows)
            case .uint64(let v): raw(v, rows)
            case .float(let v): raw(v, rows)
            case .double(let v): raw(v, rows)
            case .int128(let v): raw(v, rows)  // 16 bytes, little-endian two's complement: decimal128's layout
            case .uint128(let v): raw(v, rows)
            case .interval(let v):
                // Checked before the first byte: `micros * 1000` does not overflow.
                // Arrow's month_day_nano, field by field (no reliance on a Swift struct's layout).
                for interval in v[rows] {
                    ArrowIPCWriter.appendLittleEndian(interval.months, to: &out)
                    ArrowIPCWriter.appendLittleEndian(interval.days, to: &out)
                    ArrowIPCWriter.appendLittleEndian(interval.micros &* 1000, to: &out)
                }
            case .utf8(let v), .binary(let v):
                offsets(v.offsets, rows)
                v.bytes[v.offsets[rows.lowerBound]..<v.offsets[rows.upperBound]].withUnsafeBytes { out.append(contentsOf: $0) }
            case .list(let v):
                offsets(v.offsets, rows)
                write(v.elements, v.offsets[rows.lowerBound]..<v.offsets[rows.upperBound])
                return  // the child padded its own buffers
            case .structure(let v):
                for field in v.fields { write(field, rows) }
                return
            }
            pad()
        }
        for column in result.columns { write(column, rows) }
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

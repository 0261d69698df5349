/// A query result read in place from Arrow IPC stream bytes, without copying column data.
///
/// Opening checks the structure in O(columns × batches): the message framing, the FlatBuffers
/// metadata, that every buffer lies inside its message body and is large enough for the rows the
/// batch claims. After that, fixed-width values (numbers, dates, timestamps, booleans, the null
/// bitmap) cannot be read out of bounds whatever the bytes hold, so their accessors do not throw.
/// The offsets of strings and blobs are checked on each access (O(1)); ``validate()`` checks every
/// offset, every null count and the UTF-8 of every string in O(bytes), for bytes from an untrusted
/// source.
///
/// The bytes may be an `[UInt8]` (kept, not copied) or memory the caller owns, such as a page of a
/// memory-mapped file, at any alignment: every read is an unaligned load.
///
/// Streams written by ``ArrowIPCWriter`` and by other Arrow writers (pyarrow, arrow-js) open when
/// they use the types in the writer's table, nested LIST, STRUCT and MAP included (up to 64 levels
/// deep); dictionary encoding, compression, unions and other time units are reported as
/// unsupported. A stream must end with its end-of-stream marker and nothing after it.
public struct ArchivedResult: @unchecked Sendable {
    // @unchecked Sendable: the storage is either an immutable [UInt8] or memory the creator of an
    // unsafe archive promised stays valid and unchanged while the archive lives (see
    // `init(unsafeBytes:owner:)`); nothing here mutates it.
    enum Storage {
        case array([UInt8])
        case unowned(UnsafeRawBufferPointer, owner: AnyObject?)
    }

    let storage: Storage
    /// The columns' names and types, in order.
    public let fields: [ArchivedField]
    /// Every array node, depth first (a column, then its children).
    let nodes: [ArchivedNode]
    /// The node of each column.
    let roots: [Int]
    /// The rows of each batch.
    let batchLengths: [Int]
    /// The first row of each batch, for finding a row's batch by binary search.
    let batchStarts: [Int]
    /// Every batch's buffers, batch after batch, one entry per node.
    let columnBuffers: [ColumnBuffers]
    /// The number of rows in all batches.
    public let rowCount: Int

    /// Opens IPC stream bytes held in an array; the array is kept, not copied.
    /// - Parameter bytes: an Arrow IPC stream
    /// - Throws: ``ArchiveError`` when the structure is malformed or uses unsupported features
    /// - Complexity: O(columns × batches)
    public init(bytes: [UInt8]) throws {
        let parsed = try bytes.withUnsafeBytes { try StreamParser.parse($0) }
        self.init(storage: .array(bytes), parsed: parsed)
    }

    /// Opens IPC stream bytes in memory the caller owns (an mmap'd page, a network buffer).
    /// - Parameters:
    ///   - unsafeBytes: an Arrow IPC stream, at any alignment; it must stay valid and unchanged while
    ///     this archive, or any view taken from it, is in use
    ///   - owner: an object to keep alive as long as the archive (e.g. the mapping), if any
    /// - Throws: ``ArchiveError`` when the structure is malformed or uses unsupported features
    /// - Complexity: O(columns × batches)
    public init(unsafeBytes: UnsafeRawBufferPointer, owner: AnyObject? = nil) throws {
        let parsed = try StreamParser.parse(unsafeBytes)
        self.init(storage: .unowned(unsafeBytes, owner: owner), parsed: parsed)
    }

    private init(storage: Storage, parsed: StreamParser.Parsed) {
        self.storage = storage
        fields = parsed.fields
        nodes = parsed.nodes
        roots = parsed.roots
        batchLengths = parsed.lengths
        batchStarts = parsed.starts
        columnBuffers = parsed.buffers
        rowCount = parsed.rowCount
    }

    /// Calls `body` with the archive's bytes.
    @inline(__always)
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch storage {
        case .array(let array): try array.withUnsafeBytes(body)
        case .unowned(let pointer, _): try body(pointer)
        }
    }

    /// The number of columns.
    public var columnCount: Int { fields.count }

    /// The number of record batches.
    public var batchCount: Int { batchLengths.count }

    /// The stream's size in bytes.
    public var byteCount: Int { withBytes { $0.count } }

    /// Column `index`.
    /// - Parameter index: `0..<columnCount`
    public func column(_ index: Int) -> ArchivedColumn {
        precondition(index >= 0 && index < fields.count, "column index out of range")
        return ArchivedColumn(archive: self, index: index)
    }

    /// The first column with this name.
    /// - Parameter name: the column's name
    /// - Returns: the column, or `nil`
    public func column(named name: String) -> ArchivedColumn? {
        fields.firstIndex { $0.name == name }.map { ArchivedColumn(archive: self, index: $0) }
    }

    /// The buffers of one column in one batch.
    @inline(__always)
    func buffers(batch: Int, column: Int) -> ColumnBuffers { columnBuffers[batch &* nodes.count &+ roots[column]] }

    /// The buffers of one array node in one batch.
    @inline(__always)
    func buffers(batch: Int, node: Int) -> ColumnBuffers { columnBuffers[batch &* nodes.count &+ node] }

    /// The batch holding `row` and the row's position inside it.
    /// - Complexity: O(log batches)
    @inline(__always)
    func locate(_ row: Int) -> (batch: Int, row: Int) {
        precondition(row >= 0 && row < rowCount, "row \(row) out of range 0..<\(rowCount)")
        if batchLengths.count == 1 { return (0, row) }
        var low = 0, high = batchStarts.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if batchStarts[mid] <= row { low = mid } else { high = mid - 1 }
        }
        return (low, row - batchStarts[low])
    }
}

/// A column's name and type, as the stream's schema gives them.
public struct ArchivedField: Sendable, Equatable {
    /// The column's name.
    public var name: String
    /// Its type; HUGEINT, UUID and ENUM come from the writer's `duckdb.type` metadata.
    public var type: ColumnType

    /// Creates a field.
    /// - Parameters:
    ///   - name: the column's name
    ///   - type: its type
    public init(name: String, type: ColumnType) {
        self.name = name
        self.type = type
    }
}

/// One array of the schema: a column or a child of a nested column.
struct ArchivedNode: Sendable {
    var name: String
    var type: ColumnType
    var layout: PhysicalLayout
    /// Child nodes (a LIST's or MAP's one, a STRUCT's fields).
    var children: [Int]
}

/// Where one array's buffers lie in the stream for one record batch, as absolute byte ranges.
struct ColumnBuffers {
    /// The array's length in this batch (the batch's row count for a column).
    var length: Int
    var nullCount: Int
    /// Where the validity bitmap starts (meaningful only when `nullCount > 0`).
    var validityStart: Int
    /// Where the validity bitmap starts, or `nil` when the column has no nulls in this batch.
    @inline(__always)
    var validity: Int? { nullCount > 0 ? validityStart : nil }
    /// Fixed-width values, the boolean bitmap, or the 32-bit offsets of variable-length values and lists.
    var values: Range<Int>
    /// The bytes of variable-length values (empty otherwise).
    var data: Range<Int>
}

/// A query result held column by column, the way DuckDB produces it and Arrow stores it.
///
/// A value: columns are immutable and checked when the result is made (every column has
/// ``rowCount`` values), so encoders never read past a buffer. Copying a result is O(columns).
public struct QueryResult: Sendable, Equatable {
    /// The columns, in the query's order.
    public let columns: [Column]
    /// The number of rows (every column has this many values).
    public let rowCount: Int

    /// Creates a result, checking that every column has `rowCount` values.
    /// - Parameters:
    ///   - columns: the columns, all of the same length
    ///   - rowCount: their length; needed when there are no columns
    /// - Throws: ``ResultShapeError`` naming a column of another length
    public init(columns: [Column], rowCount: Int) throws(ResultShapeError) {
        guard rowCount >= 0 else { throw ResultShapeError("negative row count \(rowCount)") }
        guard !columns.isEmpty || rowCount == 0 else { throw ResultShapeError("\(rowCount) rows without columns") }
        for column in columns where column.count != rowCount {
            throw ResultShapeError("column \"\(column.name)\" has \(column.count) rows, the result \(rowCount)")
        }
        self.init(unchecked: columns, rowCount: rowCount)
    }

    /// Creates a result whose columns the caller built with `rowCount` rows each.
    package init(unchecked columns: [Column], rowCount: Int) {
        self.columns = columns
        self.rowCount = rowCount
    }

    /// The column names, in order.
    public var columnNames: [String] { columns.map(\.name) }

    /// The first column with this name.
    /// - Parameter name: the column's name
    /// - Returns: the column, or `nil`
    public func column(named name: String) -> Column? { columns.first { $0.name == name } }

    /// Row `index` as values, in column order; convenient for tests and small results.
    /// - Parameter index: the row
    /// - Returns: one value per column
    public func row(_ index: Int) -> [Value] { columns.map { $0.value(at: index) } }

    /// The bytes the values occupy in memory (what a result cap counts), nested columns included.
    public var byteCount: Int { columns.reduce(0) { $0 + $1.byteCount } }
}

extension Column {
    /// The bytes the values and validity occupy.
    public var byteCount: Int {
        let bitmap = validity.map { $0.words.count * 8 } ?? 0
        switch values {
        case .boolean(let v): return bitmap + v.count
        case .int8(let v): return bitmap + v.count
        case .uint8(let v): return bitmap + v.count
        case .int16(let v): return bitmap + 2 * v.count
        case .uint16(let v): return bitmap + 2 * v.count
        case .int32(let v): return bitmap + 4 * v.count
        case .uint32(let v): return bitmap + 4 * v.count
        case .float(let v): return bitmap + 4 * v.count
        case .int64(let v): return bitmap + 8 * v.count
        case .uint64(let v): return bitmap + 8 * v.count
        case .double(let v): return bitmap + 8 * v.count
        case .int128(let v): return bitmap + 16 * v.count
        case .uint128(let v): return bitmap + 16 * v.count
        case .interval(let v): return bitmap + 16 * v.count
        case .utf8(let v), .binary(let v): return bitmap + 8 * v.offsets.count + v.bytes.count
        case .list(let v): return bitmap + 8 * v.offsets.count + v.elements.byteCount
        case .structure(let v): return bitmap + v.fields.reduce(0) { $0 + $1.byteCount }
        }
    }
}

/// A query result held column by column, the way DuckDB produces it and Arrow stores it.
///
/// Columns are independent value types: copying a result is O(columns) until one is mutated.
public struct QueryResult: Sendable, Equatable {
    /// The columns, in the query's order.
    public var columns: [Column]
    /// The number of rows (every column has this many values).
    public var rowCount: Int

    /// Creates a result.
    /// - Parameters:
    ///   - columns: the columns, all of the same length
    ///   - rowCount: their length; needed when there are no columns
    /// - Precondition: every column has `rowCount` values.
    public init(columns: [Column], rowCount: Int) {
        precondition(columns.allSatisfy { $0.count == rowCount }, "columns differ in length")
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
}

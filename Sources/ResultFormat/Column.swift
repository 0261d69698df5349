/// One column of a ``QueryResult``: its name, logical type, values and null rows.
public struct Column: Sendable, Equatable {
    /// The column's name as the query gave it.
    public var name: String
    /// The logical type.
    public var type: ColumnType
    /// The values; null rows hold zero or empty values.
    public var values: ColumnValues
    /// Which rows are null, or `nil` when none is.
    public var validity: Validity?

    /// Creates a column.
    /// - Parameters:
    ///   - name: the column's name
    ///   - type: its logical type
    ///   - values: the values
    ///   - validity: the null rows, or `nil` when there are none (a bitmap without nulls is dropped)
    /// - Precondition: `values` is the storage ``ColumnType`` documents for `type`, and
    ///   `validity`, when given, covers exactly `values.count` rows.
    public init(name: String, type: ColumnType, values: ColumnValues, validity: Validity? = nil) {
        precondition(values.canStore(type), "\(type.sqlName) is not stored as \(values.kindName)")
        precondition(validity.map { $0.count == values.count } ?? true, "validity does not match values")
        self.name = name
        self.type = type
        self.values = values
        self.validity = (validity?.nullCount ?? 0) > 0 ? validity : nil
    }

    /// The number of rows.
    public var count: Int { values.count }

    /// The number of null rows.
    public var nullCount: Int { validity?.nullCount ?? 0 }

    /// Whether row `index` is null.
    /// - Parameter index: the row
    /// - Complexity: O(1)
    @inlinable
    public func isNull(_ index: Int) -> Bool {
        guard let validity else { return false }
        return !validity.isValid(index)
    }

    /// Row `index` as a ``Value``; convenient for tests and small results, not for bulk work.
    /// - Parameter index: the row
    /// - Returns: the value, or `.null`
    public func value(at index: Int) -> Value {
        if isNull(index) { return .null }
        switch (values, type) {
        case (.boolean(let v), _): return .bool(v[index])
        case (.int8(let v), _): return .int(Int64(v[index]))
        case (.int16(let v), _): return .int(Int64(v[index]))
        case (.int32(let v), .date): return .date(v[index])
        case (.int32(let v), _): return .int(Int64(v[index]))
        case (.int64(let v), .time): return .time(v[index])
        case (.int64(let v), .timestamp): return .timestamp(v[index])
        case (.int64(let v), .timestampTZ): return .timestampTZ(v[index])
        case (.int64(let v), _): return .int(v[index])
        case (.uint8(let v), _): return .uint(UInt64(v[index]))
        case (.uint16(let v), _): return .uint(UInt64(v[index]))
        case (.uint32(let v), _): return .uint(UInt64(v[index]))
        case (.uint64(let v), _): return .uint(v[index])
        case (.float(let v), _): return .double(Double(v[index]))
        case (.double(let v), _): return .double(v[index])
        case (.utf8(let v), _): return .string(v.string(at: index))
        case (.binary(let v), _): return .blob(v.blob(at: index))
        case (.interval(let v), _): return .interval(v[index])
        }
    }
}

/// One value of a result, for row-wise access.
public enum Value: Sendable, Hashable {
    case null
    case bool(Bool)
    /// Signed integers of every width.
    case int(Int64)
    /// Unsigned integers of every width.
    case uint(UInt64)
    /// FLOAT, DOUBLE, DECIMAL, HUGEINT and UHUGEINT.
    case double(Double)
    /// VARCHAR, UUID and ENUM.
    case string(String)
    case blob([UInt8])
    /// Days since 1970-01-01.
    case date(Int32)
    /// Microseconds since midnight.
    case time(Int64)
    /// Microseconds since the epoch, no time zone.
    case timestamp(Int64)
    /// Microseconds since the epoch, UTC.
    case timestampTZ(Int64)
    case interval(Interval)
}

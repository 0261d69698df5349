/// One column of a ``QueryResult``: its name, logical type, values and null rows.
///
/// A value: every part is immutable and checked when the column is made, so an encoder can trust
/// that the storage matches the type, that the validity covers every row and that every offset
/// stays inside its data.
public struct Column: Sendable, Equatable {
    /// The column's name as the query gave it.
    public let name: String
    /// The logical type.
    public let type: ColumnType
    /// The values; null rows hold zero or empty values.
    public let values: ColumnValues
    /// Which rows are null, or `nil` when none is.
    public let validity: Validity?

    /// Creates a column, checking that its parts agree.
    /// - Parameters:
    ///   - name: the column's name
    ///   - type: its logical type
    ///   - values: the values, in the storage ``ColumnType`` documents for `type`
    ///   - validity: the null rows, or `nil` when there are none (a bitmap without nulls is dropped)
    /// - Throws: ``ResultShapeError`` when the storage does not fit the type or the validity
    ///   covers another number of rows
    public init(name: String, type: ColumnType, values: ColumnValues, validity: Validity? = nil) throws(ResultShapeError) {
        guard values.canStore(type) else {
            throw ResultShapeError("column \"\(name)\": \(type.sqlName) is not stored as \(values.kindName)")
        }
        if let validity, validity.count != values.count {
            throw ResultShapeError("column \"\(name)\": validity covers \(validity.count) rows, values \(values.count)")
        }
        if let problem = type.arrowProblem { throw ResultShapeError("column \"\(name)\": \(problem)") }
        if case .map = type, case .list(let entries) = values {
            // DuckDB's maps hold neither NULL entries nor NULL keys (Arrow declares both non-null).
            guard entries.elements.nullCount == 0, case .structure(let pairs) = entries.elements.values, pairs.fields[0].nullCount == 0 else {
                throw ResultShapeError("column \"\(name)\": a MAP holds a NULL entry or key")
            }
        }
        self.init(unchecked: name, type: type, values: values, validity: validity)
    }

    /// Creates a column whose parts the caller built to agree (the DuckDB reader, the archive).
    package init(unchecked name: String, type: ColumnType, values: ColumnValues, validity: Validity? = nil) {
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
        case (.int128(let v), .decimal(_, let scale)): return .decimal(ExactDecimal(unscaled: v[index], scale: scale))
        case (.int128(let v), _): return .hugeint(v[index])
        case (.uint128(let v), _): return .uhugeint(v[index])
        case (.utf8(let v), _): return .string(v.string(at: index))
        case (.binary(let v), _): return .blob(v.blob(at: index))
        case (.interval(let v), _): return .interval(v[index])
        case (.list(let v), .map):
            let entries = v.range(at: index)
            guard case .structure(let pairs) = v.elements.values, pairs.fields.count == 2 else { return .null }
            return .map(keys: entries.map { pairs.fields[0].value(at: $0) }, values: entries.map { pairs.fields[1].value(at: $0) })
        case (.list(let v), _): return .list(v.range(at: index).map { v.elements.value(at: $0) })
        case (.structure(let v), _): return .structure(names: v.fields.map(\.name), values: v.fields.map { $0.value(at: index) })
        }
    }
}

/// One value of a result, for row-wise access.
public enum Value: Sendable, Hashable {
    case null
    case bool(Bool)
    /// Signed integers of up to 64 bits.
    case int(Int64)
    /// Unsigned integers of up to 64 bits.
    case uint(UInt64)
    /// HUGEINT, exact.
    case hugeint(Int128)
    /// UHUGEINT, exact.
    case uhugeint(UInt128)
    /// DECIMAL, exact.
    case decimal(ExactDecimal)
    /// FLOAT and DOUBLE.
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
    /// A LIST's elements.
    case list([Value])
    /// A STRUCT's fields, in the type's order.
    case structure(names: [String], values: [Value])
    /// A MAP's entries, in stored order.
    case map(keys: [Value], values: [Value])
}

/// An exact decimal number: an unscaled integer and a count of fractional digits, as DuckDB's
/// DECIMAL stores it (`12.50` in `DECIMAL(4,2)` is 1250 with scale 2).
public struct ExactDecimal: Sendable, Hashable, CustomStringConvertible {
    /// The value times 10^scale.
    public var unscaled: Int128
    /// Digits after the decimal point (0…38).
    public var scale: UInt8

    /// Creates a decimal.
    /// - Parameters:
    ///   - unscaled: the value times 10^scale
    ///   - scale: digits after the decimal point
    public init(unscaled: Int128, scale: UInt8) {
        self.unscaled = unscaled
        self.scale = scale
    }

    /// The exact text with exactly `scale` fractional digits, as DuckDB prints it (`-0.50`).
    public var description: String {
        var out: [UInt8] = []
        ValueFormatting.appendDecimal(unscaled, scale: Int(scale), to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// The nearest double (for charts and arithmetic that tolerate rounding).
    public var doubleValue: Double { Double(description) ?? .nan }
}

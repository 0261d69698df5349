/// What the JSON and CSV encoders share: the unquoted text of a value, and UTF-8 checks.
enum TextEncoding {
    /// Runs encoding of a ``QueryResult``, whose offsets are well formed by ``VariableLengthValues``'
    /// precondition, so no archive error can arise.
    static func trusted(_ body: () throws -> Void) {
        do {
            try body()
        } catch {
            preconditionFailure("a QueryResult breaks VariableLengthValues' precondition: \(error)")
        }
    }

    /// Appends the unquoted text of a non-null value: numbers, booleans, dates (`YYYY-MM-DD`), times,
    /// timestamps (with `timestampSeparator`), intervals, base64 blobs, raw string bytes.
    @inline(__always)
    static func appendPlain(_ column: RawColumn, row: Int, timestampSeparator: UInt8, to out: inout [UInt8]) throws {
        switch column.type {
        case .boolean: out.append(contentsOf: column.bool(row) ? "true".utf8 : "false".utf8)
        case .int8: ValueFormatting.appendInt(Int64(column.load(row, as: Int8.self)), to: &out)
        case .int16: ValueFormatting.appendInt(Int64(column.load(row, as: Int16.self)), to: &out)
        case .int32: ValueFormatting.appendInt(Int64(column.load(row, as: Int32.self)), to: &out)
        case .int64: ValueFormatting.appendInt(column.load(row, as: Int64.self), to: &out)
        case .uint8: ValueFormatting.appendUInt(UInt64(column.load(row, as: UInt8.self)), to: &out)
        case .uint16: ValueFormatting.appendUInt(UInt64(column.load(row, as: UInt16.self)), to: &out)
        case .uint32: ValueFormatting.appendUInt(UInt64(column.load(row, as: UInt32.self)), to: &out)
        case .uint64: ValueFormatting.appendUInt(column.load(row, as: UInt64.self), to: &out)
        case .float:
            let x = column.load(row, as: Float.self)
            if x.isFinite { out.append(contentsOf: x.description.utf8) } else { out.append(contentsOf: nonFinite(Double(x)).utf8) }
        case .double, .hugeint, .uhugeint, .decimal:
            let x = column.load(row, as: Double.self)
            if x.isFinite {
                ValueFormatting.appendDouble(x, integral: column.type == .hugeint || column.type == .uhugeint, to: &out)
            } else {
                out.append(contentsOf: nonFinite(x).utf8)
            }
        case .varchar, .uuid, .enumeration: out.append(contentsOf: try column.bytes(row))
        case .blob: ValueFormatting.appendBase64(try column.bytes(row), to: &out)
        case .date: ValueFormatting.appendDate(column.load(row, as: Int32.self), to: &out)
        case .time: ValueFormatting.appendTime(column.load(row, as: Int64.self), to: &out)
        case .timestamp, .timestampTZ:
            ValueFormatting.appendTimestamp(
                column.load(row, as: Int64.self), separator: timestampSeparator, utc: column.type == .timestampTZ, to: &out)
        case .interval: ValueFormatting.appendInterval(column.interval(row), to: &out)
        }
    }

    static func nonFinite(_ x: Double) -> String {
        x.isNaN ? "nan" : (x > 0 ? "inf" : "-inf")
    }

    /// Whether the bytes are valid UTF-8 (ASCII checked eight bytes at a time).
    @inline(__always)
    static func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        ArchivedResult.isValidUTF8(bytes)
    }
}

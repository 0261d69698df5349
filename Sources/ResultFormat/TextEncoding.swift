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
    static func appendPlain(_ column: borrowing RawColumn, row: Int, timestampSeparator: UInt8, to out: inout [UInt8]) throws {
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
        case .double:
            let x = column.load(row, as: Double.self)
            if x.isFinite {
                ValueFormatting.appendDouble(x, integral: false, to: &out)
            } else {
                out.append(contentsOf: nonFinite(x).utf8)
            }
        case .hugeint: ValueFormatting.appendInt128(column.load(row, as: Int128.self), to: &out)
        case .uhugeint: ValueFormatting.appendUInt128(column.load(row, as: UInt128.self), to: &out)
        case .decimal(_, let scale): ValueFormatting.appendDecimal(column.load(row, as: Int128.self), scale: Int(scale), to: &out)
        case .list, .structure, .map: try appendNested(column, row: row, timestampSeparator: timestampSeparator, to: &out)
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

    /// Appends a LIST, STRUCT or MAP in DuckDB's text syntax (`[1, 2, NULL]`, `{'a': 1, 'b': x}`,
    /// `{k=1, j=2}`); scalars inside take this module's text forms, quoted with `'` (and `'` and `\`
    /// escaped with `\`) when DuckDB would quote them: empty, `NULL`, surrounding white space, or
    /// one of `"'(),:=[]{}`.
    static func appendNested(_ column: RawColumn, row: Int, timestampSeparator: UInt8, to out: inout [UInt8]) throws {
        func element(_ child: RawColumn, _ r: Int) throws {
            if child.isNull(r) {
                out.append(contentsOf: "NULL".utf8)
            } else if child.type.isNested {
                try appendNested(child, row: r, timestampSeparator: timestampSeparator, to: &out)
            } else {
                var text: [UInt8] = []
                try appendPlain(child, row: r, timestampSeparator: timestampSeparator, to: &text)
                appendNestedScalar(text, to: &out)
            }
        }
        switch column.type {
        case .list:
            let range = try column.listRange(row)
            try column.children[0].checkMonotone(range)
            out.append(UInt8(ascii: "["))
            for r in range {
                if r > range.lowerBound { out.append(contentsOf: ", ".utf8) }
                try element(column.children[0], r)
            }
            out.append(UInt8(ascii: "]"))
        case .structure(let fields):
            out.append(UInt8(ascii: "{"))
            for (i, field) in fields.enumerated() {
                if i > 0 { out.append(contentsOf: ", ".utf8) }
                appendQuoted(Array(field.name.utf8), to: &out)
                out.append(contentsOf: ": ".utf8)
                try element(column.children[i], row)
            }
            out.append(UInt8(ascii: "}"))
        case .map:
            let range = try column.listRange(row)
            let entries = column.children[0]
            try entries.checkMonotone(range)
            out.append(UInt8(ascii: "{"))
            for r in range {
                if r > range.lowerBound { out.append(contentsOf: ", ".utf8) }
                try element(entries.children[0], r)
                out.append(UInt8(ascii: "="))
                try element(entries.children[1], r)
            }
            out.append(UInt8(ascii: "}"))
        default:
            try appendPlain(column, row: row, timestampSeparator: timestampSeparator, to: &out)
        }
    }

    /// The characters that make DuckDB quote a scalar inside a nested value.
    private static let special: Set<UInt8> = Set("\"'(),:=[]{}".utf8)

    static func appendNestedScalar(_ text: [UInt8], to out: inout [UInt8]) {
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0D) }
        let quote = text.isEmpty || text.contains(where: special.contains)
            || isSpace(text[0]) || isSpace(text[text.count - 1])
            || (text.count == 4 && String(decoding: text, as: UTF8.self).uppercased() == "NULL")
        if quote { appendQuoted(text, to: &out) } else { out.append(contentsOf: text) }
    }

    /// `'text'` with `'` and `\` escaped by a backslash.
    static func appendQuoted(_ text: [UInt8], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "'"))
        for b in text {
            if b == UInt8(ascii: "'") || b == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
            out.append(b)
        }
        out.append(UInt8(ascii: "'"))
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

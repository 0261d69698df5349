import Foundation
import ResultFormat
import TestSupport

/// A deterministic result with one column of every column type.
/// - Parameters:
///   - rows: the number of rows
///   - nullEvery: every `nullEvery`-th row (from row 1) is null in every column; 0 for none
///   - allNull: every row of every column is null
///   - seed: varies the values
func arrowSample(rows: Int, nullEvery: Int = 7, allNull: Bool = false, seed: UInt64 = 1) throws -> QueryResult {
    var random = SeededRandom(seed: seed)
    func next() -> UInt64 { random.next() }
    let isNull: [Bool] = (0..<rows).map { allNull || (nullEvery > 0 && $0 % nullEvery == 1) }
    let validity = Validity(isNull.map { !$0 })
    func fixed<T>(_ make: (Int) -> T, zero: T) -> [T] { (0..<rows).map { isNull[$0] ? zero : make($0) } }
    func column(_ name: String, _ type: ColumnType, _ values: ColumnValues) throws -> Column {
        try Column(name: name, type: type, values: values, validity: validity)
    }
    let words = ["", "a", "comma,quote\"", "Grüße 🚀", "line\nbreak", "tab\t\u{1}", String(repeating: "x", count: 40)]
    var strings = VariableLengthValues(), uuids = VariableLengthValues(), enums = VariableLengthValues(), blobs = VariableLengthValues()
    for row in 0..<rows {
        if isNull[row] {
            strings.appendEmpty(); uuids.appendEmpty(); enums.appendEmpty(); blobs.appendEmpty()
            continue
        }
        let r = next()
        strings.append(utf8: words[Int(r % UInt64(words.count))] + String(row))
        uuids.append(utf8: String(format: "%08x-0000-4000-8000-%012lx", UInt32(truncatingIfNeeded: r), row))
        enums.append(utf8: ["red", "green", "blue"][row % 3])
        let blob = (0..<Int(r % 9)).map { UInt8(truncatingIfNeeded: r >> UInt64($0 * 7)) }
        blob.withUnsafeBytes { blobs.append($0) }
    }
    let columns: [Column] = [
        try column("b", .boolean, .boolean(fixed({ _ in next() & 1 == 1 }, zero: false))),
        try column("i8", .int8, .int8(fixed({ _ in Int8(truncatingIfNeeded: next()) }, zero: 0))),
        try column("i16", .int16, .int16(fixed({ _ in Int16(truncatingIfNeeded: next()) }, zero: 0))),
        try column("i32", .int32, .int32(fixed({ $0 == 0 ? Int32.min : Int32(truncatingIfNeeded: next()) }, zero: 0))),
        try column("i64", .int64, .int64(fixed({ $0 == 0 ? Int64.max : Int64(bitPattern: next()) }, zero: 0))),
        try column("u8", .uint8, .uint8(fixed({ _ in UInt8(truncatingIfNeeded: next()) }, zero: 0))),
        try column("u16", .uint16, .uint16(fixed({ _ in UInt16(truncatingIfNeeded: next()) }, zero: 0))),
        try column("u32", .uint32, .uint32(fixed({ _ in UInt32(truncatingIfNeeded: next()) }, zero: 0))),
        try column("u64", .uint64, .uint64(fixed({ $0 == 0 ? UInt64.max : next() }, zero: 0))),
        try column("h", .hugeint, .int128(fixed({ $0 == 0 ? Int128.min : Int128($0) * 100_000_000_000_000_000_000 - Int128(next() >> 1) }, zero: 0))),
        try column("uh", .uhugeint, .uint128(fixed({ $0 == 0 ? UInt128.max : UInt128(next()) << 64 | UInt128(next()) }, zero: 0))),
        try column("f", .float, .float(fixed({ $0 == 0 ? .nan : Float($0) / 3 }, zero: 0))),
        try column("d", .double, .double(fixed({ $0 == 0 ? -.infinity : Double(Int64(bitPattern: next())) / 1e6 }, zero: 0))),
        try column("dec", .decimal(width: 15, scale: 2), .int128(fixed({ Int128($0 * 101 - 5000) }, zero: 0))),
        try column("dec38", .decimal(width: 38, scale: 10), .int128(fixed({ $0 == 0 ? Int128(String(repeating: "9", count: 38))! : Int128(Int64(bitPattern: next())) * 1_000_000_007 }, zero: 0))),
        try column("s", .varchar, .utf8(strings)),
        try column("id", .uuid, .utf8(uuids)),
        try column("colour", .enumeration, .utf8(enums)),
        try column("bl", .blob, .binary(blobs)),
        try column("day", .date, .int32(fixed({ Int32($0 % 40_000) - 20_000 }, zero: 0))),
        try column("t", .time, .int64(fixed({ Int64($0) * 1_000_003 % 86_400_000_000 }, zero: 0))),
        try column("ts", .timestamp, .int64(fixed({ Int64($0) * 86_400_000_123 - 1_000_000_000_000 }, zero: 0))),
        try column("tz", .timestampTZ, .int64(fixed({ 1_704_067_200_000_000 + Int64($0) }, zero: 0))),
        try column("iv", .interval, .interval(fixed({ Interval(months: Int32($0 % 25) - 12, days: Int32($0 % 40), micros: Int64($0) * 1_500_001 - 7) },
                                               zero: Interval(months: 0, days: 0, micros: 0)))),
    ]
    return try QueryResult(columns: columns, rowCount: rows)
}

/// The pyarrow type string each sample column must have.
let arrowSampleTypes: [String: String] = [
    "b": "bool", "i8": "int8", "i16": "int16", "i32": "int32", "i64": "int64", "u8": "uint8", "u16": "uint16",
    "u32": "uint32", "u64": "uint64", "h": "decimal128(38, 0)",
    "uh": "extension<arrow.opaque[storage_type=fixed_size_binary[16], type_name=uhugeint, vendor_name=DuckDB]>",
    "f": "float", "d": "double", "dec": "decimal128(15, 2)", "dec38": "decimal128(38, 10)",
    "s": "string", "id": "string", "colour": "string", "bl": "binary", "day": "date32[day]", "t": "time64[us]",
    "ts": "timestamp[us]", "tz": "timestamp[us, tz=UTC]", "iv": "month_day_nano_interval",
]

/// Value `row` of `column` in the canonical text the pyarrow reader script prints: integers in
/// decimal, floats as the hex of their little-endian bytes, dates in days, times in µs, intervals as
/// `months,days,nanos`, blobs in hex.
func canonical(_ column: Column, _ row: Int) -> String {
    if column.isNull(row) { return "null" }
    func hex<T>(_ value: T) -> String { withUnsafeBytes(of: value) { hexString($0) } }
    switch column.values {
    case .boolean(let v): return v[row] ? "true" : "false"
    case .int8(let v): return String(v[row])
    case .int16(let v): return String(v[row])
    case .int32(let v): return String(v[row])
    case .int64(let v): return String(v[row])
    case .uint8(let v): return String(v[row])
    case .uint16(let v): return String(v[row])
    case .uint32(let v): return String(v[row])
    case .uint64(let v): return String(v[row])
    case .float(let v): return hex(v[row].bitPattern.littleEndian)
    case .double(let v): return hex(v[row].bitPattern.littleEndian)
    case .utf8(let v): return v.string(at: row)
    case .binary(let v): return v.blob(at: row).withUnsafeBytes { hexString($0) }
    case .interval(let v): return "\(v[row].months),\(v[row].days),\(v[row].micros * 1000)"
    case .int128(let v):
        if case .decimal(_, let scale) = column.type { return ExactDecimal(unscaled: v[row], scale: scale).description }
        return String(v[row])
    case .uint128(let v): return String(v[row])
    case .list, .structure: return "\(column.value(at: row))"
    }
}

/// Reads an IPC stream with pyarrow and prints, as JSON, each batch's row count and each column's
/// name, type, `duckdb.type` metadata and canonical values; with a second path, also writes the
/// table back with pyarrow's own writer in batches of at most `argv[3]` rows.
let pyarrowReader = #"""
import json, struct, sys
import pyarrow as pa, pyarrow.ipc as ipc
with open(sys.argv[1], "rb") as f:
    reader = ipc.open_stream(f)
    batches = list(reader)
    schema = reader.schema
table = pa.Table.from_batches(batches, schema=schema)
out = {"batches": [b.num_rows for b in batches], "columns": []}
for field, col in zip(table.schema, table.columns):
    t = field.type
    if isinstance(t, pa.BaseExtensionType):
        col = pa.chunked_array([c.storage for c in col.chunks], type=t.storage_type)
        t = t.storage_type
    if pa.types.is_date32(t):
        values = col.cast(pa.int32()).to_pylist()
    elif pa.types.is_timestamp(t) or pa.types.is_time64(t):
        values = col.cast(pa.int64()).to_pylist()
    else:
        values = col.to_pylist()
    def canon(v):
        if v is None: return "null"
        if pa.types.is_boolean(t): return "true" if v else "false"
        if pa.types.is_float32(t): return struct.pack("<f", v).hex()
        if pa.types.is_float64(t): return struct.pack("<d", v).hex()
        if pa.types.is_binary(t): return v.hex()
        if pa.types.is_fixed_size_binary(t): return str(int.from_bytes(v, "little"))
        if pa.types.is_interval(t): return "%d,%d,%d" % (v.months, v.days, v.nanoseconds)
        return str(v)
    md = {k.decode(): v.decode() for k, v in (field.metadata or {}).items()}
    out["columns"].append({"name": field.name, "type": str(field.type), "duckdb": md.get("duckdb.type"),
                           "values": [canon(v) for v in values]})
if len(sys.argv) > 2:
    with open(sys.argv[2], "wb") as f:
        with ipc.new_stream(f, table.schema) as writer:
            writer.write_table(table, max_chunksize=int(sys.argv[3]))
print(json.dumps(out))
"""#

private let hexDigits = Array("0123456789abcdef".utf8)

/// Lower-case hex of the bytes, as Python's `bytes.hex()` writes it.
func hexString(_ bytes: UnsafeRawBufferPointer) -> String {
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count * 2)
    for b in bytes {
        out.append(hexDigits[Int(b >> 4)])
        out.append(hexDigits[Int(b & 15)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// Whether two results have the same names, types, nulls and values, NaN equal to NaN (which
/// `==` on results does not consider equal).
func sameResult(_ a: QueryResult, _ b: QueryResult) -> Bool {
    guard a.rowCount == b.rowCount, a.columns.count == b.columns.count else { return false }
    for (x, y) in zip(a.columns, b.columns) {
        guard x.name == y.name, x.type == y.type else { return false }
        for row in 0..<a.rowCount where canonical(x, row) != canonical(y, row) { return false }
    }
    return true
}

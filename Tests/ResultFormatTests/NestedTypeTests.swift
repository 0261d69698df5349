import Foundation
@testable import ResultFormat
import Testing
import TestSupport

/// A deterministic result of nested columns: lists (with NULL lists, NULL elements and empty
/// lists), lists of lists, a struct holding a list, a map to exact decimals, a list of structs.
func nestedSample(rows: Int, seed: UInt64 = 3) throws -> QueryResult {
    var random = SeededRandom(seed: seed)
    func null(_ row: Int, _ every: Int) -> Bool { row % every == every - 1 }
    // LIST(INTEGER)
    var intOffsets = [0], ints: [Int32] = [], intValid: [Bool] = [], listValid: [Bool] = []
    // LIST(VARCHAR)
    var strOffsets = [0], strings = VariableLengthValues(), strValid: [Bool] = []
    // LIST(LIST(BIGINT))
    var outerOffsets = [0], innerOffsets = [0], longs: [Int64] = []
    // STRUCT(a INTEGER, b VARCHAR, c LIST(BOOLEAN))
    var aValues: [Int32] = [], aValid: [Bool] = [], bValues = VariableLengthValues(), cOffsets = [0], bools: [Bool] = [], structValid: [Bool] = []
    // MAP(VARCHAR, DECIMAL(9,2))
    var mapOffsets = [0], keys = VariableLengthValues(), decimals: [Int128] = [], decimalValid: [Bool] = []
    // LIST(STRUCT(x HUGEINT))
    var lsOffsets = [0], huge: [Int128] = []
    for row in 0..<rows {
        let isNullList = null(row, 5)
        listValid.append(!isNullList)
        let n = isNullList ? 0 : random.below(4)
        for k in 0..<n {
            let valid = k != 1
            ints.append(valid ? Int32(truncatingIfNeeded: random.next()) : 0)
            intValid.append(valid)
        }
        intOffsets.append(ints.count)
        let words = ["", "a", "x, y", "it's", "NULL", " pad ", "Grüße", "{}"]
        for _ in 0..<random.below(3) { strings.append(utf8: words[random.below(words.count)]); strValid.append(true) }
        if row % 4 == 0 { strings.appendEmpty(); strValid.append(false) }
        strOffsets.append(strings.count)
        for _ in 0..<random.below(3) {
            for _ in 0..<random.below(3) { longs.append(Int64(bitPattern: random.next())) }
            innerOffsets.append(longs.count)
        }
        outerOffsets.append(innerOffsets.count - 1)
        structValid.append(!null(row, 6))
        aValues.append(row % 3 != 0 ? Int32(row) : 0); aValid.append(row % 3 != 0)  // null rows hold zero
        bValues.append(utf8: "r\(row):\(random.below(100))")
        for _ in 0..<random.below(3) { bools.append(random.below(2) == 1) }
        cOffsets.append(bools.count)
        for k in 0..<random.below(3) {
            keys.append(utf8: "k\(k)")
            let valid = random.below(4) != 0
            decimals.append(valid ? Int128(Int64(random.below(2_000_000_000)) - 1_000_000_000) : 0)
            decimalValid.append(valid)
        }
        mapOffsets.append(keys.count)
        for _ in 0..<random.below(2) { huge.append(Int128(Int64(bitPattern: random.next())) * 1_000_000_000_000) }
        lsOffsets.append(huge.count)
    }
    func validity(_ flags: [Bool]) -> Validity { Validity(flags) }
    let listInt = try Column(
        name: "li", type: .list(.int32),
        values: .list(try ListValues(offsets: intOffsets, elements: try Column(name: "l", type: .int32, values: .int32(ints), validity: validity(intValid)))),
        validity: validity(listValid))
    let listString = try Column(
        name: "ls", type: .list(.varchar),
        values: .list(try ListValues(offsets: strOffsets, elements: try Column(name: "l", type: .varchar, values: .utf8(strings), validity: validity(strValid)))))
    let inner = try Column(
        name: "l", type: .list(.int64),
        values: .list(try ListValues(offsets: innerOffsets, elements: try Column(name: "l", type: .int64, values: .int64(longs)))))
    let listList = try Column(name: "ll", type: .list(.list(.int64)), values: .list(try ListValues(offsets: outerOffsets, elements: inner)))
    let c = try Column(name: "c", type: .list(.boolean), values: .list(try ListValues(offsets: cOffsets, elements: try Column(name: "l", type: .boolean, values: .boolean(bools)))))
    let fields = [StructField(name: "a", type: .int32), StructField(name: "b", type: .varchar), StructField(name: "c", type: .list(.boolean))]
    let structColumn = try Column(
        name: "st", type: .structure(fields),
        values: .structure(try StructValues(count: rows, fields: [
            try Column(name: "a", type: .int32, values: .int32(aValues), validity: validity(aValid)),
            try Column(name: "b", type: .varchar, values: .utf8(bValues)), c,
        ])),
        validity: validity(structValid))
    let entryType = ColumnType.mapEntry(key: .varchar, value: .decimal(width: 9, scale: 2))
    let entries = try Column(
        name: "entries", type: entryType,
        values: .structure(try StructValues(count: keys.count, fields: [
            try Column(name: "key", type: .varchar, values: .utf8(keys)),
            try Column(name: "value", type: .decimal(width: 9, scale: 2), values: .int128(decimals), validity: validity(decimalValid)),
        ])))
    let map = try Column(name: "m", type: .map(key: .varchar, value: .decimal(width: 9, scale: 2)), values: .list(try ListValues(offsets: mapOffsets, elements: entries)))
    let xs = try Column(
        name: "l", type: .structure([StructField(name: "x", type: .hugeint)]),
        values: .structure(try StructValues(count: huge.count, fields: [try Column(name: "x", type: .hugeint, values: .int128(huge))])))
    let listStruct = try Column(name: "lst", type: .list(.structure([StructField(name: "x", type: .hugeint)])), values: .list(try ListValues(offsets: lsOffsets, elements: xs)))
    return try QueryResult(columns: [listInt, listString, listList, structColumn, map, listStruct], rowCount: rows)
}

@Suite struct NestedTypeTests {
    @Test(arguments: [1, 3, 1000])
    func nestedColumnsRoundTripThroughTheArchiveReadInPlace(batchRows: Int) throws {
        let result = try nestedSample(rows: 40)
        let archive = try ArchivedResult(bytes: try ArrowIPCWriter(maxRowsPerBatch: batchRows).encode(result))
        try archive.validate()
        #expect(archive.fields.map(\.type) == result.columns.map(\.type))
        #expect(try archive.materialize() == result)
        for c in 0..<result.columns.count {
            for row in 0..<result.rowCount {
                #expect(try archive.column(c).value(at: row) == result.columns[c].value(at: row), "column \(c) row \(row)")
            }
        }
        // The encoders read the archive in place and write what they write for the result.
        #expect(try JSONResultEncoder().encode(archive) == JSONResultEncoder().encode(result))
        #expect(try CSVResultEncoder().encode(archive) == CSVResultEncoder().encode(result))
    }

    @Test func pyarrowReadsNestedStreamsAndItsOwnRewriteReadsBackEqual() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let result = try nestedSample(rows: 25)
        let ours = dir.appendingPathComponent("ours.arrows"), theirs = dir.appendingPathComponent("theirs.arrows")
        try Data(try ArrowIPCWriter(maxRowsPerBatch: 10).encode(result)).write(to: ours)
        let script = """
            import sys, pyarrow as pa, pyarrow.ipc as ipc
            table = ipc.open_stream(open(sys.argv[1], "rb")).read_all()
            table.validate(full=True)
            print(table.schema.field("m").type, table.schema.field("lst").type, table.num_rows)
            with open(sys.argv[2], "wb") as f, ipc.new_stream(f, table.schema) as w:
                w.write_table(table, max_chunksize=7)
            """
        let printed = String(decoding: try TestSupport.runPython(script, arguments: [ours.path, theirs.path]), as: UTF8.self)
        #expect(printed == "map<string, decimal128(9, 2)> list<l: struct<x: decimal128(38, 0)>> 25\n")
        let back = try ArchivedResult(bytes: Array(try Data(contentsOf: theirs)))
        try back.validate()
        #expect(try back.materialize() == result)
    }

    @Test func jsonAndCSVFormsOfNestedValues() throws {
        let result = try nestedSample(rows: 6)
        let json = String(decoding: JSONResultEncoder().encode(result), as: UTF8.self)
        let parsed = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]]
        #expect(parsed?.count == 6)
        // Row 4 holds a NULL list; lists are arrays, structs objects, maps objects keyed by text.
        #expect(json.contains(#""li":null"#))
        #expect(parsed?[0]["st"] is [String: Any])
        #expect(parsed?[0]["m"] is [String: Any])
        let csv = String(decoding: CSVResultEncoder(lineTerminator: "\n").encode(result), as: UTF8.self)
        #expect(csv.hasPrefix("li,ls,ll,st,m,lst\n"))
        // DuckDB's text syntax: quoted when it would quote (empty, NULL, commas, quotes, padding).
        var text: [UInt8] = []
        TextEncoding.appendNestedScalar(Array("".utf8), to: &text)
        TextEncoding.appendNestedScalar(Array("NULL".utf8), to: &text)
        TextEncoding.appendNestedScalar(Array("x, y".utf8), to: &text)
        TextEncoding.appendNestedScalar(Array("it's".utf8), to: &text)
        TextEncoding.appendNestedScalar(Array(" pad".utf8), to: &text)
        TextEncoding.appendNestedScalar(Array("a b".utf8), to: &text)
        #expect(String(decoding: text, as: UTF8.self) == #"'''NULL''x, y''it\'s'' pad'a b"#)
    }

    @Test func schemasNestedTooDeeplyAreRefusedNotRecursed() throws {
        var type = ColumnType.int32
        for _ in 0..<(Arrow.maxNestingDepth + 1) { type = .list(type) }
        let schema = ArrowIPCWriter.schemaMetadata([(name: "deep", type: type)])
        var bytes: [UInt8] = []
        ArrowIPCWriter.appendMessage(metadata: schema, bodyLength: 0, to: &bytes)
        bytes += [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]
        let error = #expect(throws: ArchiveError.self) { try ArchivedResult(bytes: bytes) }
        #expect(error?.kind == .unsupported)
        #expect(error?.message.contains("nests deeper than 64") == true)
    }

    @Test func sharedChildTablesCannotBlowUpTheSchema() throws {
        // Each level's struct names the previous level's field 16 times (one table, shared): a
        // schema of a few hundred bytes would describe 16^8 fields.
        var b = FlatBufferBuilder()
        func field(_ name: String, typeID: Arrow.TypeID, children: [FlatBufferBuilder.Offset]) -> FlatBufferBuilder.Offset {
            let childVector = b.createVector(children)
            let nameOffset = b.createString(name)
            b.startTable()
            if typeID == .int { b.add(Int32(32), slot: 0, default: 0); b.add(UInt8(1), slot: 1, default: 0) }
            let typeTable = b.endTable()
            b.startTable()
            b.add(nameOffset, slot: Arrow.Slot.fieldName)
            b.add(typeID.rawValue, slot: Arrow.Slot.fieldTypeType, default: 0)
            b.add(typeTable, slot: Arrow.Slot.fieldType)
            b.add(childVector, slot: Arrow.Slot.fieldChildren)
            return b.endTable()
        }
        var level = field("leaf", typeID: .int, children: [])
        for depth in 0..<8 { level = field("s\(depth)", typeID: .structure, children: Array(repeating: level, count: 16)) }
        let fields = b.createVector([level])
        b.startTable()
        b.add(fields, slot: Arrow.Slot.schemaFields)
        let schema = b.endTable()
        let metadata = ArrowIPCWriter.message(&b, header: .schema, table: schema, bodyLength: 0)
        var bytes: [UInt8] = []
        ArrowIPCWriter.appendMessage(metadata: metadata, bodyLength: 0, to: &bytes)
        bytes += [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]
        let error = #expect(throws: ArchiveError.self) { try ArchivedResult(bytes: bytes) }
        #expect(error?.kind == .malformedMetadata)
    }

    @Test func malformedPartsAreRefusedWhenAResultIsMade() throws {
        // Values are immutable and checked on creation: an encoder can never be handed offsets
        // or lengths that point past a buffer.
        #expect(throws: ResultShapeError.self) { try VariableLengthValues(offsets: [0, 5, 3], bytes: Array("abcde".utf8)) }
        #expect(throws: ResultShapeError.self) { try VariableLengthValues(offsets: [0, 9], bytes: Array("abc".utf8)) }
        #expect(throws: ResultShapeError.self) { try Column(name: "x", type: .int32, values: .int64([1])) }
        #expect(throws: ResultShapeError.self) { try Column(name: "x", type: .int32, values: .int32([1, 2]), validity: Validity([true])) }
        let one = try Column(name: "x", type: .int32, values: .int32([1]))
        #expect(throws: ResultShapeError.self) { try QueryResult(columns: [one], rowCount: 2) }
        #expect(throws: ResultShapeError.self) { try ListValues(offsets: [0, 2], elements: one) }
        #expect(throws: ResultShapeError.self) { try ListValues(offsets: [0, 1, 0], elements: one) }
        #expect(throws: ResultShapeError.self) { try StructValues(count: 2, fields: [one]) }
        let list = try ListValues(offsets: [0, 1], elements: one)
        #expect(throws: ResultShapeError.self) { try Column(name: "l", type: .list(.int64), values: .list(list)) }
        let fields = try StructValues(count: 1, fields: [one])
        #expect(throws: ResultShapeError.self) { try Column(name: "s", type: .structure([StructField(name: "y", type: .int32)]), values: .structure(fields)) }
        #expect(try Column(name: "s", type: .structure([StructField(name: "x", type: .int32)]), values: .structure(fields)).count == 1)
    }

    @Test func exactNumbersAreJSONNumbersOnlyWhenADoubleReaderGetsThemBack() throws {
        let result = try QueryResult(columns: [
            try Column(name: "h", type: .hugeint, values: .int128([1 << 53, (1 << 53) + 1, -(1 << 53), Int128.min])),
            try Column(name: "d", type: .decimal(width: 38, scale: 3), values: .int128([123_456_789_012_345, 1_234_567_890_123_456, -5, 120_000_000_000_000_000])),
            try Column(name: "u", type: .uhugeint, values: .uint128([1 << 53, (1 << 53) + 1, 0, .max])),
        ], rowCount: 4)
        let json = String(decoding: JSONResultEncoder(layout: .columns).encode(result), as: UTF8.self)
        #expect(json == #"{"rowCount":4,"columns":[{"name":"h","type":"HUGEINT","values":[9007199254740992,"9007199254740993",-9007199254740992,"-170141183460469231731687303715884105728"]},{"name":"d","type":"DECIMAL(38,3)","values":[123456789012.345,"1234567890123.456",-0.005,120000000000000.000]},{"name":"u","type":"UHUGEINT","values":[9007199254740992,"9007199254740993",0,"340282366920938463463374607431768211455"]}]}"#)
        let csv = String(decoding: CSVResultEncoder(lineTerminator: "\n").encode(result), as: UTF8.self)
        #expect(csv == "h,d,u\n9007199254740992,123456789012.345,9007199254740992\n9007199254740993,1234567890123.456,9007199254740993\n-9007199254740992,-0.005,0\n-170141183460469231731687303715884105728,120000000000000.000,340282366920938463463374607431768211455\n")
    }
}

@Suite struct StreamingEncoderTests {
    @Test(arguments: [1, 7, 500, 1 << 16])
    func pulledChunksConcatenateToTheWholeEncoding(chunkSize: Int) async throws {
        for result in [try arrowSample(rows: 30), try nestedSample(rows: 30), try arrowSample(rows: 0)] {
            let archive = try ArchivedResult(bytes: try ArrowIPCWriter(maxRowsPerBatch: 8).encode(result))
            let encoders: [(String, (ArchivedResult) throws -> [UInt8], EncodedChunks, EncodedChunks)] = [
                ("json rows", { try JSONResultEncoder().encode($0) }, JSONResultEncoder().chunks(archive, chunkSize: chunkSize),
                 JSONResultEncoder().chunks(result, chunkSize: chunkSize)),
                ("json columns", { try JSONResultEncoder(layout: .columns).encode($0) },
                 JSONResultEncoder(layout: .columns).chunks(archive, chunkSize: chunkSize),
                 JSONResultEncoder(layout: .columns).chunks(result, chunkSize: chunkSize)),
                ("csv", { try CSVResultEncoder().encode($0) }, CSVResultEncoder().chunks(archive, chunkSize: chunkSize),
                 CSVResultEncoder().chunks(result, chunkSize: chunkSize)),
            ]
            for (name, whole, fromArchive, fromResult) in encoders {
                let expected = try whole(archive)
                for chunks in [fromArchive, fromResult] {
                    var joined: [UInt8] = []
                    var count = 0
                    for try await chunk in chunks {
                        #expect(!chunk.isEmpty)
                        joined += chunk
                        count += 1
                    }
                    #expect(joined == expected, "\(name), chunk size \(chunkSize)")
                    if chunkSize == 1 { #expect(count >= result.rowCount, "\(name): a chunk per row at least") }
                }
            }
        }
    }

    @Test func aCancelledConsumerStopsTheEncoding() async throws {
        let chunks = JSONResultEncoder().chunks(try arrowSample(rows: 200), chunkSize: 64)
        let task = Task {
            var iterator = chunks.makeAsyncIterator()
            _ = try await iterator.next()
            withUnsafeCurrentTask { $0?.cancel() }
            return try await iterator.next()
        }
        await #expect(throws: CancellationError.self) { try await task.value }
    }

    @Test func aStreamBuiltFromPartsReadsAsTheWholeResult() throws {
        let whole = try nestedSample(rows: 50)
        var builder = ArrowStreamBuilder(fields: whole.columns.map { ArchivedField(name: $0.name, type: $0.type) }, maxRowsPerBatch: 16)
        for part in [try nestedSample(rows: 50)] { try builder.append(part) }
        let wrong = try QueryResult(columns: [try Column(name: "x", type: .int32, values: .int32([1]))], rowCount: 1)
        #expect(throws: ArchiveError.self) { try builder.append(wrong) }
        let archive = try ArchivedResult(bytes: builder.finish())
        #expect(archive.batchCount == 4)
        #expect(try archive.materialize() == whole)
    }
}

/// Hostile archives and extreme parameters found by reviewing the nested and exact-number code.
@Suite(.timeLimit(.minutes(2))) struct HostileNestedArchiveTests {
    /// pyarrow writes 20 levels of 9-row lists whose NULL rows carry backwards offsets, so every
    /// valid row covers its whole child again: 5^20 × 9 leaf visits for one row unless offsets are
    /// checked for order before they are followed. `validate()` refuses it; nothing else may hang.
    @Test func backwardOffsetsOfNullRowsCannotMultiplyTheWork() throws {
        let script = #"""
            import io, struct, sys, pyarrow as pa, pyarrow.ipc as ipc
            M, D = 9, 20
            def bitmap(bits):
                out = bytearray((len(bits) + 7) // 8)
                for i, b in enumerate(bits):
                    if b: out[i >> 3] |= 1 << (i & 7)
                return pa.py_buffer(bytes(out))
            child = pa.array(list(range(M)), pa.int8())
            for level in range(D):
                offs = [0 if i % 2 == 0 else M for i in range(M + 1)]
                valid = [i % 2 == 0 for i in range(M)]
                child = pa.Array.from_buffers(pa.list_(child.type), M,
                    [bitmap(valid), pa.py_buffer(struct.pack('<%di' % (M + 1), *offs))],
                    null_count=valid.count(False), children=[child])
            root = pa.Array.from_buffers(pa.list_(child.type), 1, [None, pa.py_buffer(struct.pack('<2i', 0, M))], null_count=0, children=[child])
            batch = pa.record_batch([root], names=['c'])
            with ipc.new_stream(sys.stdout.buffer, batch.schema) as w: w.write_batch(batch)
            """#
        let bytes = Array(try TestSupport.runPython(script))
        #expect(bytes.count < 8192)
        let archive = try ArchivedResult(bytes: bytes)
        #expect(throws: ArchiveError.self) { try archive.validate() }
        #expect(throws: ArchiveError.self) { try archive.column(0).value(at: 0) }
        #expect(throws: ArchiveError.self) { try JSONResultEncoder().encode(archive) }
        #expect(throws: ArchiveError.self) { try CSVResultEncoder().encode(archive) }
        #expect(throws: ArchiveError.self) { try archive.materialize() }
    }

    @Test func aStructWithFieldsNamedKeyAndValueKeepsANullableKey() throws {
        // Only a MAP's entries have a non-null key; DuckDB exports {'key': …, 'value': …} with both nullable.
        let type = ColumnType.structure([StructField(name: "key", type: .int32), StructField(name: "value", type: .int32)])
        let column = try Column(
            name: "kv", type: type,
            values: .structure(try StructValues(count: 1, fields: [
                try Column(name: "key", type: .int32, values: .int32([0]), validity: Validity([false])),
                try Column(name: "value", type: .int32, values: .int32([2])),
            ])))
        let bytes = try ArrowIPCWriter().encode(try QueryResult(columns: [column], rowCount: 1))
        let printed = String(decoding: try TestSupport.runPython(
            "import sys, pyarrow.ipc as ipc; t = ipc.open_stream(sys.stdin.buffer.read()).read_all(); t.validate(full=True); print(t.schema.field('kv').type, t.to_pylist())",
            stdin: Data(bytes)), as: UTF8.self)
        #expect(printed == "struct<key: int32, value: int32> [{'kv': {'key': None, 'value': 2}}]\n")
    }

    @Test func extremeBatchAndChunkSizesAreClampedNotTrapped() async throws {
        let result = try arrowSample(rows: 5)
        for rows in [Int.min, -1, 0, 1, Int.max] {
            let archive = try ArchivedResult(bytes: try ArrowIPCWriter(maxRowsPerBatch: rows).encode(result))
            #expect(try archive.materialize().rowCount == 5)
        }
        var joined: [UInt8] = []
        for try await chunk in CSVResultEncoder().chunks(result, chunkSize: .max) { joined += chunk }
        #expect(joined == CSVResultEncoder().encode(result))
        joined = []
        for try await chunk in JSONResultEncoder().chunks(result, chunkSize: .min) { joined += chunk }
        #expect(joined == JSONResultEncoder().encode(result))
        #expect(throws: ResultShapeError.self) { try QueryResult(columns: [], rowCount: Int.max / 2) }
    }

    @Test func typesNoReaderAcceptsAreRefusedBeforeAByteIsWritten() throws {
        #expect(throws: ResultShapeError.self) { try Column(name: "d", type: .decimal(width: 0, scale: 0), values: .int128([1])) }
        #expect(throws: ResultShapeError.self) { try Column(name: "d", type: .decimal(width: 39, scale: 2), values: .int128([1])) }
        #expect(throws: ResultShapeError.self) { try Column(name: "s", type: .structure([]), values: .structure(try StructValues(count: 1, fields: []))) }
        // A MAP's keys are never NULL.
        let entries = try Column(
            name: "entries", type: .mapEntry(key: .int32, value: .int32),
            values: .structure(try StructValues(count: 1, fields: [
                try Column(name: "key", type: .int32, values: .int32([0]), validity: Validity([false])),
                try Column(name: "value", type: .int32, values: .int32([1])),
            ])))
        #expect(throws: ResultShapeError.self) {
            try Column(name: "m", type: .map(key: .int32, value: .int32), values: .list(try ListValues(offsets: [0, 1], elements: entries)))
        }
        // Deeper than any reader opens: refused by the writer.
        var type = ColumnType.int32
        var column = try Column(name: "l", type: type, values: .int32([1]))
        for _ in 0..<64 {
            type = .list(type)
            column = try Column(name: "l", type: type, values: .list(try ListValues(offsets: [0, 1], elements: column)))
        }
        var sunk = 0
        let error = #expect(throws: ArchiveError.self) {
            try ArrowIPCWriter().write(try QueryResult(columns: [column], rowCount: 1)) { sunk += $0.count }
        }
        #expect(error?.kind == .unsupported)
        #expect(sunk == 0)
    }
}

import Foundation
@testable import ResultFormat
import Testing

/// The malformed-input corpus: each case is a way real bytes go wrong (truncation, lying lengths
/// and offsets, bad UTF-8, corrupt metadata), kept as a regression test. None may trap.
@Suite struct MalformedArchiveTests {
    func stringResult(_ strings: [String]) throws -> QueryResult {
        try QueryResult(columns: [
            try Column(name: "s", type: .varchar, values: .utf8(VariableLengthValues(strings: strings))),
            try Column(name: "n", type: .int64, values: .int64(strings.indices.map { Int64($0) })),
        ], rowCount: strings.count)
    }

    /// A stream: our schema for `result`, then one hand-made record batch message.
    func stream(
        schemaOf result: QueryResult, length: Int64, nodes: [(Int64, Int64)], buffers: [(Int64, Int64)],
        bodyLength: Int, declaredBodyLength: Int? = nil, compressed: Bool = false, version: Int16 = Arrow.metadataVersion
    ) -> [UInt8] {
        var out: [UInt8] = []
        ArrowIPCWriter.appendMessage(metadata: ArrowIPCWriter.schemaMetadata(result), bodyLength: 0, to: &out)
        var b = FlatBufferBuilder()
        let bufferVector = b.createStructVector(buffers)
        let nodeVector = b.createStructVector(nodes)
        var compression: FlatBufferBuilder.Offset?
        if compressed {
            b.startTable()
            b.add(Int8(0), slot: 0, default: -1)
            compression = b.endTable()
        }
        b.startTable()
        b.add(length, slot: Arrow.Slot.batchLength, default: 0)
        b.add(nodeVector, slot: Arrow.Slot.batchNodes)
        b.add(bufferVector, slot: Arrow.Slot.batchBuffers)
        if let compression { b.add(compression, slot: Arrow.Slot.batchCompression) }
        let batch = b.endTable()
        b.startTable()
        b.add(Int64(declaredBodyLength ?? bodyLength), slot: Arrow.Slot.messageBodyLength, default: 0)
        b.add(batch, slot: Arrow.Slot.messageHeader)
        b.add(version, slot: Arrow.Slot.messageVersion, default: 0)
        b.add(Arrow.MessageHeader.recordBatch.rawValue, slot: Arrow.Slot.messageHeaderType, default: 0)
        let metadata = b.finish(root: b.endTable())
        ArrowIPCWriter.appendMessage(metadata: metadata, bodyLength: bodyLength, to: &out)
        out.append(contentsOf: repeatElement(0, count: bodyLength))
        out.append(contentsOf: Self.endOfStream)
        return out
    }

    static let endOfStream: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]

    func openError(_ bytes: [UInt8]) -> ArchiveError? {
        #expect(throws: ArchiveError.self) { try ArchivedResult(bytes: bytes) }
    }

    @Test func everyTruncationIsAnErrorEvenBetweenMessages() throws {
        // A stream cut between two messages would otherwise open with fewer rows than were
        // written, and a cache would serve part of a result as the whole: the end-of-stream marker
        // is required.
        let result = try stringResult((0..<20).map { "value \($0) é" })
        let bytes = try ArrowIPCWriter(maxRowsPerBatch: 6).encode(result)
        #expect(try ArchivedResult(bytes: bytes).rowCount == 20)
        for length in 0..<bytes.count {
            do {
                let archive = try ArchivedResult(bytes: Array(bytes[..<length]))
                Issue.record("prefix \(length) of \(bytes.count) bytes opened with \(archive.rowCount) rows")
            } catch let error as ArchiveError {
                #expect(error.kind == .truncated || error.kind == .malformedMetadata, "prefix \(length): \(error)")
            }
        }
    }

    @Test func bytesAfterTheEndOfStreamMarkerAreRejected() throws {
        let bytes = try ArrowIPCWriter().encode(try stringResult(["a", "b"]))
        for tail: [UInt8] in [[0], [0, 0, 0, 0, 0, 0, 0, 0], Self.endOfStream, Array(bytes.prefix(64))] {
            let error = #expect(throws: ArchiveError.self) { try ArchivedResult(bytes: bytes + tail) }
            #expect(error?.kind == .malformedMetadata)
            #expect(error?.message.contains("after the end-of-stream marker") == true)
        }
    }

    @Test func lyingStringOffsetsFailOnAccessAndInValidate() throws {
        var bytes = try ArrowIPCWriter().encode(try stringResult(["ab", "cd", "ef"]))
        let offsets = try ArchivedResult(bytes: bytes).buffers(batch: 0, column: 0).values
        // Value 1 claims to end 2 GB past its data.
        withUnsafeBytes(of: Int32.max.littleEndian) { bytes.replaceSubrange((offsets.lowerBound + 8)..<(offsets.lowerBound + 12), with: $0) }
        let archive = try ArchivedResult(bytes: bytes)
        let strings = try archive.column(0).strings()
        #expect(try strings.string(at: 0) == "ab")
        #expect(throws: ArchiveError.self) { try strings.string(at: 1) }
        #expect(throws: ArchiveError.self) { try strings.string(at: 2) }
        let validation = #expect(throws: ArchiveError.self) { try archive.validate() }
        #expect(validation?.kind == .invalidData)
        #expect(throws: ArchiveError.self) { try JSONResultEncoder().encode(archive) }
        #expect(throws: ArchiveError.self) { try CSVResultEncoder().encode(archive) }
        #expect(throws: ArchiveError.self) { try archive.materialize() }
        // The fixed-width column beside it is unaffected.
        #expect(Array(try archive.column(1).int64s()) == [0, 1, 2])

        // Decreasing offsets: value 1 would end before it starts.
        var decreasing = try ArrowIPCWriter().encode(try stringResult(["ab", "cd", "ef"]))
        withUnsafeBytes(of: Int32(1).littleEndian) { decreasing.replaceSubrange((offsets.lowerBound + 8)..<(offsets.lowerBound + 12), with: $0) }
        let archive2 = try ArchivedResult(bytes: decreasing)
        #expect(throws: ArchiveError.self) { try archive2.column(0).strings().string(at: 1) }
        #expect(throws: ArchiveError.self) { try archive2.validate() }
    }

    @Test func invalidUTF8IsAnErrorForStringsAndRepairedInJSON() throws {
        var bytes = try ArrowIPCWriter().encode(try stringResult(["ok", "bad"]))
        let data = try ArchivedResult(bytes: bytes).buffers(batch: 0, column: 0).data
        bytes[data.lowerBound + 3] = 0xFF  // "a" of "bad"
        let archive = try ArchivedResult(bytes: bytes)
        let error = #expect(throws: ArchiveError.self) { try archive.column(0).strings().string(at: 1) }
        #expect(error?.kind == .invalidData)
        #expect(throws: ArchiveError.self) { try archive.validate() }
        let json = String(decoding: try JSONResultEncoder().encode(archive), as: UTF8.self)
        #expect(json == #"[{"s":"ok","n":0},{"s":"b\#u{FFFD}d","n":1}]"#)
    }

    @Test func lyingLengthsAndRangesAreRejectedAtOpen() throws {
        let result = try QueryResult(columns: [try Column(name: "x", type: .int64, values: .int64([1, 2]))], rowCount: 2)
        let good: [(Int64, Int64)] = [(0, 0), (0, 16)]
        // The well-formed control opens.
        #expect(try ArchivedResult(bytes: stream(schemaOf: result, length: 2, nodes: [(2, 0)], buffers: good, bodyLength: 16)).rowCount == 2)
        let cases: [(String, [UInt8], ArchiveError.Kind)] = [
            ("more rows than the values buffer holds",
             stream(schemaOf: result, length: 3, nodes: [(3, 0)], buffers: good, bodyLength: 16), .inconsistent),
            ("node length differs from batch length",
             stream(schemaOf: result, length: 2, nodes: [(5, 0)], buffers: good, bodyLength: 16), .inconsistent),
            ("more nulls than rows",
             stream(schemaOf: result, length: 2, nodes: [(2, 3)], buffers: good, bodyLength: 16), .inconsistent),
            ("nulls without a bitmap",
             stream(schemaOf: result, length: 2, nodes: [(2, 1)], buffers: good, bodyLength: 16), .inconsistent),
            ("buffer past the body",
             stream(schemaOf: result, length: 2, nodes: [(2, 0)], buffers: [(0, 0), (8, 16)], bodyLength: 16), .inconsistent),
            ("negative buffer offset",
             stream(schemaOf: result, length: 2, nodes: [(2, 0)], buffers: [(0, 0), (-8, 16)], bodyLength: 16), .inconsistent),
            ("buffer length overflowing",
             stream(schemaOf: result, length: 2, nodes: [(2, 0)], buffers: [(0, 0), (8, .max)], bodyLength: 16), .inconsistent),
            ("too few buffers",
             stream(schemaOf: result, length: 2, nodes: [(2, 0)], buffers: [(0, 16)], bodyLength: 16), .inconsistent),
            ("too many nodes",
             stream(schemaOf: result, length: 2, nodes: [(2, 0), (2, 0)], buffers: good, bodyLength: 16), .inconsistent),
            ("negative row count",
             stream(schemaOf: result, length: -1, nodes: [(-1, 0)], buffers: good, bodyLength: 16), .inconsistent),
            ("absurd row count",
             stream(schemaOf: result, length: 1 << 40, nodes: [(1 << 40, 0)], buffers: good, bodyLength: 16), .inconsistent),
            ("body longer than the stream",
             stream(schemaOf: result, length: 2, nodes: [(2, 0)], buffers: good, bodyLength: 16, declaredBodyLength: 1 << 30), .truncated),
            ("compressed body",
             stream(schemaOf: result, length: 2, nodes: [(2, 0)], buffers: good, bodyLength: 16, compressed: true), .unsupported),
            ("metadata version V3",
             stream(schemaOf: result, length: 2, nodes: [(2, 0)], buffers: good, bodyLength: 16, version: 2), .unsupported),
            ("rows without columns",
             stream(schemaOf: try QueryResult(columns: [], rowCount: 0), length: 5, nodes: [], buffers: [], bodyLength: 0), .inconsistent),
        ]
        for (name, bytes, kind) in cases {
            #expect(openError(bytes)?.kind == kind, "\(name)")
        }
    }

    @Test func brokenFramingAndMetadataAreRejectedAtOpen() throws {
        let result = try stringResult(["a"])
        let good = try ArrowIPCWriter().encode(result)
        var schemaOnly: [UInt8] = []
        ArrowIPCWriter.appendMessage(metadata: ArrowIPCWriter.schemaMetadata(result), bodyLength: 0, to: &schemaOnly)
        let batchOnly = Array(good[schemaOnly.count...])
        func patched(_ offset: Int, _ value: UInt32) -> [UInt8] {
            var bytes = good
            withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(offset..<(offset + 4), with: $0) }
            return bytes
        }
        let cases: [(String, [UInt8], ArchiveError.Kind)] = [
            ("empty", [], .truncated),
            ("metadata length past the end", patched(4, 1 << 20), .truncated),
            ("negative metadata length", patched(4, UInt32.max - 7), .truncated),
            ("root offset outside the metadata", patched(8, 1 << 16), .truncated),
            ("vtable before the metadata", patched(8 + Int(good[8]), 1 << 30), .malformedMetadata),
            ("batch before schema", batchOnly, .malformedMetadata),
            ("two schemas", schemaOnly + good, .malformedMetadata),
        ]
        for (name, bytes, kind) in cases {
            #expect(openError(bytes)?.kind == kind, "\(name)")
        }
    }

    @Test func nullCountsDisagreeingWithTheBitmapFailValidation() throws {
        let result = try QueryResult(columns: [try Column(name: "x", type: .int64, values: .int64([1, 2]))], rowCount: 2)
        // One null declared, bitmap byte 0 (at body offset 0) left as 0b11 would say none: zero says two.
        var bytes = stream(schemaOf: result, length: 2, nodes: [(2, 1)], buffers: [(0, 1), (8, 16)], bodyLength: 24)
        let archive = try ArchivedResult(bytes: bytes)
        #expect(archive.column(0).isNull(0) && archive.column(0).isNull(1))
        #expect(throws: ArchiveError.self) { try archive.validate() }
        bytes[bytes.count - 8 - 24] = 0b10  // row 0 null, row 1 valid: agrees (the body ends before the 8-byte end marker)
        try ArchivedResult(bytes: bytes).validate()
    }

    @Test func unalignedBytesReadTheSameValues() throws {
        let bytes = try ArrowIPCWriter(maxRowsPerBatch: 5).encode(try arrowSample(rows: 12))
        let expected = try ArchivedResult(bytes: bytes).materialize()
        for shift in 1..<8 {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count + 8, alignment: 16)
            defer { buffer.deallocate() }
            let slice = UnsafeMutableRawBufferPointer(rebasing: buffer[shift..<(shift + bytes.count)])
            slice.copyBytes(from: bytes)
            let archive = try ArchivedResult(unsafeBytes: UnsafeRawBufferPointer(slice))
            try archive.validate()
            #expect(sameResult(try archive.materialize(), expected), "shift \(shift)")
            #expect(try JSONResultEncoder().encode(archive) == JSONResultEncoder().encode(expected))
        }
    }
}

/// Schema decoding stays proportional to the bytes, empty blobs stay distinct from NULL, and a
/// writer fails before its first byte.
@Suite struct SchemaCostAndWriterFailureTests {
    @Test func fieldsSharingOneHugeNameAreRejectedInsteadOfDecodedOverAndOver() throws {
        // Build the field after its type table (children before parents).
        var c = FlatBufferBuilder()
        let cName = c.createString(String(repeating: "n", count: 4000))
        c.startTable()
        let cType = c.endTable()
        c.startTable()
        c.add(cName, slot: Arrow.Slot.fieldName)
        c.add(Arrow.TypeID.bool.rawValue, slot: Arrow.Slot.fieldTypeType, default: 0)
        c.add(cType, slot: Arrow.Slot.fieldType)
        let field = c.endTable()
        let fields = c.createVector(Array(repeating: field, count: 2000))  // 2 000 entries, one table
        c.startTable()
        c.add(fields, slot: Arrow.Slot.schemaFields)
        let schema = c.endTable()
        let metadata = ArrowIPCWriter.message(&c, header: .schema, table: schema, bodyLength: 0)
        var bytes: [UInt8] = []
        ArrowIPCWriter.appendMessage(metadata: metadata, bodyLength: 0, to: &bytes)
        let error = #expect(throws: ArchiveError.self) { try ArchivedResult(bytes: bytes) }
        #expect(error?.kind == .malformedMetadata)
    }

    @Test func anEmptyBlobIsQuotedInCSVSoItDiffersFromNull() throws {
        let result = try QueryResult(columns: [
            try Column(name: "b", type: .blob, values: .binary(try VariableLengthValues(offsets: [0, 0, 0, 1], bytes: [65])),
                   validity: Validity([true, false, true])),
        ], rowCount: 3)
        #expect(String(decoding: CSVResultEncoder().encode(result), as: UTF8.self) == "b\r\n\"\"\r\n\r\nQQ==\r\n")
    }

    @Test func aWriterFailureHappensBeforeAnyByteReachesTheSink() throws {
        let result = try QueryResult(columns: [
            try Column(name: "i", type: .interval, values: .interval(
                [Interval(months: 0, days: 0, micros: 1)] + Array(repeating: Interval(months: 0, days: 0, micros: .max), count: 1))),
        ], rowCount: 2)
        var received = 0
        #expect(throws: ArchiveError.self) { try ArrowIPCWriter(maxRowsPerBatch: 1).write(result) { _ in received += 1 } }
        #expect(received == 0)
    }
}

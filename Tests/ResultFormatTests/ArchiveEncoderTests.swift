import Foundation
import ResultFormat
import Testing
import TestSupport

/// The text encoders reading an archive: streaming in chunks, and the columnar JSON layout.
@Suite struct ArchiveEncoderTests {
    @Test func chunkedWritesConcatenateToTheWholeEncoding() throws {
        let archive = try ArchivedResult(bytes: try ArrowIPCWriter(maxRowsPerBatch: 300).encode(try arrowSample(rows: 1000)))
        for layout in [JSONResultEncoder.Layout.rows, .columns] {
            var chunks: [[UInt8]] = []
            try JSONResultEncoder(layout: layout).write(archive, chunkSize: 4096) { chunks.append($0) }
            #expect(chunks.count > 10)
            // A chunk ends at the first row or value that reaches the size: never far past it.
            #expect(chunks.dropLast().allSatisfy { $0.count >= 4096 && $0.count < 4096 + 2048 })
            #expect(Array(chunks.joined()) == (try JSONResultEncoder(layout: layout).encode(archive)))
        }
        var csv: [[UInt8]] = []
        try CSVResultEncoder().write(archive, chunkSize: 4096) { csv.append($0) }
        #expect(csv.count > 10)
        #expect(Array(csv.joined()) == (try CSVResultEncoder().encode(archive)))
    }

    @Test func sinkErrorsStopTheWrite() throws {
        struct Stop: Error {}
        let archive = try ArchivedResult(bytes: try ArrowIPCWriter().encode(try arrowSample(rows: 1000)))
        var calls = 0
        #expect(throws: Stop.self) {
            try CSVResultEncoder().write(archive, chunkSize: 1024) { _ in
                calls += 1
                if calls == 2 { throw Stop() }
            }
        }
        #expect(calls == 2)
    }

    @Test func columnarJSONHoldsEachColumnsNameTypeAndValues() throws {
        let result = try QueryResult(columns: [
            try Column(name: "a", type: .int64, values: .int64([1, 0, 3]), validity: Validity([true, false, true])),
            try Column(name: "a", type: .varchar, values: .utf8(VariableLengthValues(strings: ["x", "y", "z"]))),
            try Column(name: "d", type: .date, values: .int32([0, 1, 2])),
        ], rowCount: 3)
        let archive = try ArchivedResult(bytes: try ArrowIPCWriter(maxRowsPerBatch: 2).encode(result))
        let text = String(decoding: try JSONResultEncoder(layout: .columns).encode(archive), as: UTF8.self)
        #expect(text == #"{"rowCount":3,"columns":[{"name":"a","type":"BIGINT","values":[1,null,3]},"#
            + #"{"name":"a","type":"VARCHAR","values":["x","y","z"]},"#
            + #"{"name":"d","type":"DATE","values":["1970-01-01","1970-01-02","1970-01-03"]}]}"#)
        let empty = try ArchivedResult(bytes: try ArrowIPCWriter().encode(try QueryResult(columns: [result.columns[2]].map {
            try Column(name: $0.name, type: $0.type, values: .int32([]))
        }, rowCount: 0)))
        #expect(String(decoding: try JSONResultEncoder(layout: .columns).encode(empty), as: UTF8.self)
            == #"{"rowCount":0,"columns":[{"name":"d","type":"DATE","values":[]}]}"#)
        #expect(String(decoding: try CSVResultEncoder().encode(empty), as: UTF8.self) == "d\r\n")
    }
}

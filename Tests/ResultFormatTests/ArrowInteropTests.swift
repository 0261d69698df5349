import Foundation
import ResultFormat
import Testing
import TestSupport

/// pyarrow (PyPI) as the independent peer: it reads every stream the writer produces, and writes
/// streams of the same tables for ``ArchivedResult`` to read.
@Suite struct ArrowInteropTests {
    struct PeerColumn: Decodable {
        var name: String
        var type: String
        var duckdb: String?
        var values: [String]
    }

    struct PeerOutput: Decodable {
        var batches: [Int]
        var columns: [PeerColumn]
    }

    /// Writes `result`, has pyarrow read it (and write it back in batches of `peerBatch` rows), and
    /// checks both directions.
    func roundTrip(
        _ result: QueryResult, batchRows: Int = 65_536, peerBatch: Int = 1000, compareEncoders: Bool = true
    ) throws -> PeerOutput {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let ours = dir.appendingPathComponent("ours.arrows"), theirs = dir.appendingPathComponent("theirs.arrows")
        let bytes = try ArrowIPCWriter(maxRowsPerBatch: batchRows).encode(result)
        try Data(bytes).write(to: ours)
        let output = try JSONDecoder().decode(PeerOutput.self, from: TestSupport.runPython(
            pyarrowReader, arguments: [ours.path, theirs.path, String(peerBatch)]))

        // pyarrow read what we wrote: names, types, metadata and every value.
        #expect(output.batches.reduce(0, +) == result.rowCount)
        #expect(output.columns.count == result.columns.count)
        for (column, peer) in zip(result.columns, output.columns) {
            #expect(peer.name == column.name)
            #expect(peer.type == arrowSampleTypes[column.name], "column \(column.name)")
            #expect(peer.duckdb == column.type.sqlName)
            let expected = (0..<result.rowCount).map { canonical(column, $0) }
            #expect(peer.values == expected, "column \(column.name)")
        }

        // We read what pyarrow wrote: the same result, types included (from the kept metadata).
        let peerArchive = try ArchivedResult(bytes: Array(try Data(contentsOf: theirs)))
        try peerArchive.validate()
        #expect(sameResult(try peerArchive.materialize(), result))
        // And our own bytes, read in place.
        let archive = try ArchivedResult(bytes: bytes)
        try archive.validate()
        #expect(sameResult(try archive.materialize(), result))
        if compareEncoders {
            #expect(try JSONResultEncoder().encode(archive) == JSONResultEncoder().encode(result))
            #expect(try CSVResultEncoder().encode(archive) == CSVResultEncoder().encode(result))
        }
        return output
    }

    @Test func everyTypeWithNullsRoundTripsThroughPyarrow() throws {
        let output = try roundTrip(try arrowSample(rows: 1000))
        #expect(output.batches == [1000])
    }

    @Test func multiBatchStreamsKeepRowOrderAcrossBatches() throws {
        // 37 does not divide 64: validity bits are re-aligned at every batch start.
        let output = try roundTrip(try arrowSample(rows: 1000, seed: 2), batchRows: 37, peerBatch: 333)
        #expect(output.batches.count == 28)
        #expect(output.batches.allSatisfy { $0 <= 37 })
    }

    @Test func emptyResultIsASchemaWithoutBatches() throws {
        let output = try roundTrip(try arrowSample(rows: 0))
        #expect(output.batches.isEmpty)
        #expect(output.columns.count == arrowSampleTypes.count)
    }

    @Test func allNullColumnsRoundTrip() throws {
        let output = try roundTrip(try arrowSample(rows: 50, allNull: true))
        #expect(output.columns.allSatisfy { $0.values.allSatisfy { $0 == "null" } })
    }

    @Test func hundredThousandRowsMakeTwoDefaultBatches() throws {
        let output = try roundTrip(try arrowSample(rows: 100_000, nullEvery: 1000, seed: 3), peerBatch: 30_000, compareEncoders: false)
        #expect(output.batches == [65_536, 34_464])
    }

    @Test func streamsWrittenByPyarrowFromItsOwnTablesOpen() throws {
        // Built by pyarrow alone: no duckdb.type metadata, a zoned timestamp in another zone,
        // a sliced array (non-zero first offset), validity bitmaps pyarrow chose.
        let script = #"""
            import sys, datetime, pyarrow as pa, pyarrow.ipc as ipc
            t = pa.table({
                "i": pa.array([1, None, -3], pa.int64()),
                "s": pa.array(["x", "héllo", None, "zz"], pa.string()).slice(1),
                "f": pa.array([0.5, None, float("inf")], pa.float32()),
                "ok": pa.array([True, None, False]),
                "d": pa.array([datetime.date(2024, 2, 29), None, datetime.date(1969, 12, 31)], pa.date32()),
                "ts": pa.array([1, 2, None], pa.timestamp("us", tz="Europe/Paris")),
                "t": pa.array([datetime.time(12, 30, 0, 5), None, datetime.time(0, 0)], pa.time64("us")),
                "b": pa.array([b"\x00\xff", b"", None], pa.binary()),
                "iv": pa.array([pa.MonthDayNano([1, 2, 3000]), None, pa.MonthDayNano([-1, 0, -1000])], pa.month_day_nano_interval()),
            })
            with ipc.new_stream(sys.stdout.buffer, t.schema) as w:
                w.write_table(t)
            """#
        let archive = try ArchivedResult(bytes: Array(try TestSupport.runPython(script)))
        try archive.validate()
        #expect(archive.rowCount == 3)
        #expect(archive.fields.map(\.type) == [.int64, .varchar, .float, .boolean, .date, .timestampTZ, .time, .blob, .interval])
        let rows = try (0..<3).map { row in try (0..<archive.columnCount).map { try archive.column($0).value(at: row) } }
        #expect(rows[0] == [.int(1), .string("héllo"), .double(0.5), .bool(true), .date(19782), .timestampTZ(1),
                            .time(45_000_000_005), .blob([0, 255]), .interval(Interval(months: 1, days: 2, micros: 3))])
        #expect(rows[1] == [.null, .null, .null, .null, .null, .timestampTZ(2), .null, .blob([]), .null])
        #expect(rows[2] == [.int(-3), .string("zz"), .double(.infinity), .bool(false), .date(-1), .null, .time(0), .null,
                            .interval(Interval(months: -1, days: 0, micros: -1))])
    }

    @Test func unsupportedArrowTypesAreNamedNotMisread() throws {
        let cases: [(String, String)] = [
            ("pa.array(['a', 'b']).dictionary_encode()", "dictionary"),
            ("pa.array(['a'], pa.large_string())", "#20"),
            ("pa.array([1], pa.time32('s'))", "microseconds"),
            ("pa.array([[1]], pa.large_list(pa.int8()))", "#21"),
            ("pa.array([[1]], pa.list_(pa.int8(), 1))", "fixed_size_list"),
            ("pa.array([1], pa.timestamp('ns'))", "microseconds"),
        ]
        for (array, expected) in cases {
            let script = """
                import sys, pyarrow as pa, pyarrow.ipc as ipc
                t = pa.table({"c": \(array)})
                with ipc.new_stream(sys.stdout.buffer, t.schema) as w:
                    w.write_table(t)
                """
            let bytes = Array(try TestSupport.runPython(script))
            let error = #expect(throws: ArchiveError.self) { try ArchivedResult(bytes: bytes) }
            #expect(error?.kind == .unsupported, "\(array)")
            #expect(error?.message.contains(expected) == true, "\(array): \(error?.message ?? "")")
        }
    }
}

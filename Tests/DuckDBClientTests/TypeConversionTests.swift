import DuckDBClient
import Foundation
import ResultFormat
import Testing

/// Every supported DuckDB type read from real DuckDB vectors into a `QueryResult`.
@Suite struct TypeConversionTests {
    /// Casts each literal (nil: NULL) to `type` in one column and returns it.
    func column(_ type: String, _ literals: [String?], setup: String? = nil) throws -> Column {
        let connection = try Database().connect()
        if let setup { _ = try connection.execute(setup) }
        let rows = literals.enumerated().map { i, lit in
            "(\(i), \(lit.map { "'" + $0.replacingOccurrences(of: "'", with: "''") + "'" } ?? "NULL"))"
        }.joined(separator: ", ")
        let result = try connection.query("SELECT CAST(v AS \(type)) AS v FROM (VALUES \(rows)) t(i, v) ORDER BY i")
        #expect(result.rowCount == literals.count)
        #expect(result.columnNames == ["v"])
        return result.columns[0]
    }

    func values(_ column: Column) -> [Value] { (0..<column.count).map(column.value(at:)) }

    @Test func booleanValuesAndNull() throws {
        let c = try column("BOOLEAN", ["true", nil, "false"])
        #expect(c.type == .boolean)
        #expect(values(c) == [.bool(true), .null, .bool(false)])
    }

    @Test(arguments: [
        ("TINYINT", ColumnType.int8, ["-128", "127"], [Value.int(-128), .int(127)]),
        ("SMALLINT", .int16, ["-32768", "32767"], [.int(-32768), .int(32767)]),
        ("INTEGER", .int32, ["-2147483648", "2147483647"], [.int(-2_147_483_648), .int(2_147_483_647)]),
        ("BIGINT", .int64, ["-9223372036854775808", "9223372036854775807"], [.int(.min), .int(.max)]),
        ("UTINYINT", .uint8, ["0", "255"], [.uint(0), .uint(255)]),
        ("USMALLINT", .uint16, ["0", "65535"], [.uint(0), .uint(65535)]),
        ("UINTEGER", .uint32, ["0", "4294967295"], [.uint(0), .uint(4_294_967_295)]),
        ("UBIGINT", .uint64, ["0", "18446744073709551615"], [.uint(0), .uint(.max)]),
    ])
    func integerTypesKeepExtremesAndNulls(type: String, expected: ColumnType, literals: [String], want: [Value]) throws {
        let c = try column(type, [literals[0], nil, literals[1]])
        #expect(c.type == expected)
        #expect(values(c) == [want[0], .null, want[1]])
        #expect(c.nullCount == 1)
    }

    @Test func hugeIntegersAreExact() throws {
        let h = try column("HUGEINT", ["-170141183460469231731687303715884105728", nil, "123", "-5", "18446744073709551617", "9007199254740993"])
        #expect(h.type == .hugeint)
        #expect(values(h) == [.hugeint(.min), .null, .hugeint(123), .hugeint(-5), .hugeint(18_446_744_073_709_551_617), .hugeint(9_007_199_254_740_993)])
        let u = try column("UHUGEINT", ["340282366920938463463374607431768211455", nil, "7"])
        #expect(u.type == .uhugeint)
        #expect(values(u) == [.uhugeint(.max), .null, .uhugeint(7)])
        // The reviewer's case: a BIGINT sum is a HUGEINT, and prints exactly.
        let sum = try Database().connect().query("SELECT sum(x) AS s FROM (VALUES (9007199254740993::BIGINT)) v(x)")
        #expect(String(decoding: CSVResultEncoder(lineTerminator: "\n").encode(sum), as: UTF8.self) == "s\n9007199254740993\n")
    }

    @Test func floatingPointKeepsValuesAndSpecials() throws {
        let f = try column("FLOAT", ["1.5", nil, "-3.25e10", "inf"])
        #expect(f.type == .float)
        #expect(values(f) == [.double(1.5), .null, .double(Double(Float(-3.25e10))), .double(.infinity)])
        let d = try column("DOUBLE", ["0.1", nil, "-1e300"])
        #expect(values(d) == [.double(0.1), .null, .double(-1e300)])
        let nan = try column("DOUBLE", ["nan"])
        guard case .double(let x) = nan.value(at: 0) else { Issue.record("not a double"); return }
        #expect(x.isNaN)
    }

    @Test(arguments: [
        ("DECIMAL(4,1)", UInt8(4), UInt8(1), ["-999.9", "12.5"], ["-999.9", "12.5"]),
        ("DECIMAL(9,3)", 9, 3, ["123456.789", "-0.001"], ["123456.789", "-0.001"]),
        ("DECIMAL(18,6)", 18, 6, ["-123456789012.345678", "0.000001"], ["-123456789012.345678", "0.000001"]),
        ("DECIMAL(38,10)", 38, 10, ["1234567890123456789012345678.0123456789", "-1.5"], ["1234567890123456789012345678.0123456789", "-1.5000000000"]),
    ])
    func decimalsAreExactAtEveryStorageWidth(type: String, width: UInt8, scale: UInt8, literals: [String], want: [String]) throws {
        let c = try column(type, [literals[0], nil, literals[1]])
        #expect(c.type == .decimal(width: width, scale: scale))
        #expect(c.isNull(1))
        for (row, expected) in [(0, want[0]), (2, want[1])] {
            guard case .decimal(let got) = c.value(at: row) else { Issue.record("row \(row) is not a decimal"); continue }
            #expect(got.description == expected, "row \(row)")
            #expect(got.scale == scale)
        }
    }

    @Test func stringsOfEveryLengthAndEncodingAreCopiedExactly() throws {
        let long = String(repeating: "xyz0123456", count: 1000)  // 10 000 bytes
        let literals: [String?] = ["", "abcdefghijkl", "abcdefghijklm", nil, long, "Grüße, 世界 🚀"]
        let c = try column("VARCHAR", literals)
        #expect(c.type == .varchar)
        #expect(values(c) == literals.map { $0.map(Value.string) ?? .null })
        guard case .utf8(let storage) = c.values else { Issue.record("not utf8"); return }
        #expect(storage.range(at: 1).count == 12)
        #expect(storage.range(at: 2).count == 13)
        #expect(storage.range(at: 4).count == 10_000)
        let nul = try Database().connect().query("SELECT 'a' || chr(0) || 'b' AS s")
        #expect(nul.row(0) == [.string("a\u{0}b")])
    }

    @Test func blobsKeepArbitraryBytes() throws {
        let connection = try Database().connect()
        let r = try connection.query("SELECT * FROM (VALUES (1, '\\x00\\xFFab'::BLOB), (2, NULL), (3, ''::BLOB), (4, repeat('q', 40)::BLOB)) t(i, b) ORDER BY i")
        let c = r.columns[1]
        #expect(c.type == .blob)
        #expect(c.value(at: 0) == .blob([0x00, 0xFF, 0x61, 0x62]))
        #expect(c.value(at: 1) == .null)
        #expect(c.value(at: 2) == .blob([]))
        #expect(c.value(at: 3) == .blob(Array(repeating: UInt8(ascii: "q"), count: 40)))
    }

    @Test func uuidsPrintInCanonicalForm() throws {
        let ids = ["00000000-0000-0000-0000-000000000000", "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "ffffffff-ffff-ffff-ffff-ffffffffffff"]
        let c = try column("UUID", [ids[0], nil, ids[1], ids[2]])
        #expect(c.type == .uuid)
        #expect(values(c) == [.string(ids[0]), .null, .string(ids[1]), .string(ids[2])])
    }

    @Test func enumsOfEveryStorageWidthBecomeStrings() throws {
        let small = try column("mood", ["happy", nil, "sad"], setup: "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')")
        #expect(small.type == .enumeration)
        #expect(values(small) == [.string("happy"), .null, .string("sad")])
        // 300 members: stored as UINT16 indexes.
        let members = (0..<300).map { "'m\($0)'" }.joined(separator: ", ")
        let wide = try column("wide", ["m299", nil, "m0"], setup: "CREATE TYPE wide AS ENUM (\(members))")
        #expect(values(wide) == [.string("m299"), .null, .string("m0")])
    }

    @Test func datesAreDaysSinceEpochIncludingInfinities() throws {
        let c = try column("DATE", ["1970-01-01", nil, "2024-02-29", "1969-12-31", "infinity", "-infinity"])
        #expect(c.type == .date)
        #expect(values(c) == [.date(0), .null, .date(19782), .date(-1), .date(Int32.max), .date(-Int32.max)])
    }

    @Test func timesAreMicrosecondsSinceMidnight() throws {
        let c = try column("TIME", ["00:00:00", nil, "23:59:59.999999"])
        #expect(values(c) == [.time(0), .null, .time(86_399_999_999)])
        // TIME_NS is a SQL type from DuckDB 2.0 on (1.4 LTS, the pin, has only its type id).
        if !Database.libraryVersion.hasPrefix("v1.") {
            let ns = try column("TIME_NS", ["12:00:00.123456789"])
            #expect(ns.type == .time)
            #expect(values(ns) == [.time(43_200_123_456)])
        }
    }

    @Test func timestampVariantsAreNormalisedToMicroseconds() throws {
        let us = try column("TIMESTAMP", ["2024-01-01 00:00:00.123456", nil, "1969-12-31 23:59:59.5", "infinity"])
        #expect(us.type == .timestamp)
        #expect(values(us) == [.timestamp(1_704_067_200_123_456), .null, .timestamp(-500_000), .timestamp(.max)])
        let s = try column("TIMESTAMP_S", ["2024-01-01 00:00:01", nil])
        #expect(s.type == .timestamp)
        #expect(values(s) == [.timestamp(1_704_067_201_000_000), .null])
        let ms = try column("TIMESTAMP_MS", ["2024-01-01 00:00:00.250"])
        #expect(values(ms) == [.timestamp(1_704_067_200_250_000)])
        let ns = try column("TIMESTAMP_NS", ["2024-01-01 00:00:00.123456789", "1969-12-31 23:59:59.999999999"])
        #expect(values(ns) == [.timestamp(1_704_067_200_123_456), .timestamp(-1)])
    }

    @Test func timestampsWithTimeZoneAreUTCMicroseconds() throws {
        let c = try column("TIMESTAMPTZ", ["2024-01-01 12:00:00+02", nil, "1970-01-01 00:00:00+00"])
        #expect(c.type == .timestampTZ)
        #expect(values(c) == [.timestampTZ(1_704_103_200_000_000), .null, .timestampTZ(0)])
    }

    @Test func intervalsKeepMonthsDaysAndMicros() throws {
        let c = try column("INTERVAL", ["1 year 2 months 3 days 04:05:06.7", nil, "-1 day"])
        #expect(c.type == .interval)
        #expect(values(c) == [
            .interval(Interval(months: 14, days: 3, micros: 14_706_700_000)), .null, .interval(Interval(months: 0, days: -1, micros: 0)),
        ])
    }

    @Test func untypedNullColumnIsAllNull() throws {
        let r = try Database().connect().query("SELECT NULL AS n FROM range(3)")
        #expect(r.rowCount == 3)
        #expect((0..<3).allSatisfy { r.columns[0].isNull($0) })
    }
}

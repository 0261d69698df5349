import Foundation
import ResultFormat
import Testing

/// A result with one column of every storage kind, row 1 all NULL.
func sampleResult() throws -> QueryResult {
    func col(_ name: String, _ type: ColumnType, _ values: ColumnValues) throws -> Column {
        try Column(name: name, type: type, values: values, validity: Validity([true, false, true]))
    }
    return try QueryResult(columns: [
        try col("b", .boolean, .boolean([true, false, false])),
        try col("i8", .int8, .int8([-8, 0, 8])),
        try col("i16", .int16, .int16([-16, 0, 16])),
        try col("i32", .int32, .int32([Int32.min, 0, Int32.max])),
        try col("i64", .int64, .int64([Int64.min, 0, Int64.max])),
        try col("u64", .uint64, .uint64([0, 0, UInt64.max])),
        try col("h", .hugeint, .int128([12345678901234, 0, Int128("1000000000000000000000000000001")!])),
        try col("f", .float, .float([0.1, 0, .nan])),
        try col("d", .double, .double([0.1, 0, -2.5e-7])),
        try col("dec", .decimal(width: 18, scale: 2), .int128([300, 0, -125])),
        try col("s", .varchar, .utf8(VariableLengthValues(strings: ["he said \"hi\"\n\t\\", "", "Grüße 🚀 \u{1}"]))),
        try col("bl", .blob, .binary(try VariableLengthValues(offsets: [0, 3, 3, 5], bytes: [0, 255, 7, 65, 66]))),
        try col("day", .date, .int32([19782, 0, -719_528])),
        try col("t", .time, .int64([45_296_500_000, 0, 0])),
        try col("ts", .timestamp, .int64([1_704_067_200_123_456, 0, -1])),
        try col("tz", .timestampTZ, .int64([1_704_067_200_000_000, 0, Int64.max])),
        try col("iv", .interval, .interval([Interval(months: 14, days: 3, micros: 3_500_000), Interval(months: 0, days: 0, micros: 0),
                                         Interval(months: 0, days: 0, micros: -1_250_000)])),
    ], rowCount: 3)
}

@Suite struct JSONEncoderTests {
    @Test func everyTypeHasItsDocumentedJSONForm() throws {
        let text = String(decoding: JSONResultEncoder().encode(try sampleResult()), as: UTF8.self)
        let expectedRow0 = #"{"b":true,"i8":-8,"i16":-16,"i32":-2147483648,"i64":-9223372036854775808,"u64":0,"h":12345678901234,"f":0.1,"d":0.1,"dec":3.00,"s":"he said \"hi\"\n\t\\","bl":"AP8H","day":"2024-02-29","t":"12:34:56.5","ts":"2024-01-01T00:00:00.123456","tz":"2024-01-01T00:00:00Z","iv":"P14M3DT3.5S"}"#
        let expectedRow1 = #"{"b":null,"i8":null,"i16":null,"i32":null,"i64":null,"u64":null,"h":null,"f":null,"d":null,"dec":null,"s":null,"bl":null,"day":null,"t":null,"ts":null,"tz":null,"iv":null}"#
        let expectedRow2 = #"{"b":false,"i8":8,"i16":16,"i32":2147483647,"i64":9223372036854775807,"u64":18446744073709551615,"h":"1000000000000000000000000000001","f":null,"d":-2.5e-07,"dec":-1.25,"s":"Grüße 🚀 \u0001","bl":"QUI=","day":"0000-01-01","t":"00:00:00","ts":"1969-12-31T23:59:59.999999","tz":"infinity","iv":"PT-1.25S"}"#
        #expect(text == "[" + expectedRow0 + "," + expectedRow1 + "," + expectedRow2 + "]")
        // And it is valid JSON that a standard parser reads back.
        let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]]
        #expect(parsed?.count == 3)
        #expect(parsed?[0]["s"] as? String == "he said \"hi\"\n\t\\")
        #expect(parsed?[2]["s"] as? String == "Grüße 🚀 \u{1}")
    }

    @Test func invalidUTF8IsRepairedSoOutputStaysValidJSON() throws {
        let bad = try VariableLengthValues(offsets: [0, 3], bytes: [0x61, 0xFF, 0x62])
        let result = try QueryResult(columns: [try Column(name: "s", type: .varchar, values: .utf8(bad))], rowCount: 1)
        let bytes = JSONResultEncoder().encode(result)
        #expect(String(decoding: bytes, as: UTF8.self) == "[{\"s\":\"a\u{FFFD}b\"}]")
        #expect(try JSONSerialization.jsonObject(with: Data(bytes)) is [Any])
    }

    @Test func emptyResultIsAnEmptyArray() throws {
        let result = try QueryResult(columns: [try Column(name: "a", type: .int64, values: .int64([]))], rowCount: 0)
        #expect(JSONResultEncoder().encode(result) == Array("[]".utf8))
    }
}

@Suite struct CSVEncoderTests {
    @Test func fieldsAreQuotedOnlyWhenNeededAndNullIsEmpty() throws {
        let text = String(decoding: CSVResultEncoder().encode(try sampleResult()), as: UTF8.self)
        let header = "b,i8,i16,i32,i64,u64,h,f,d,dec,s,bl,day,t,ts,tz,iv"
        let row0 = "true,-8,-16,-2147483648,-9223372036854775808,0,12345678901234,0.1,0.1,3.00,\"he said \"\"hi\"\"\n\t\\\",AP8H,2024-02-29,12:34:56.5,2024-01-01 00:00:00.123456,2024-01-01 00:00:00Z,P14M3DT3.5S"
        let row1 = String(repeating: ",", count: 16)
        let row2 = "false,8,16,2147483647,9223372036854775807,18446744073709551615,1000000000000000000000000000001,nan,-2.5e-07,-1.25,Grüße 🚀 \u{1},QUI=,0000-01-01,00:00:00,1969-12-31 23:59:59.999999,infinity,PT-1.25S"
        #expect(text == [header, row0, row1, row2].map { $0 + "\r\n" }.joined())
    }

    @Test func emptyStringsAreQuotedToDifferFromNull() throws {
        let values = VariableLengthValues(strings: ["", "a"])
        let result = try QueryResult(columns: [
            try Column(name: "s", type: .varchar, values: .utf8(values), validity: Validity([true, true])),
            try Column(name: "n", type: .varchar, values: .utf8(VariableLengthValues(strings: ["", ""])), validity: Validity([false, false])),
        ], rowCount: 2)
        #expect(String(decoding: CSVResultEncoder(lineTerminator: "\n").encode(result), as: UTF8.self) == "s,n\n\"\",\na,\n")
    }
}

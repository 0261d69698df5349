import Foundation
import ResultFormat
import TestSupport
import Testing

/// Dates and timestamps formatted here agree with Python's proleptic-Gregorian `datetime`.
@Suite struct FormattingPeerTests {
    @Test func datesAndTimestampsMatchPythonsDatetime() throws {
        // Seeded: a failure reproduces with the same values.
        var rng = SeededRandom(seed: 0xDA7E)
        // 0001-01-01 ... 9999-12-31, the range Python's datetime covers.
        let days = (0..<3000).map { _ in Int32.random(in: -719_162...2_932_896, using: &rng) } + [-719_162, 0, -1, 11016, 2_932_896]
        let micros = days.map { Int64($0) * 86_400_000_000 + Int64.random(in: 0..<86_400_000_000, using: &rng) }
            + [0, -1, 1, 999_999, 86_399_999_999]
        let dayColumn = try Column(name: "d", type: .date, values: .int32(days))
        let tsColumn = try Column(name: "t", type: .timestamp, values: .int64(micros))
        let ours = try #require(try JSONSerialization.jsonObject(with: Data(JSONResultEncoder().encode(
            try QueryResult(columns: [dayColumn], rowCount: days.count)))) as? [[String: String]])
        let oursTS = try #require(try JSONSerialization.jsonObject(with: Data(JSONResultEncoder().encode(
            try QueryResult(columns: [tsColumn], rowCount: micros.count)))) as? [[String: String]])

        let script = """
            import datetime, json, sys
            days, micros = json.loads(sys.stdin.read())
            epoch = datetime.datetime(1970, 1, 1)
            def ts(us):
                s = (epoch + datetime.timedelta(microseconds=us)).isoformat()
                return s.rstrip('0') if '.' in s else s
            print(json.dumps([[datetime.date.fromordinal(d + 719163).isoformat() for d in days], [ts(u) for u in micros]]))
            """
        let input = try JSONSerialization.data(withJSONObject: [days.map(Int.init), micros.map(Int.init)])
        let peer = try #require(try JSONSerialization.jsonObject(with: try TestSupport.runPython(script, stdin: input)) as? [[String]])
        #expect(peer.count == 2 && ours.count == days.count && oursTS.count == micros.count)
        #expect(ours.map { $0["d"] ?? "" } == peer.first)
        #expect(oursTS.map { $0["t"] ?? "" } == peer.last)
    }
}

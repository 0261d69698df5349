import DuckDBClient
import Foundation
import ResultFormat
import TestSupport
import Testing

/// TPC-H Q1 and Q6 through `DuckDBPool`, checked against Python's duckdb on the same file.
@Suite struct TPCHPoolTests {
    @Test func q1AndQ6ThroughThePoolMatchThePythonPeer() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let path = dir.appendingPathComponent("tpch.duckdb").path
        // Generate through this package, then close: DuckDB locks a file opened read-write.
        do {
            let connection = try Database(path: path).connect()
            _ = try TPCH.generating { try connection.execute("CALL dbgen(sf = 0.01)") }
            #expect(try connection.query("SELECT count(*) AS n FROM lineitem").row(0) == [.int(60175)])
        }
        let answers = try TPCH.peerAnswers(databasePath: path, queries: [TPCH.q1, TPCH.q6])

        let database = try Database(path: path, configuration: .init(accessMode: .readOnly))
        let pool = try DuckDBPool(database: database, configuration: .init(connections: 2))
        async let q1 = pool.query(TPCH.q1)
        async let q6 = pool.query(
            TPCH.q6Parameterised, [.date(days: 8766), .date(days: 9131), .string("0.05"), .string("0.07"), 24])
        let (r1, r6) = try await (q1, q6)

        #expect(r1.columnNames == ["l_returnflag", "l_linestatus", "sum_qty", "sum_base_price", "sum_disc_price",
                                  "sum_charge", "avg_qty", "avg_price", "avg_disc", "count_order"])
        try expect(r1, equals: answers[0])
        #expect(r6.columnNames == ["revenue"])
        try expect(r6, equals: answers[1])
        await pool.shutdown()
    }

    /// Compares every value, by its exact CSV text (DECIMAL sums digit for digit), with the peer's.
    func expect(_ result: QueryResult, equals peer: [[TPCH.PeerValue]], sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(result.rowCount == peer.count, sourceLocation: sourceLocation)
        #expect(result.rowCount > 0, sourceLocation: sourceLocation)
        let lines = String(decoding: CSVResultEncoder(lineTerminator: "\n").encode(result), as: UTF8.self)
            .split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        try #require(lines.count == peer.count, sourceLocation: sourceLocation)
        var compared = 0
        for (index, fields) in lines.enumerated() {
            try #require(fields.count == result.columns.count && peer[index].count == fields.count, sourceLocation: sourceLocation)
            for (c, field) in fields.enumerated() {
                let got: String? = result.columns[c].isNull(index) ? nil : field
                #expect(TPCH.matches(got, peer[index][c]), "row \(index) \(result.columnNames[c]): \(field) vs \(peer[index][c])", sourceLocation: sourceLocation)
                compared += 1
            }
        }
        #expect(compared == result.rowCount * result.columns.count, sourceLocation: sourceLocation)
    }
}

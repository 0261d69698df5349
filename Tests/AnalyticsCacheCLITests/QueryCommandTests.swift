import Foundation
import TestSupport
import Testing

/// The `analytics-cache` executable, run as a user runs it.
enum CLI {
    struct Output {
        var status: Int32
        var stdout: Data
        var stderr: String
        var text: String { String(decoding: stdout, as: UTF8.self) }
    }

    /// The built executable, next to the test bundle.
    static var executable: URL { TestSupport.builtExecutable(named: "analytics-cache") }

    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Output {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: stdout, stderr: String(decoding: stderr, as: UTF8.self))
    }
}

@Suite struct QueryCommandTests {
    @Test func answersDoNotDependOnTheHostsTimeZone() throws {
        // DuckDB's session time zone follows TZ unless pinned; a cache shared by hosts (or kept
        // across a restart) would then hold different answers under one key.
        let sql = "SELECT current_setting('TimeZone') AS tz, (TIMESTAMPTZ '2024-01-01 06:00:00+00')::DATE AS d"
        for zone in ["UTC", "America/Los_Angeles", "Asia/Tokyo"] {
            let output = try CLI.run(["query", "--sql", sql], environment: ["TZ": zone])
            #expect(output.status == 0, "\(output.stderr)")
            #expect(output.text == #"[{"tz":"UTC","d":"2024-01-01"}]"# + "\n", "TZ=\(zone)")
        }
    }

    @Test func tpchQ1PrintsJSONEqualToThePythonPeer() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let path = dir.appendingPathComponent("tpch.duckdb").path
        let generate = try CLI.run(["query", "--database", path, "--sql", "CALL dbgen(sf = 0.01)"])
        #expect(generate.status == 0, "\(generate.stderr)")
        let peer = try TPCH.peerAnswers(databasePath: path, queries: [TPCH.q1])[0]

        let q1 = try CLI.run(["query", "--database", path, "--read-only", "--sql", TPCH.q1])
        #expect(q1.status == 0, "\(q1.stderr)")
        let rows = try #require(try JSONSerialization.jsonObject(with: q1.stdout) as? [[String: Any]])
        #expect(rows.count == peer.count && rows.count == 4)
        let names = ["l_returnflag", "l_linestatus", "sum_qty", "sum_base_price", "sum_disc_price", "sum_charge",
                     "avg_qty", "avg_price", "avg_disc", "count_order"]
        for row in rows { #expect(row.count == names.count) }
        // Every value, digit for digit, from the CSV form (JSON numbers would go through doubles).
        let csv = try CLI.run(["query", "--database", path, "--read-only", "--format", "csv", "--sql", TPCH.q1])
        let lines = csv.text.split(separator: "\r\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        try #require(lines.count == peer.count)
        var compared = 0
        for (r, fields) in lines.enumerated() {
            try #require(fields.count == names.count)
            for (c, name) in names.enumerated() {
                #expect(TPCH.matches(fields[c], peer[r][c]), "row \(r) \(name): \(fields[c]) vs \(peer[r][c])")
                compared += 1
            }
        }
        #expect(compared == 40)
        // The key order of each object is the column order.
        #expect(q1.text.hasPrefix("[{\"l_returnflag\":\"A\",\"l_linestatus\":\"F\",\"sum_qty\":"))
    }

    @Test func csvFormatQuotesPerRFC4180() throws {
        let out = try CLI.run(["query", "--format", "csv", "--sql", "SELECT 1 AS a, 'x,\"y\"' AS b, NULL AS c, '' AS d"])
        #expect(out.status == 0)
        #expect(out.text == "a,b,c,d\r\n1,\"x,\"\"y\"\"\",,\"\"\r\n")
    }

    @Test func arrowFormatWritesAStreamPyarrowReads() throws {
        let out = try CLI.run(["query", "--format", "arrow", "--sql",
                               "SELECT range AS n, 'v' || range AS s, DATE '2024-01-01' + range::INTEGER AS d FROM range(70000)"])
        #expect(out.status == 0, "\(out.stderr)")
        let script = #"""
            import sys, pyarrow.ipc as ipc
            reader = ipc.open_stream(sys.stdin.buffer)
            batches = list(reader)
            t = reader.schema
            rows = sum(b.num_rows for b in batches)
            last = batches[-1].to_pylist()[-1]
            print(len(batches), rows, t.field("n").type, t.field("s").type, t.field("d").type, last["n"], last["s"], last["d"])
            """#
        let peer = String(decoding: try TestSupport.runPython(script, stdin: out.stdout), as: UTF8.self)
        #expect(peer == "2 70000 int64 string date32[day] 69999 v69999 2215-08-27\n")
    }

    @Test func statementWithoutRowsPrintsOnlyASummary() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let path = dir.appendingPathComponent("w.duckdb").path
        let create = try CLI.run(["query", "--database", path, "--sql", "CREATE TABLE t (a INTEGER)"])
        #expect(create.status == 0 && create.stdout.isEmpty)
        #expect(create.stderr == "OK\n")
        let insert = try CLI.run(["query", "--database", path, "--sql", "INSERT INTO t SELECT * FROM range(3)"])
        #expect(insert.status == 0 && insert.stdout.isEmpty)
        #expect(insert.stderr == "3 rows changed\n")
        let select = try CLI.run(["query", "--database", path, "--read-only", "--sql", "SELECT sum(a) AS s FROM t WHERE a > 5"])
        #expect(select.text == "[{\"s\":null}]\n")
        let empty = try CLI.run(["query", "--database", path, "--read-only", "--sql", "SELECT a FROM t WHERE false"])
        #expect(empty.text == "[]\n")
    }

    @Test func errorsGoToStderrWithFailureStatus() throws {
        let bad = try CLI.run(["query", "--sql", "SELEC 1"])
        #expect(bad.status == 1)
        #expect(bad.stdout.isEmpty)
        #expect(bad.stderr.contains("syntax error"))
        let readOnlyWithoutFile = try CLI.run(["query", "--read-only", "--sql", "SELECT 1"])
        #expect(readOnlyWithoutFile.status != 0)
        #expect(readOnlyWithoutFile.stderr.contains("--read-only needs --database"))
        let emptyDir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(emptyDir) }
        let writeToReadOnly = emptyDir.appendingPathComponent("missing.duckdb").path
        let missing = try CLI.run(["query", "--database", writeToReadOnly, "--read-only", "--sql", "SELECT 1"])
        #expect(missing.status == 1)
        #expect(!missing.stderr.isEmpty)
    }
}

@Suite struct RemoteConfigCommandTests {
    @Test func queryWithAConfigReadsItsDatasetsAndDataVersionPrintsTheirVersions() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let data = dir.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        let write = try CLI.run(["query", "--sql", "COPY (SELECT range AS i FROM range(10)) TO '\(data.path)/t.parquet'"])
        #expect(write.status == 0, "\(write.stderr)")
        let config = dir.appendingPathComponent("config.json")
        try Data(#"""
            {"duckdb": {"extension_directory": "\#(TestSupport.extensionDirectory)", "extensions": ["httpfs"], "external_access": []},
             "datasets": [{"name": "numbers", "locations": ["data/*.parquet"]}]}
            """#.utf8).write(to: config)
        let sum = try CLI.run(["query", "--config", config.path, "--format", "csv", "--sql", "SELECT sum(i) AS s FROM numbers"])
        #expect(sum.status == 0, "\(sum.stderr)")
        #expect(sum.text == "s\r\n45\r\n" || sum.text == "s\n45\n")
        // Only the dataset's directory is allowed.
        let other = try CLI.run(["query", "--config", config.path, "--sql", "SELECT * FROM read_text('/etc/hostname')"])
        #expect(other.status == 1)
        #expect(other.stderr.contains("Permission"))
        let version = try CLI.run(["data-version", "--config", config.path])
        #expect(version.status == 0, "\(version.stderr)")
        let fields = version.text.split(separator: " ")
        #expect(fields.first == "numbers")
        #expect(fields.count == 3 && fields[1].hasPrefix("file:"))
        let missing = try CLI.run(["data-version", "--config", config.path, "--dataset", "nope"])
        #expect(missing.status == 1 && missing.stderr.contains("nope"))
        let broken = dir.appendingPathComponent("broken.json")
        try Data(#"{"duckdb": {"extensions": 3}, "datasets": []}"#.utf8).write(to: broken)
        let bad = try CLI.run(["query", "--config", broken.path, "--sql", "SELECT 1"])
        #expect(bad.status == 1 && bad.stderr.contains("extensions"))
    }
}

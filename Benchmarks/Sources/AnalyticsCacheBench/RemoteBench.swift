import ArgumentParser
import DuckDBClient
import Foundation
import RemoteData

/// `analytics-cache-bench remote`: a cold TPC-H Q1 over Parquet served over HTTP and from an
/// S3-compatible server (both on loopback, started here), and over a DuckLake table whose files
/// live on that server, next to the same query over the local file; and the data-version probe that
/// guards each, whose cost must stay ≤ 1/20 of the query's.
struct RemoteBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remote",
        abstract: "Cold queries over remote Parquet (HTTP, S3, DuckLake) vs local, and the data-version probes' cost."
    )

    @Option(help: "TPC-H scale factor of the lineitem file.")
    var scale = 0.1

    @Option(help: "Cold queries per source (each on a freshly opened database).")
    var queries = 7

    @Option(help: "Probes per source.")
    var probes = 200

    @Option(help: "The package root (for .venv and scripts/testservers).")
    var root = "."

    static let q1 = """
        SELECT l_returnflag, l_linestatus, sum(l_quantity) AS sum_qty, sum(l_extendedprice) AS sum_base_price,
               sum(l_extendedprice * (1 - l_discount)) AS sum_disc_price,
               sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) AS sum_charge,
               avg(l_quantity) AS avg_qty, avg(l_extendedprice) AS avg_price, avg(l_discount) AS avg_disc,
               count(*) AS count_order
        FROM SOURCE WHERE l_shipdate <= DATE '1998-09-02'
        GROUP BY l_returnflag, l_linestatus ORDER BY l_returnflag, l_linestatus
        """

    func validate() throws {
        guard scale > 0, scale <= 10, queries >= 1, probes >= 10 else {
            throw ValidationError("need 0 < --scale <= 10, --queries >= 1, --probes >= 10")
        }
    }

    func run() async throws {
        let rootURL = URL(fileURLWithPath: root).standardizedFileURL
        let python = rootURL.appendingPathComponent(".venv/bin/python").path
        let extensions = rootURL.appendingPathComponent(".venv/duckdb_extensions").path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw ValidationError("\(python) is missing: run scripts/bootstrap.sh (make test does), or pass --root")
        }
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("remote-bench-\(UUID().uuidString)")
        let data = work.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }

        let generator = try Database().connect()
        _ = try generator.execute("CALL dbgen(sf = \(scale))")
        let file = data.appendingPathComponent("lineitem.parquet").path
        _ = try generator.execute("COPY lineitem TO '\(file)' (FORMAT parquet)")
        let bytes = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0
        let rows = try generator.query("SELECT count(*)::VARCHAR FROM lineitem").row(0)[0]
        guard case .string(let count) = rows else { throw ValidationError("no lineitem count") }
        print("lineitem sf=\(scale): \(count) rows, \(fmt(Double(bytes) / 1_048_576, 1)) MiB of Parquet; \(queries) cold queries, \(probes) probes each")

        let http = try BenchServer(python: python, script: rootURL.appendingPathComponent("scripts/testservers/http_server.py").path, arguments: [data.path])
        let s3 = try BenchServer(python: python, script: rootURL.appendingPathComponent("scripts/testservers/s3_server.py").path, arguments: [])
        defer { http.stop(); s3.stop() }
        try BenchServer.runPython(python, """
            import sys, boto3
            s3 = boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='bench', aws_secret_access_key='bench', region_name='us-east-1')
            s3.create_bucket(Bucket='bench')
            s3.create_bucket(Bucket='lake')
            s3.upload_file(sys.argv[2], 'bench', 'tpch/lineitem.parquet')
            """, [s3.baseURL, file])
        let secret = S3Secret(
            name: "bench", endpoint: "127.0.0.1:\(s3.port)", urlStyle: .path, useSSL: false,
            credentials: .keys(accessKeyID: "bench", secretAccessKey: "bench"))
        let lakeCatalog = work.appendingPathComponent("lake.ducklake").path
        let lake = AttachedDatabase(alias: "lake", location: lakeCatalog, kind: .duckLake(dataPath: "s3://lake/data/"))
        func configuration(attach: Bool) -> Database.Configuration {
            .init(extensionDirectory: extensions, extensions: [.named("httpfs"), .named("ducklake")], s3Secrets: [secret],
                  attachments: attach ? [lake] : [], httpTimeout: .seconds(30))
        }
        // The DuckLake table, written once through the S3 server.
        do {
            let writer = try Database(configuration: configuration(attach: true)).connect()
            _ = try writer.execute("CREATE TABLE lake.lineitem AS SELECT * FROM read_parquet('\(file)')")
        }

        let httpURL = "\(http.baseURL)/lineitem.parquet"
        let s3URL = "s3://bench/tpch/*.parquet"
        let sources: [(name: String, from: String, attach: Bool)] = [
            ("local file", "read_parquet('\(file)')", false),
            ("HTTP", "read_parquet('\(httpURL)')", false),
            ("S3", "read_parquet('\(s3URL)')", false),
            ("DuckLake on S3", "lake.lineitem", true),
        ]
        var cold: [String: Duration] = [:]
        for source in sources {
            var times: [Duration] = []
            for _ in 0..<queries {
                // A fresh database each time: nothing cached from the last run (metadata, file blocks).
                let connection = try Database(configuration: configuration(attach: source.attach)).connect()
                let sql = Self.q1.replacing("SOURCE", with: source.from)
                let start = ContinuousClock.now
                let result = try connection.query(sql)
                times.append(start.duration(to: .now))
                guard result.rowCount == 4 else { throw ValidationError("Q1 over \(source.name) returned \(result.rowCount) rows") }
            }
            cold[source.name] = median(times)
            let vsLocal = cold["local file"].map { " = \(fmt(seconds(median(times)) / seconds($0), 2)) × local" } ?? ""
            print("cold Q1 over \(source.name): median \(ms(median(times))) ms, p90 \(ms(percentile(times, 0.9))) ms\(vsLocal)")
        }

        let pool = try DuckDBPool(database: Database(configuration: configuration(attach: true)), configuration: .init(connections: 1))
        guard let httpFile = URL(string: httpURL) else { throw ValidationError("\(httpURL) is not a URL") }
        let guards: [(name: String, query: String, probe: any DataVersionProbe)] = [
            ("HTTP HEAD (ETag)", "HTTP", try HTTPVersionProbe(urls: [httpFile])),
            ("S3 ListObjectsV2 (ETags)", "S3", try S3VersionProbe(url: s3URL, secret: secret)),
            ("DuckLake snapshot id", "DuckLake on S3", DuckLakeSnapshotProbe(pool: pool, catalog: "lake")),
        ]
        for entry in guards {
            for _ in 0..<5 { _ = try await entry.probe.currentVersion() }  // connections, statements
            var times: [Duration] = []
            for _ in 0..<probes {
                let start = ContinuousClock.now
                _ = try await entry.probe.currentVersion()
                times.append(start.duration(to: .now))
            }
            let query = cold[entry.query] ?? .zero
            let share = seconds(median(times)) / max(1e-9, seconds(query))
            print("probe \(entry.name): median \(fmt(seconds(median(times)) * 1_000_000, 0)) µs, p99 \(fmt(seconds(percentile(times, 0.99)) * 1_000_000, 0)) µs"
                  + " = 1/\(Int((1 / share).rounded())) of its cold query (goal ≤ 1/20: \(share <= 0.05 ? "met" : "NOT met"))")
        }
        // The floor: the same listing by botocore (the AWS SDK for Python) against the same server.
        let botocore = try BenchServer.outputOfPython(python, """
            import sys, time, statistics, boto3
            s3 = boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='bench', aws_secret_access_key='bench', region_name='us-east-1')
            for _ in range(5): s3.list_objects_v2(Bucket='bench', Prefix='tpch/')
            times = []
            for _ in range(int(sys.argv[2])):
                t = time.perf_counter(); s3.list_objects_v2(Bucket='bench', Prefix='tpch/'); times.append(time.perf_counter() - t)
            print(int(statistics.median(times) * 1e6))
            """, [s3.baseURL, String(probes)])
        print("baseline: botocore list_objects_v2 on the same server: median \(botocore.trimmingCharacters(in: .whitespacesAndNewlines)) µs")
        await pool.shutdown()
    }
}

/// A loopback server from scripts/testservers for the benchmark (same protocol as the tests'):
/// prints `PORT n`, serves until its standard input closes.
final class BenchServer: Sendable {
    let port: Int
    private let process: Process
    private let input: Pipe

    var baseURL: String { "http://127.0.0.1:\(port)" }

    init(python: String, script: String, arguments: [String]) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script] + arguments
        input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var text = ""
        while !text.contains("\n") {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        guard let line = text.split(separator: "\n").first, line.hasPrefix("PORT "), let port = Int(line.dropFirst(5)) else {
            process.terminate()
            throw ValidationError("\(script) did not start")
        }
        self.port = port
    }

    func stop() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    static func outputOfPython(_ python: String, _ script: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", script] + arguments
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ValidationError("python exited \(process.terminationStatus)") }
        return String(decoding: data, as: UTF8.self)
    }

    static func runPython(_ python: String, _ script: String, _ arguments: [String]) throws {
        _ = try outputOfPython(python, script, arguments)
    }
}

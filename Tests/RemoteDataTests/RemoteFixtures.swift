import DuckDBClient
import Foundation
import ResultFormat
import Testing
import TestSupport

/// Data and peers the remote-data tests share: Parquet files written by Python's duckdb 1.4.4, the
/// same queries run by it over the local files, and objects put into the S3 server with boto3.
enum RemoteFixtures {
    /// Writes `parts` Parquet files of `rows` rows each into `directory` (Python duckdb writes them;
    /// `seed` varies the content, so a rewritten file differs).
    static func writeParquet(into directory: URL, parts: Int = 2, rows: Int = 20_000, seed: Int = 0) throws {
        let script = #"""
            import sys, duckdb
            out, parts, rows, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
            con = duckdb.connect()
            for p in range(parts):
                con.execute(f"""COPY (SELECT (i + {p * rows}) AS id,
                       ['north','south','east','west'][(i * 7 + {seed}) % 4 + 1] AS region,
                       DATE '2024-01-01' + CAST((i * 13 + {seed}) % 366 AS INTEGER) AS day,
                       CAST(((i * 37 + {seed}) % 100000) / 100 AS DECIMAL(12,2)) AS amount,
                       CASE WHEN i % 11 = 0 THEN NULL ELSE 'note ' || (i % 97) END AS note
                   FROM range({rows}) t(i)) TO '{out}/part-{p}.parquet' (FORMAT parquet)""")
            """#
        _ = try TestSupport.runPython(script, arguments: [directory.path, String(parts), String(rows), String(seed)])
    }

    /// A query over a table expression `FROM` that returns only VARCHARs: per-region aggregates and
    /// one digest over every row, so two engines' answers compare exactly.
    static func summarySQL(_ from: String) -> String {
        """
        SELECT region::VARCHAR, count(*)::VARCHAR, sum(amount)::VARCHAR, min(day)::VARCHAR, max(day)::VARCHAR,
               count(note)::VARCHAR,
               (SELECT md5(string_agg(t::VARCHAR, '|' ORDER BY id)) FROM \(from) t)::VARCHAR
        FROM \(from) GROUP BY region ORDER BY region
        """
    }

    /// Python duckdb 1.4.4's answer to `sql`, rows of strings (nil for NULL).
    static func pythonRows(_ sql: String) throws -> [[String?]] {
        let script = #"""
            import json, sys, duckdb
            print(json.dumps(duckdb.connect().execute(sys.argv[1]).fetchall()))
            """#
        let out = try TestSupport.runPython(script, arguments: [sql])
        let rows = try JSONSerialization.jsonObject(with: out) as? [[Any]] ?? []
        return rows.map { $0.map { $0 as? String } }
    }

    /// Our answer as rows of strings.
    static func rows(_ result: QueryResult) -> [[String?]] {
        (0..<result.rowCount).map { i in
            result.row(i).map { value -> String? in
                if case .string(let s) = value { return s }
                return nil
            }
        }
    }

    /// Runs boto3 against the S3 server: `script` sees `s3` (a client) and `argv`.
    static func boto3(_ server: LoopbackServer, _ script: String, _ arguments: [String] = []) throws {
        let prelude = """
            import sys, boto3
            s3 = boto3.client('s3', endpoint_url='\(server.baseURL)', aws_access_key_id='test-key',
                              aws_secret_access_key='test-secret', region_name='us-east-1')
            argv = sys.argv[1:]

            """
        _ = try TestSupport.runPython(prelude + script, arguments: arguments)
    }

    /// Creates `bucket` and uploads every file of `directory` under `prefix`.
    static func upload(_ server: LoopbackServer, bucket: String, directory: URL, prefix: String) throws {
        try boto3(server, """
            import os
            try:
                s3.create_bucket(Bucket=argv[0])
            except s3.exceptions.BucketAlreadyOwnedByYou:
                pass
            for name in sorted(os.listdir(argv[1])):
                s3.upload_file(os.path.join(argv[1], name), argv[0], argv[2] + name)
            """, [bucket, directory.path, prefix])
    }

    /// The time a loopback server gets to answer a request the test expects to succeed: far above
    /// what it needs, so a loaded test run cannot turn a success into a timeout.
    static let patience: Duration = .seconds(60)

    /// An S3 secret for the loopback server.
    static func secret(_ server: LoopbackServer) -> S3Secret {
        S3Secret(
            name: "loopback", endpoint: "127.0.0.1:\(server.port)", urlStyle: .path, useSSL: false,
            credentials: .keys(accessKeyID: "test-key", secretAccessKey: "test-secret"))
    }

    /// A database with httpfs and ducklake loaded from the project's extension directory.
    static func database(
        s3: [S3Secret] = [], http: [HTTPSecret] = [], attachments: [AttachedDatabase] = [],
        access: ExternalAccess = .unrestricted, httpTimeout: Duration? = patience, httpRetries: Int? = 1
    ) throws -> Database {
        try Database(configuration: .init(
            extensionDirectory: TestSupport.extensionDirectory, extensions: [.named("httpfs"), .named("ducklake")],
            s3Secrets: s3, httpSecrets: http, attachments: attachments, externalAccess: access,
            httpTimeout: httpTimeout, httpRetries: httpRetries))
    }
}

import DuckDBClient
import Foundation
import ResultFormat
import Testing
import TestSupport

@testable import RemoteData

/// The probes must version exactly the files DuckDB reads: our glob against DuckDB's own `glob()`
/// over the same awkward names, on local disk (Python duckdb 1.4.4) and on S3 (our libduckdb with
/// httpfs, against the loopback S3 server).
@Suite struct GlobDifferentialTests {
    static let names = [
        "a.parquet", "b.parquet", "ab.parquet", ".hidden.parquet", "x[1].parquet", "x1.parquet", "q?.parquet",
        "e\u{301}z.parquet", "éz.parquet", "^a.parquet", "]a.parquet", "-a.parquet", "a-.parquet", "data.parquet.bak",
        "sub/c.parquet", "sub/deep/d.parquet", "sub/deep/deeper/e.parquet", "other/f.parquet",
    ]
    static let patterns = [
        "*.parquet", "?.parquet", "[ab].parquet", "[!a].parquet", "[^a]*.parquet", "[]]a.parquet", "[a-]*",
        "x\\[1\\].parquet", "x[1].parquet", "**/*.parquet", "sub/*/*.parquet", "sub/**", "e*.parquet", "*b*",
        "[z-a]*.parquet", "[", "x[1.parquet", "*", "**", "sub/**/d.parquet", "[-a]*.parquet", "q?.parquet",
        "*/*.parquet", "[.]*", "[[]*",
    ]

    @Test func localGlobsMatchWhatDuckDBsGlobMatches() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        for name in Self.names {
            let url = dir.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data("x".utf8).write(to: url)
        }
        // A symbolic link to a directory: DuckDB reads through it.
        try FileManager.default.createSymbolicLink(
            at: dir.appendingPathComponent("link"), withDestinationURL: dir.appendingPathComponent("other"))
        let script = #"""
            import json, sys, duckdb
            con = duckdb.connect()
            out = {}
            for p in json.loads(sys.argv[1]):
                try:
                    out[p] = sorted(r[0] for r in con.execute("SELECT file FROM glob(?)", [p]).fetchall())
                except Exception as e:
                    out[p] = "error: " + str(e)
            print(json.dumps(out))
            """#
        let patterns = Self.patterns.map { dir.path + "/" + $0 } + [dir.path + "/link/*.parquet", dir.path + "/*/*.parquet"]
        let json = String(decoding: try JSONSerialization.data(withJSONObject: patterns), as: UTF8.self)
        let theirs = try JSONSerialization.jsonObject(with: TestSupport.runPython(script, arguments: [json])) as? [String: Any] ?? [:]
        for pattern in patterns {
            let ours = (try? LocalFileVersionProbe.files(matching: pattern)) ?? []
            if let expected = theirs[pattern] as? [String] {
                // Compared as bytes: a composed and a decomposed "é" are different files.
                #expect(ours.map { Array($0.utf8) }.sorted { $0.lexicographicallyPrecedes($1) }
                        == expected.map { Array($0.utf8) }.sorted { $0.lexicographicallyPrecedes($1) }, "\(pattern)")
            } else {
                #expect(ours.isEmpty, "\(pattern): DuckDB said \(theirs[pattern] ?? "nothing")")
            }
        }
    }

    @Test func s3GlobsMatchWhatDuckDBsGlobMatches() async throws {
        let server = try LoopbackServer.s3()
        defer { server.stop() }
        // Not `q?.parquet`: in an s3:// URL `?` starts the query string, so DuckDB cannot read such
        // a key at all (every read of a glob that lists it fails, whatever its version).
        let keys = Self.names.filter { !$0.contains("?") }.map { "data/" + $0 }
            + ["data//dbl.parquet", "data/dir/", "data-other/a.parquet", "data/q"]
        try RemoteFixtures.boto3(server, """
            import json
            s3.create_bucket(Bucket='globs')
            for key in json.loads(argv[0]):
                s3.put_object(Bucket='globs', Key=key, Body=b'x')
            """, [String(decoding: try JSONSerialization.data(withJSONObject: keys), as: UTF8.self)])
        let db = try RemoteFixtures.database(s3: [RemoteFixtures.secret(server)])
        let connection = try db.connect()
        for pattern in Self.patterns + ["*/*.parquet"] {
            let url = "s3://globs/data/" + pattern
            var expected: [String] = []
            do {
                // What DuckDB reads, not only what glob() names: read_blob opens each file.
                let r = try connection.query("SELECT filename FROM read_blob(?)", [.string(url)])
                expected = RemoteFixtures.rows(r).compactMap { $0.first ?? nil }.map { String($0.dropFirst("s3://globs/".count)) }
            } catch {
                expected = []  // DuckDB refuses the pattern: it reads nothing
            }
            guard let probe = try? S3VersionProbe(url: url, secret: RemoteFixtures.secret(server), timeout: RemoteFixtures.patience) else {
                #expect(expected.isEmpty, "\(pattern): refused by the probe, read by DuckDB")
                continue
            }
            let ours = try await probe.matchingObjects().map(\.key)
            #expect(Set(ours) == Set(expected), "\(pattern)")
        }
    }
}

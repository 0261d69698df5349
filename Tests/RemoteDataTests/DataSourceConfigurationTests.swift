import DuckDBClient
import Foundation
import Testing
import TestSupport

@testable import RemoteData

@Suite struct DataSourceConfigurationTests {
    private func load(_ json: String, in dir: URL) throws -> DataSourceConfiguration {
        let file = dir.appendingPathComponent("config.json")
        try Data(json.utf8).write(to: file)
        return try DataSourceConfiguration.load(from: file)
    }

    @Test func everyKeyReachesTheDatabaseConfigurationWithRelativePathsResolved() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let config = try load(#"""
            {"duckdb": {"extension_directory": "ext", "extensions": ["httpfs", "/x/ducklake.duckdb_extension"],
              "http_timeout_seconds": 2.5, "http_retries": 4, "threads": 2, "memory_limit": "1GB",
              "s3_secrets": [{"name": "lake", "scope": ["s3://lake"], "endpoint": "127.0.0.1:9000", "use_ssl": false,
                              "credentials": {"access_key_id": "AK", "secret_access_key": "SK"}},
                             {"credentials": "anonymous", "url_style": "vhost"}],
              "http_secrets": [{"name": "hub", "scope": ["https://hub"], "bearer_token_env": "HUB_TOKEN", "headers": {"X-A": "1"}}],
              "attachments": [{"alias": "lake", "ducklake": "meta/lake.ducklake", "data_path": "s3://lake/data"},
                              {"alias": "old", "database": "/abs/old.duckdb", "read_only": true}],
              "external_access": ["s3://lake/"]},
             "datasets": [{"name": "local", "locations": ["data/*.parquet"]},
                          {"name": "web", "locations": ["https://hub/a.csv"]},
                          {"name": "events", "ducklake_table": "lake.main.events"}]}
            """#, in: dir)
        let c = try config.databaseConfiguration(environment: ["HUB_TOKEN": "t0k"])
        #expect(c.extensionDirectory == dir.appendingPathComponent("ext").path)
        #expect(c.extensions == [.named("httpfs"), .path("/x/ducklake.duckdb_extension")])
        #expect(c.httpTimeout == .milliseconds(2500))
        #expect(c.httpRetries == 4)
        #expect(c.threads == 2 && c.memoryLimit == "1GB")
        #expect(c.s3Secrets.count == 2)
        #expect(c.s3Secrets[0].name == "lake" && c.s3Secrets[0].urlStyle == .path && c.s3Secrets[0].useSSL == false)
        #expect(c.s3Secrets[0].credentials == .keys(accessKeyID: "AK", secretAccessKey: "SK", sessionToken: nil))
        #expect(c.s3Secrets[1].credentials == .anonymous && c.s3Secrets[1].urlStyle == .virtualHost && c.s3Secrets[1].useSSL)
        #expect(c.httpSecrets == [HTTPSecret(name: "hub", scope: ["https://hub"], headers: ["X-A": "1"], bearerToken: "t0k")])
        #expect(c.attachments == [
            AttachedDatabase(alias: "lake", location: dir.appendingPathComponent("meta/lake.ducklake").path, kind: .duckLake(dataPath: "s3://lake/data")),
            AttachedDatabase(alias: "old", location: "/abs/old.duckdb", kind: .duckdb, readOnly: true),
        ])
        // The local dataset's directory is allowed along with the configured prefixes.
        #expect(c.externalAccess == .only(["s3://lake/", dir.appendingPathComponent("data").path + "/"]))
        #expect(try config.datasetViewStatements() == [
            "CREATE OR REPLACE VIEW \"local\" AS SELECT * FROM read_parquet(['\(dir.path)/data/*.parquet'])",
            "CREATE OR REPLACE VIEW \"web\" AS SELECT * FROM read_csv(['https://hub/a.csv'])",
            "CREATE OR REPLACE VIEW \"events\" AS SELECT * FROM \"lake\".\"main\".\"events\"",
        ])
    }

    @Test func mistakesAreNamedByTheirKey() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let cases: [(String, String)] = [
            (#"{"duckdb": {"attachments": [{"alias": "a"}]}, "datasets": []}"#, "duckdb.attachments[0]"),
            (#"{"duckdb": {"attachments": [{"alias": "a", "database": "x", "ducklake": "y"}]}, "datasets": []}"#, "duckdb.attachments[0]"),
            (#"{"duckdb": {"s3_secrets": [{"url_style": "sideways"}]}, "datasets": []}"#, "url_style"),
            (#"{"duckdb": {"s3_secrets": [{"credentials": "magic"}]}, "datasets": []}"#, "credentials"),
            (#"{"duckdb": {"http_secrets": [{"bearer_token_env": "NOT_SET_ANYWHERE"}]}, "datasets": []}"#, "NOT_SET_ANYWHERE"),
            (#"{"duckdb": {"http_timeout_seconds": 0}, "datasets": []}"#, "http_timeout_seconds"),
        ]
        for (json, named) in cases {
            let config = try load(json, in: dir)
            #expect(performing: { _ = try config.databaseConfiguration(environment: [:]) },
                    throws: { String(describing: $0).contains(named) })
        }
        let noLocations = try load(#"{"duckdb": {}, "datasets": [{"name": "x"}]}"#, in: dir)
        #expect(performing: { _ = try noLocations.datasetViewStatements() }, throws: { String(describing: $0).contains("datasets[0]") })
        let badFormat = try load(#"{"duckdb": {}, "datasets": [{"name": "x", "locations": ["a"], "format": "xlsx"}]}"#, in: dir)
        #expect(performing: { _ = try badFormat.datasetViewStatements() }, throws: { String(describing: $0).contains("xlsx") })
        #expect(throws: DecodingError.self) { _ = try load(#"{"duckdb": {"extensions": "httpfs"}, "datasets": []}"#, in: dir) }
    }

    @Test func schemeLocationsStayAsWrittenAndRelativeAllowancesResolve() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let config = try load(#"""
            {"duckdb": {"attachments": [{"alias": "m", "ducklake": "sqlite:meta.sqlite", "data_path": "files/"},
                                        {"alias": "p", "ducklake": "postgres:dbname=lake"},
                                        {"alias": "mem", "database": ":memory:"}],
                        "external_access": ["shared/", "one.parquet", "s3://b/"]},
             "datasets": [{"name": "g", "locations": ["gs://bucket/x.parquet"]}]}
            """#, in: dir)
        let c = try config.databaseConfiguration(environment: [:])
        #expect(c.attachments.map(\.location) == ["sqlite:meta.sqlite", "postgres:dbname=lake", ":memory:"])
        #expect(c.attachments[0].kind == .duckLake(dataPath: dir.appendingPathComponent("files").path + "/"))
        #expect(c.externalAccess == .only([dir.appendingPathComponent("shared").path + "/", dir.appendingPathComponent("one.parquet").path, "s3://b/"]))
        let pool = try DuckDBPool(database: Database(), configuration: .init(connections: 1))
        #expect(performing: { _ = try config.probe(for: config.datasets[0], pool: pool) },
                throws: { String(describing: $0).contains("gs://") })
    }

    @Test func aDirectoryDatasetIsVersionedAndAllowedAsEveryFileBelowIt() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let data = dir.appendingPathComponent("data/deep")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        try Data("a".utf8).write(to: data.appendingPathComponent("a.parquet"))
        let config = try load(#"{"duckdb": {"external_access": []}, "datasets": [{"name": "d", "locations": ["data"]}]}"#, in: dir)
        let c = try config.databaseConfiguration(environment: [:])
        #expect(c.externalAccess == .only([dir.appendingPathComponent("data").path + "/"]))
        let pool = try DuckDBPool(database: Database(), configuration: .init(connections: 1))
        let probe = try config.probe(for: config.datasets[0], pool: pool)
        let first = try await probe.currentVersion()
        try Data("b".utf8).write(to: data.appendingPathComponent("b.parquet"))
        #expect(try await probe.currentVersion() != first)
        await pool.shutdown()
    }

    @Test func datasetNamesAndLocationsAreQuotedNotSpliced() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let config = try load(#"{"duckdb": {}, "datasets": [{"name": "a\"b", "locations": ["/tmp/it's.parquet"]}]}"#, in: dir)
        #expect(try config.datasetViewStatements() == [
            #"CREATE OR REPLACE VIEW "a""b" AS SELECT * FROM read_parquet(['/tmp/it''s.parquet'])"#
        ])
    }
}

@Suite struct LocalFileVersionProbeTests {
    @Test func theLocalVersionFollowsTheMatchingFiles() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        try Data("a".utf8).write(to: dir.appendingPathComponent("part-0.parquet"))
        try Data("b".utf8).write(to: dir.appendingPathComponent("part-1.parquet"))
        let probe = LocalFileVersionProbe(patterns: [dir.path + "/*.parquet"])
        let first = try await probe.currentVersion()
        #expect(first.token.hasPrefix("file:"))
        #expect(try await probe.currentVersion() == first)
        try Data("x".utf8).write(to: dir.appendingPathComponent("notes.txt"))
        #expect(try await probe.currentVersion() == first)
        // Same size, new content: the modification time (nanoseconds) changes the version.
        var times = [timespec(tv_sec: 1_000_000, tv_nsec: 1), timespec(tv_sec: 1_000_000, tv_nsec: 1)]
        #expect(utimensat(AT_FDCWD, dir.appendingPathComponent("part-1.parquet").path, &times, 0) == 0)
        let second = try await probe.currentVersion()
        #expect(second != first)
        try Data("c".utf8).write(to: dir.appendingPathComponent("part-2.parquet"))
        #expect(try await probe.currentVersion() != second)
        await #expect(throws: DataVersionError.self) {
            _ = try await LocalFileVersionProbe(patterns: [dir.path + "/*.csv"]).currentVersion()
        }
    }
}

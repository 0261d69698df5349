import DuckDBClient
import Foundation
import Testing
import TestSupport

@testable import RemoteData

/// Credentials go only where DuckDB would send them, and are never printed.
@Suite struct SecretScopeTests {
    @Test func theLongestScopeWinsAsInDuckDB() throws {
        let any = S3Secret(name: "any")
        let bucket = S3Secret(name: "bucket", scope: ["s3://lake"])
        let dir = S3Secret(name: "dir", scope: ["s3://other", "s3://lake/data/"])
        let secrets = [any, bucket, dir]
        #expect(secrets.secret(for: "s3://lake/data/x.parquet")?.name == "dir")
        #expect(secrets.secret(for: "s3://lake/x.parquet")?.name == "bucket")
        #expect(secrets.secret(for: "s3://elsewhere/x")?.name == "any")
        #expect([bucket].secret(for: "s3://elsewhere/x") == nil)
        // Ties go to the first name in sort order, whatever the list order; an unscoped S3 secret
        // has the scope s3:// (so it beats a scoped "s3:/"... and ties with an explicit "s3://").
        #expect([S3Secret(name: "prod"), S3Secret(name: "dev")].secret(for: "s3://lake/x")?.name == "dev")
        #expect([S3Secret(name: "zz", scope: ["s3://"]), S3Secret(name: "dev")].secret(for: "s3://lake/x")?.name == "dev")
        #expect([HTTPSecret(name: "h2"), HTTPSecret(name: "h1")].secret(for: "http://x/")?.name == "h1")
        // A later secret of the same name replaces the earlier one, as CREATE OR REPLACE does.
        let replaced = [S3Secret(name: "a", region: "one"), S3Secret(name: "a", region: "two")]
        #expect(replaced.secret(for: "s3://b/k")?.region == "two")
    }

    @Test func duckDBPicksTheSameSecretsAsWeDo() throws {
        // DuckDB's own choice (which_secret) for the same secrets and URLs.
        let secrets = [
            S3Secret(name: "prod", credentials: .anonymous), S3Secret(name: "dev", credentials: .anonymous),
            S3Secret(name: "lake", scope: ["s3://lake"], credentials: .anonymous),
            S3Secret(name: "deep", scope: ["s3://lake/data/", "s3://other"], credentials: .anonymous),
            S3Secret(name: "all", scope: ["s3://"], credentials: .anonymous),
        ]
        let db = try Database(configuration: .init(
            extensionDirectory: TestSupport.extensionDirectory, extensions: [.named("httpfs")], s3Secrets: secrets))
        let connection = try db.connect()
        for url in ["s3://lake/data/x.parquet", "s3://lake/x.parquet", "s3://elsewhere/x", "s3://other/y", "s3a://z/k"] {
            let r = try connection.query("SELECT name FROM which_secret(?, 's3')", [.string(url)])
            let theirs: String? = r.rowCount == 1 ? { if case .string(let s) = r.row(0)[0] { s } else { nil } }() : nil
            #expect(secrets.secret(for: url)?.name == theirs, "\(url)")
        }
    }

    @Test func eachURLGetsOnlyItsOwnSecretsHeadersAndRedirectsToAnotherOriginGetNone() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        try Data("payload".utf8).write(to: dir.appendingPathComponent("f.parquet"))
        let recordB = dir.appendingPathComponent("b.log")
        let recordA = dir.appendingPathComponent("a.log")
        let b = try LoopbackServer.http(serving: dir, record: recordB)
        defer { b.stop() }
        let a = try LoopbackServer.http(serving: dir, redirectTo: b.baseURL + "/", record: recordA)
        defer { a.stop() }
        let secret = HTTPSecret(name: "a", scope: [a.baseURL + "/"], bearerToken: "ONLY-FOR-A")
        let direct = try #require(URL(string: "\(a.baseURL)/f.parquet"))
        let redirected = try #require(URL(string: "\(a.baseURL)/redirect/f.parquet"))
        let other = try #require(URL(string: "\(b.baseURL)/f.parquet"))
        let probe = try HTTPVersionProbe(urls: [direct, redirected, other], secrets: [secret], timeout: RemoteFixtures.patience)
        _ = try await probe.currentVersion()
        let seenByA = try String(contentsOf: recordA, encoding: .utf8)
        let seenByB = try String(contentsOf: recordB, encoding: .utf8)
        #expect(seenByA.contains("HEAD /f.parquet Bearer ONLY-FOR-A"))
        #expect(seenByA.contains("HEAD /redirect/f.parquet Bearer ONLY-FOR-A"))
        // B saw the redirected request and the direct one, neither with A's token.
        #expect(seenByB.split(separator: "\n").count == 2)
        #expect(!seenByB.contains("ONLY-FOR-A"))
        // The redirect is followed: the version is the target's.
        let viaRedirect = try await HTTPVersionProbe(urls: [redirected], timeout: RemoteFixtures.patience).currentVersion()
        let target = try await HTTPVersionProbe(urls: [other], timeout: RemoteFixtures.patience).currentVersion()
        #expect(viaRedirect != target)  // the URL is part of the version
        #expect(try await HTTPVersionProbe(urls: [redirected], timeout: RemoteFixtures.patience).currentVersion() == viaRedirect)
    }

    @Test func theS3ProbeSignsWithTheSecretDuckDBWouldUse() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let server = try LoopbackServer.s3()
        defer { server.stop() }
        try RemoteFixtures.boto3(server, "s3.create_bucket(Bucket='lake'); s3.put_object(Bucket='lake', Key='d/a.parquet', Body=b'x')")
        // An unscoped fallback pointing nowhere (port 9), and the bucket's own secret.
        let config = dir.appendingPathComponent("c.json")
        try Data(#"""
            {"duckdb": {"s3_secrets": [
                {"name": "fallback", "endpoint": "127.0.0.1:9", "use_ssl": false, "credentials": "anonymous"},
                {"name": "lake", "scope": ["s3://lake/"], "endpoint": "127.0.0.1:\#(server.port)", "use_ssl": false,
                 "credentials": {"access_key_id": "k", "secret_access_key": "s"}}]},
             "datasets": [{"name": "d", "locations": ["s3://lake/d/*.parquet"]}]}
            """#.utf8).write(to: config)
        let file = try DataSourceConfiguration.load(from: config)
        let pool = try DuckDBPool(database: Database(), configuration: .init(connections: 1))
        let version = try await file.probe(for: file.datasets[0], pool: pool).currentVersion()
        #expect(version.token.hasPrefix("s3:"))
        await pool.shutdown()
    }

    @Test func probesAndConfigurationsPrintNoSecret() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let s3 = S3Secret(credentials: .keys(accessKeyID: "AKIDSECRET1", secretAccessKey: "SKSECRET2", sessionToken: "STSECRET3"))
        let http = HTTPSecret(headers: ["X-Key": "HDRSECRET4"], bearerToken: "BEARERSECRET5")
        let url = try #require(URL(string: "http://user:PWSECRET6@127.0.0.1:1/f?X-Amz-Signature=SIGSECRET7"))
        let probes: [Any] = [
            try S3VersionProbe(url: "s3://b/k/*", secret: s3),
            try HTTPVersionProbe(urls: [url], headers: ["Authorization": "Bearer HDRSECRET8"], secrets: [http]),
            Database.Configuration(s3Secrets: [s3], httpSecrets: [http]),
        ]
        let config = dir.appendingPathComponent("c.json")
        try Data(#"""
            {"duckdb": {"s3_secrets": [{"credentials": {"access_key_id": "AKIDSECRET1", "secret_access_key": "SKSECRET2"}}],
                        "http_secrets": [{"headers": {"X-Key": "HDRSECRET4"}, "bearer_token": "BEARERSECRET5"}]},
             "datasets": []}
            """#.utf8).write(to: config)
        let everything = probes + [try DataSourceConfiguration.load(from: config)]
        for value in everything {
            var dumped = ""
            dump(value, to: &dumped)
            for text in [String(describing: value), String(reflecting: value), dumped] {
                for secret in ["AKIDSECRET1", "SKSECRET2", "STSECRET3", "HDRSECRET4", "BEARERSECRET5", "PWSECRET6", "SIGSECRET7", "HDRSECRET8"] {
                    #expect(!text.contains(secret), "\(type(of: value)) shows \(secret)")
                }
            }
        }
    }
}

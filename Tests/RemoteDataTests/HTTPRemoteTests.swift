import DuckDBClient
import Foundation
import RemoteData
import ResultFormat
import Testing
import TestSupport

/// Parquet over HTTP from a real server on loopback (Range, HEAD, ETag), queried through httpfs.
@Suite struct HTTPRemoteTests {
    @Test func queriesOverHTTPReturnTheSameRowsAsPythonOverTheLocalFiles() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        try RemoteFixtures.writeParquet(into: dir)
        let server = try LoopbackServer.http(serving: dir)
        defer { server.stop() }
        let remote = "read_parquet(['\(server.baseURL)/part-0.parquet', '\(server.baseURL)/part-1.parquet'])"
        let local = "read_parquet(['\(dir.path)/part-0.parquet', '\(dir.path)/part-1.parquet'])"
        let pool = try DuckDBPool(database: RemoteFixtures.database(), configuration: .init(connections: 2))
        let ours = RemoteFixtures.rows(try await pool.query(RemoteFixtures.summarySQL(remote)))
        let theirs = try RemoteFixtures.pythonRows(RemoteFixtures.summarySQL(local))
        #expect(ours.count == 4)
        #expect(ours == theirs)
        await pool.shutdown()
    }

    @Test func aBearerTokenReachesTheServerOnlyThroughTheConfiguredSecret() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        try RemoteFixtures.writeParquet(into: dir, parts: 1, rows: 100)
        let server = try LoopbackServer.http(serving: dir, bearer: "hub-token")
        defer { server.stop() }
        let sql = "SELECT count(*) FROM '\(server.baseURL)/part-0.parquet'"
        let without = try RemoteFixtures.database()
        #expect {
            _ = try without.connect().query(sql)
        } throws: { String(describing: $0).contains("401") }
        let with = try RemoteFixtures.database(http: [HTTPSecret(name: "hub", scope: [server.baseURL], bearerToken: "hub-token")])
        #expect(try with.connect().query(sql).row(0)[0] == .int(100))
        // The probe sends the same headers.
        let url = try #require(URL(string: "\(server.baseURL)/part-0.parquet"))
        await #expect(throws: DataVersionError.self) { _ = try await HTTPVersionProbe(urls: [url]).currentVersion() }
        let probe = try HTTPVersionProbe(urls: [url], headers: HTTPSecret(bearerToken: "hub-token").requestHeaders, timeout: RemoteFixtures.patience)
        _ = try await probe.currentVersion()
    }

    @Test func theHTTPVersionIsStableUntilAFileIsReplaced() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        try RemoteFixtures.writeParquet(into: dir, seed: 1)
        let server = try LoopbackServer.http(serving: dir)
        defer { server.stop() }
        let urls = try (0..<2).map { try #require(URL(string: "\(server.baseURL)/part-\($0).parquet")) }
        let probe = try HTTPVersionProbe(urls: urls, timeout: RemoteFixtures.patience)
        let first = try await probe.currentVersion()
        #expect(first.token.hasPrefix("http:"))
        #expect(try await probe.currentVersion() == first)
        // Order is part of the version's identity but each probe is deterministic.
        #expect(try await HTTPVersionProbe(urls: urls.reversed(), timeout: RemoteFixtures.patience).currentVersion() != first)
        // Rewrite part-1 with other content: new ETag, new version; and DuckDB sees the new data.
        let before = try RemoteFixtures.database().connect().query("SELECT sum(amount)::VARCHAR FROM '\(urls[1].absoluteString)'")
        let staging = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(staging) }
        try RemoteFixtures.writeParquet(into: staging, seed: 2)
        // An atomic replacement, as a publisher would do it.
        #expect(rename(staging.appendingPathComponent("part-1.parquet").path, dir.appendingPathComponent("part-1.parquet").path) == 0)
        let second = try await probe.currentVersion()
        #expect(second != first)
        #expect(try await probe.currentVersion() == second)
        let after = try RemoteFixtures.database().connect().query("SELECT sum(amount)::VARCHAR FROM '\(urls[1].absoluteString)'")
        #expect(RemoteFixtures.rows(before) != RemoteFixtures.rows(after))
    }

    @Test func aMissingFileIsAnHTTPStatusErrorNamingTheURL() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let server = try LoopbackServer.http(serving: dir)
        defer { server.stop() }
        let url = try #require(URL(string: "\(server.baseURL)/nothing.parquet"))
        do {
            _ = try await HTTPVersionProbe(urls: [url]).currentVersion()
            Issue.record("a 404 gave a version")
        } catch let error as DataVersionError {
            #expect(error.kind == .httpStatus)
            #expect(error.message.contains("404"))
            #expect(error.message.contains("/nothing.parquet"))
        }
    }

    @Test func aServerThatIsDownIsAClearErrorNotAHang() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        try RemoteFixtures.writeParquet(into: dir, parts: 1, rows: 10)
        let server = try LoopbackServer.http(serving: dir)
        let base = server.baseURL
        server.stop()  // nothing listens on the port any more
        let url = try #require(URL(string: "\(base)/part-0.parquet"))
        do {
            _ = try await HTTPVersionProbe(urls: [url], timeout: RemoteFixtures.patience).currentVersion()
            Issue.record("a probe of a stopped server gave a version")
        } catch let error as DataVersionError {
            #expect(error.kind == .unreachable)
            #expect(error.message.contains(base))
        }
        let pool = try DuckDBPool(
            database: RemoteFixtures.database(httpTimeout: .seconds(2), httpRetries: 0),
            configuration: .init(connections: 1, defaultTimeout: .seconds(60)))
        await #expect {
            _ = try await pool.query("SELECT count(*) FROM '\(url.absoluteString)'")
        } throws: { error in
            guard let error = error as? DuckDBError else { return false }
            return error.message.contains(url.absoluteString) || error.message.contains("127.0.0.1")
        }
        await pool.shutdown()
    }

    @Test func aServerThatNeverAnswersIsBoundedByTheTimeouts() async throws {
        let server = try LoopbackServer.hanging()
        defer { server.stop() }
        let url = try #require(URL(string: "\(server.baseURL)/data.parquet"))
        do {
            _ = try await HTTPVersionProbe(urls: [url], timeout: .milliseconds(500)).currentVersion()
            Issue.record("a silent server gave a version")
        } catch let error as DataVersionError {
            #expect(error.kind == .timedOut)
        }
        // httpfs gives up after its own timeout (1 s here, retries off), which is below the pool's.
        let pool = try DuckDBPool(
            database: RemoteFixtures.database(httpTimeout: .seconds(1), httpRetries: 0),
            configuration: .init(connections: 1, defaultTimeout: .seconds(30)))
        await #expect(throws: (any Error).self) {
            _ = try await pool.query("SELECT count(*) FROM '\(url.absoluteString)'")
        }
        // With httpfs's timeout far above the pool's, the pool's timeout answers the caller (httpfs
        // does not look at DuckDB's interrupt while it waits for the server).
        let patient = try DuckDBPool(
            database: RemoteFixtures.database(httpTimeout: .seconds(60), httpRetries: 0),
            configuration: .init(connections: 1, defaultTimeout: .seconds(1)))
        let start = ContinuousClock.now
        await #expect(throws: DuckDBPoolError.timedOut(.seconds(1))) {
            _ = try await patient.query("SELECT count(*) FROM '\(url.absoluteString)'")
        }
        // Far below httpfs's 60 s; the margin over the pool's 1 s is for a loaded test run.
        #expect(ContinuousClock.now - start < .seconds(20), "the caller waited for httpfs, not the pool's timeout")
        server.stop()  // the stuck read ends with the connection, so the pool can shut down
        await pool.shutdown()
        await patient.shutdown()
    }

    @Test func probesRefuseURLsThatAreNotHTTP() throws {
        #expect(throws: DataVersionError.self) { _ = try HTTPVersionProbe(urls: []) }
        let file = try #require(URL(string: "file:///etc/passwd"))
        #expect(throws: DataVersionError.self) { _ = try HTTPVersionProbe(urls: [file]) }
    }
}

import DuckDBClient
import Foundation
import ResultFormat
import Testing
import TestSupport

@Suite struct ExtensionTests {
    private func loaded(_ db: Database) throws -> Set<String> {
        let r = try db.connect().query("SELECT extension_name FROM duckdb_extensions() WHERE loaded ORDER BY 1")
        return Set((0..<r.rowCount).compactMap { if case .string(let s) = r.row($0)[0] { s } else { nil } })
    }

    @Test func extensionsLoadByNameFromTheConfiguredDirectory() throws {
        let db = try Database(configuration: .init(
            extensionDirectory: TestSupport.extensionDirectory, extensions: [.named("httpfs"), .named("ducklake")]))
        let names = try loaded(db)
        #expect(names.contains("httpfs"))
        #expect(names.contains("ducklake"))
        // Loaded from the directory, not downloaded: auto-install is off.
        let r = try db.connect().query("SELECT current_setting('autoinstall_known_extensions')")
        #expect(r.row(0)[0] == .bool(false))
    }

    @Test func httpSettingsReachEveryConnectionNotOnlyTheSetUpOne() throws {
        let db = try Database(configuration: .init(
            extensionDirectory: TestSupport.extensionDirectory, extensions: [.named("httpfs")],
            httpTimeout: .milliseconds(6500), httpRetries: 2))
        for _ in 0..<2 {
            let r = try db.connect().query("SELECT current_setting('http_timeout')::BIGINT, current_setting('http_retries')::BIGINT")
            #expect(r.row(0) == [.int(7), .int(2)])  // whole seconds, rounded up
        }
    }

    @Test func extensionsLoadByPath() throws {
        let path = TestSupport.extensionDirectory + "/" + Database.libraryVersion + "/linux_amd64/httpfs.duckdb_extension"
        let db = try Database(configuration: .init(extensions: [.path(path)]))
        #expect(try loaded(db).contains("httpfs"))
    }

    @Test func aMissingExtensionIsAClearErrorNamingItAndTheVersion() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        do {
            _ = try Database(configuration: .init(extensionDirectory: dir.path, extensions: [.named("httpfs")]))
            Issue.record("a missing extension opened")
        } catch let error as DuckDBError {
            #expect(error.kind == .extensionUnavailable)
            #expect(error.message.contains("\"httpfs\""))
            #expect(error.message.contains(Database.libraryVersion))
            #expect(error.message.contains(dir.path + "/" + Database.libraryVersion + "/linux_amd64/httpfs.duckdb_extension"))
            #expect(error.message.contains("duckdb-ext-httpfs==1.4.4"))
        }
    }

    @Test func anExtensionBuiltForAnotherVersionIsRefusedNamingBothVersions() throws {
        do {
            _ = try Database(configuration: .init(extensions: [.path(TestSupport.otherVersionExtension)]))
            Issue.record("an extension built for v1.4.3 loaded into \(Database.libraryVersion)")
        } catch let error as DuckDBError {
            #expect(error.kind == .extensionUnavailable)
            #expect(error.message.contains("\"ducklake-v1\"") || error.message.contains("ducklake"))
            #expect(error.message.contains("v1.4.3"))
            #expect(error.message.contains(Database.libraryVersion))
        }
    }

    @Test func aDamagedExtensionFileIsRefused() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        // The real binary with its signature block cut off, and one of random bytes.
        let real = try Data(contentsOf: URL(fileURLWithPath: TestSupport.extensionDirectory + "/" + Database.libraryVersion + "/linux_amd64/httpfs.duckdb_extension"))
        let truncated = dir.appendingPathComponent("httpfs.duckdb_extension")
        try real.prefix(real.count - 300).write(to: truncated)
        let junk = dir.appendingPathComponent("junk.duckdb_extension")
        var random = SeededRandom(seed: 7)
        try Data((0..<4096).map { _ in UInt8(truncatingIfNeeded: random.next()) }).write(to: junk)
        for file in [truncated, junk] {
            #expect {
                _ = try Database(configuration: .init(extensions: [.path(file.path)]))
            } throws: { error in
                guard let error = error as? DuckDBError else { return false }
                return error.kind == .extensionUnavailable && error.message.contains(file.path)
            }
        }
    }

    @Test func extensionNamesThatAreNotPlainNamesAreRefusedBeforeDuckDBSeesThem() throws {
        #expect {
            _ = try Database(configuration: .init(extensions: [.named("httpfs; DROP TABLE x")]))
        } throws: { ($0 as? DuckDBError)?.kind == .extensionUnavailable }
    }

    @Test func s3SecretsNeverShowTheirKeys() throws {
        let secret = S3Secret(
            name: "lake", scope: ["s3://bucket"], endpoint: "127.0.0.1:9", urlStyle: .path, useSSL: false,
            credentials: .keys(accessKeyID: "AKIDVISIBLE", secretAccessKey: "TOPSECRETKEY", sessionToken: "TOKENVALUE"))
        var dumped = ""
        dump(secret, to: &dumped)
        for text in [secret.description, String(describing: secret), String(reflecting: secret), dumped] {
            #expect(!text.contains("TOPSECRETKEY"))
            #expect(!text.contains("TOKENVALUE"))
            #expect(!text.contains("AKIDVISIBLE"))
        }
        let http = HTTPSecret(name: "hub", headers: ["X-Api-Key": "HEADERSECRET"], bearerToken: "BEARERSECRET")
        #expect(!http.description.contains("HEADERSECRET"))
        #expect(!http.description.contains("BEARERSECRET"))
        // DuckDB's own listing redacts the S3 key too.
        let db = try Database(configuration: .init(
            extensionDirectory: TestSupport.extensionDirectory, extensions: [.named("httpfs")], s3Secrets: [secret]))
        let r = try db.connect().query("SELECT secret_string FROM duckdb_secrets()")
        guard case .string(let listed) = r.row(0)[0] else { Issue.record("no secret listed"); return }
        #expect(!listed.contains("TOPSECRETKEY"))
        #expect(listed.contains("endpoint=127.0.0.1:9"))
    }

    @Test func failedSecretCreationDoesNotEchoTheKeys() throws {
        // Without httpfs (and with an empty extension directory, so it cannot be auto-loaded) the
        // S3 secret type does not exist: the error must not carry the statement's key.
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let secret = S3Secret(credentials: .keys(accessKeyID: "AKIDVISIBLE", secretAccessKey: "TOPSECRETKEY"))
        do {
            _ = try Database(configuration: .init(extensionDirectory: dir.path, s3Secrets: [secret]))
            Issue.record("an S3 secret was created without httpfs")
        } catch let error as DuckDBError {
            #expect(error.message.contains("S3 secret \"s3\""))
            #expect(!error.message.contains("TOPSECRETKEY"))
            #expect(!String(describing: error).contains("TOPSECRETKEY"))
        }
    }

    @Test func credentialsFromTheEnvironmentNeedBothKeys() throws {
        let full = try S3Secret.Credentials.environment.resolve(environment: [
            "AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "t",
        ])
        #expect(full?.accessKeyID == "id" && full?.secretAccessKey == "secret" && full?.sessionToken == "t")
        #expect(throws: DuckDBError.self) {
            _ = try S3Secret.Credentials.environment.resolve(environment: ["AWS_ACCESS_KEY_ID": "id"])
        }
        #expect(try S3Secret.Credentials.anonymous.resolve(environment: [:]) == nil)
    }
}

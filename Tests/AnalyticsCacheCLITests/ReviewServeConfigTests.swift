import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import TestSupport

/// Review: `serve --config` end to end (inputs that may trap are run in the child process only).
@Suite(.timeLimit(.minutes(4))) struct ReviewServeConfigTests {
    struct Outcome {
        var served: String?
        var status: Int32
        var signalled: Bool
        var stderr: String
        var summary: String { "served=\(served ?? "no") status=\(status) signalled=\(signalled) stderr=\(stderr.suffix(600))" }
    }

    /// Runs `serve` until it prints its URL (then stops it: a run that should have been refused) or exits.
    static func serve(_ arguments: [String], in dir: URL) throws -> Outcome {
        let process = Process()
        process.executableURL = CLI.executable
        process.arguments = ["serve", "--data-dir", dir.appendingPathComponent("data").path] + arguments
        let out = Pipe()
        let errURL = dir.appendingPathComponent("stderr-\(UUID().uuidString).txt")
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let err = try FileHandle(forWritingTo: errURL)
        process.standardOutput = out
        process.standardError = err
        try process.run()
        var line = Data()
        while true {
            let byte = out.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty || byte == Data("\n".utf8) { break }
            line.append(byte)
        }
        let text = String(decoding: line, as: UTF8.self)
        var served: String?
        if text.hasPrefix("serving ") {
            served = text
            process.terminate()
        }
        process.waitUntilExit()
        try err.close()
        let stderr = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        return Outcome(served: served, status: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal, stderr: stderr)
    }

    static func write(_ data: Data, _ name: String, in dir: URL) throws -> String {
        let url = dir.appendingPathComponent(name)
        try data.write(to: url)
        return url.path
    }

    /// Refused before serving, with a message naming the key, and never by a crash.
    @Test(arguments: [
        ("complex-key.yaml", "? [a]\n: 1\n", "a key must be text"),
        ("complex-key-in-server.yaml", "server:\n  ? [port]\n  : 1\n", "server: a key must be text"),
        ("query-typo.yaml", "queries:\n  - id: q\n    sql: SELECT 1 AS n\n    expires: { ttl: 1 }\n", "expires"),
        ("query-time-zone-typo.yaml", "queries:\n  - id: q\n    sql: SELECT 1 AS n\n    expiry: { window: day, timezone: Europe/Paris }\n", "timezone"),
        ("parameter-typo.yaml", "queries:\n  - id: q\n    sql: SELECT ?::BIGINT AS n\n    parameters: [{ name: n, type: integer, maximum: 10 }]\n", "maximum"),
        ("bad-header.yaml", "queries: [{ id: q, sql: 'SELECT ? AS t', scope: tenant }]\ntenancy: { header: 'X Tenant' }\n", "tenancy.header"),
        ("empty-host.yaml", "queries: [{ id: q, sql: 'SELECT 1 AS n' }]\nserver: { host: '' }\n", "server.host"),
        ("scalar.yaml", "42\n", "mapping"),
        ("list.yaml", "- a\n- b\n", "mapping"),
        ("string-port.json", #"{"server": {"port": "8080"}}"#, "server.port"),
        ("queries-null.yaml", "queries: ~\n", "queries"),
    ])
    func aBadConfigFileIsRefusedWithoutACrash(name: String, text: String, fragment: String) throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let config = try Self.write(Data(text.utf8), name, in: dir)
        let outcome = try Self.serve(["--config", config, "--port", "0"], in: dir)
        #expect(outcome.served == nil && outcome.status != 0 && !outcome.signalled, "\(outcome.summary)")
        #expect(outcome.stderr.contains(fragment), "\(outcome.summary)")
    }

    @Test func aNonUTF8FileIsRefusedWithoutACrash() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let config = try Self.write(Data([0x73, 0x65, 0x72, 0x76, 0x65, 0x72, 0x3A, 0x20, 0xFF, 0xFE, 0x0A]), "bytes.yaml", in: dir)
        let outcome = try Self.serve(["--config", config, "--port", "0"], in: dir)
        #expect(outcome.served == nil && outcome.status != 0 && !outcome.signalled && !outcome.stderr.isEmpty, "\(outcome.summary)")
    }

    /// The command line overrides the file, so its values must be checked like the file's.
    @Test(arguments: [
        (["--port", "70000"], "port"), (["--port=-1"], "port"), (["--disk-mb=-1"], "disk-mb"), (["--disk-mb", "0"], "disk-mb"),
        (["--disk-mb", "8796093022208"], "disk-mb"), (["--memory-mb=-1"], "memory-mb"),
    ])
    func anOutOfRangeOverrideIsRefusedLikeTheFilesValue(arguments: [String], option: String) throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let config = try Self.write(Data("queries: [{ id: q, sql: 'SELECT 1 AS n' }]\nserver: { port: 0 }\n".utf8), "ok.yaml", in: dir)
        let outcome = try Self.serve(["--config", config] + arguments, in: dir)
        #expect(outcome.served == nil && outcome.status != 0 && !outcome.signalled, "\(arguments): \(outcome.summary)")
        #expect(outcome.stderr.contains(option), "\(arguments): \(outcome.summary)")
    }

    /// An empty admin token in the file: either refused, or no request is admin with an empty bearer.
    @Test func anEmptyAdminTokenNeverAdmitsAnEmptyBearer() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let config = try Self.write(Data("queries: [{ id: q, sql: 'SELECT 1 AS n' }]\nserver: { port: 0, adminToken: '' }\n".utf8), "empty.yaml", in: dir)
        guard let server = try? ServeCommandTests.Server.start(dataDir: dir.appendingPathComponent("data").path, arguments: ["--config", config]) else {
            return  // refused: fine
        }
        let empty = try CLI.run(["invalidate", "--everything", "--server", server.url, "--token", ""])
        #expect(empty.status != 0, "an empty bearer token invalidated the cache: \(empty.text) \(empty.stderr)")
        #expect(server.stop() == 0)
    }

    /// `Accept: ;` (and any list element made of `;` only) must get an answer, not end the server.
    @Test(arguments: [";", "text/html, ;", "application/json,;q=1"])
    func anAcceptHeaderOfOnlyASemicolonDoesNotKillTheServer(accept: String) async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let config = try Self.write(Data("queries: [{ id: q, sql: 'SELECT 1 AS n' }]\nserver: { port: 0 }\n".utf8), "ok.yaml", in: dir)
        let process = Process()
        process.executableURL = CLI.executable
        process.arguments = ["serve", "--data-dir", dir.appendingPathComponent("data").path, "--config", config]
        let out = Pipe()
        let errURL = dir.appendingPathComponent("server-stderr.txt")
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let err = try FileHandle(forWritingTo: errURL)
        process.standardOutput = out
        process.standardError = err
        try process.run()
        var line = Data()
        while true {
            let byte = out.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty || byte == Data("\n".utf8) { break }
            line.append(byte)
        }
        let url = String(decoding: line, as: UTF8.self).dropFirst("serving ".count).trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        var request = URLRequest(url: try #require(URL(string: url + "/api/queries/q")))
        request.setValue(accept, forHTTPHeaderField: "Accept")
        var status = 0
        do {
            let (_, response) = try await URLSession.shared.data(for: request)
            status = (response as? HTTPURLResponse)?.statusCode ?? 0
        } catch {
            status = -1
        }
        let after = try? await URLSession.shared.data(from: try #require(URL(string: url + "/api/queries/q")))
        #expect(status == 200 || status == 406, "Accept '\(accept)': status \(status)")
        if after == nil {
            process.waitUntilExit()  // it is going away: bounded by the suite's time limit
            let log = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
            let fatal = log.split(separator: "\n").filter { $0.contains("Fatal error") || $0.contains("crashed") }.joined(separator: " | ")
            Issue.record("the server died after Accept '\(accept)': reason \(process.terminationReason == .uncaughtSignal ? "signal" : "exit") \(process.terminationStatus): \(fatal)")
        } else {
            process.terminate()
            process.waitUntilExit()
        }
        try err.close()
    }

    /// A sub-millisecond idle timeout passes the file's check (> 0) and becomes 0 ms: the server
    /// must still answer a request (or the file must have been refused).
    @Test func aSubMillisecondIdleTimeoutStillServes() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let config = try Self.write(Data("queries: [{ id: q, sql: 'SELECT 1 AS n' }]\nserver: { port: 0, idleTimeoutSeconds: 0.0004 }\n".utf8), "idle.yaml", in: dir)
        guard let server = try? ServeCommandTests.Server.start(dataDir: dir.appendingPathComponent("data").path, arguments: ["--config", config]) else {
            return  // refused: fine
        }
        var outcome = "no answer"
        do {
            let (data, response) = try await URLSession.shared.data(from: try #require(URL(string: server.url + "/api/queries/q")))
            outcome = "\((response as? HTTPURLResponse)?.statusCode ?? 0) \(String(decoding: data, as: UTF8.self))"
        } catch {
            outcome = "\(error)"
        }
        #expect(outcome.hasPrefix("200"), "idleTimeoutSeconds 0.0004 accepted, then: \(outcome)")
        _ = server.stop()
    }
}

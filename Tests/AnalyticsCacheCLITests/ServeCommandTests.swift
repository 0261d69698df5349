import Foundation
import Testing
import TestSupport

/// `analytics-cache serve` as a user runs it: first start on demo data, the API, `demo-events`,
/// `warm`, `invalidate`, `stats`, a restart that keeps the data, and SIGTERM ending it cleanly.
@Suite(.timeLimit(.minutes(4))) struct ServeCommandTests {
    /// A running `serve`: its process and the URL it printed.
    struct Server {
        let process: Process
        let url: String

        static func start(dataDir: String, arguments: [String] = ["--port", "0", "--scale", "0.01", "--admin-token", "cli-secret"]) throws -> Server {
            let process = Process()
            process.executableURL = CLI.executable
            process.arguments = ["serve", "--data-dir", dataDir] + arguments
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            try process.run()
            // The first line is the URL; bounded by the suite's time limit.
            var line = Data()
            while true {
                let byte = out.fileHandleForReading.readData(ofLength: 1)
                if byte.isEmpty || byte == Data("\n".utf8) { break }
                line.append(byte)
            }
            let text = String(decoding: line, as: UTF8.self)
            guard text.hasPrefix("serving ") else { throw ServeFailure(description: "serve printed '\(text)'") }
            return Server(process: process, url: String(text.dropFirst("serving ".count)).trimmingCharacters(in: CharacterSet(charactersIn: "/")))
        }

        /// SIGTERM, then the exit status (the suite's time limit bounds the wait).
        func stop() -> Int32 {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
            return process.terminationStatus
        }
    }

    @Test func serveRunsTheDemoAndTheAdminCommandsTalkToIt() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let data = dir.appendingPathComponent("data").path
        let server = try Server.start(dataDir: data)
        let queries = try CLI.run(["warm", "--server", server.url])
        #expect(queries.status == 0, "\(queries.text) \(queries.stderr)")
        #expect(queries.text.split(separator: "\n").count == 8, "eight demo queries warmed: \(queries.text)")
        let events = try CLI.run(["demo-events", "--count", "3", "--rate", "50", "--server", server.url])
        #expect(events.status == 0, "\(events.text)")
        #expect(events.text.contains("order 3/3 accepted"))
        let refused = try CLI.run(["invalidate", "--everything", "--server", server.url, "--token", "wrong"])
        #expect(refused.status != 0 && refused.text.hasPrefix("403"))
        let invalidated = try CLI.run(["invalidate", "--query", "revenue-by-nation", "--param", "region=ASIA", "--server", server.url, "--token", "cli-secret"])
        #expect(invalidated.status == 0, "\(invalidated.text)")
        let stats = try CLI.run(["stats", "--server", server.url])
        #expect(stats.status == 0 && stats.text.contains("analytics_requests_total"), "\(stats.text)")
        #expect(server.stop() == 0, "SIGTERM ends serve cleanly")

        // A restart keeps the data (no second generation) and serves again.
        let again = try Server.start(dataDir: data)
        let today = try CLI.run(["warm", "--server", again.url, "--query", "today"])
        #expect(today.status == 0, "\(today.text)")
        #expect(again.stop() == 0)
        let l2 = try CLI.run(["stats", "--l2", data + "/l2"])
        #expect(l2.status == 0 && l2.text.contains("entries "), "\(l2.text) \(l2.stderr)")
    }
}

struct ServeFailure: Error, CustomStringConvertible {
    var description: String
}

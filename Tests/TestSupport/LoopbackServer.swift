import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A server the remote-data tests start on loopback: one of `scripts/testservers/*.py`, run by the
/// project's Python (`.venv`). It prints `PORT <n>` once listening and serves until its standard
/// input closes — which ``stop()`` does, and which the kernel does if this process dies — so no
/// server outlives its test.
public final class LoopbackServer: @unchecked Sendable {
    // @unchecked Sendable: `process` and `input` are set once in init; `stop()` is idempotent
    // through `Process`'s own state and only closes a pipe and waits.
    public let port: Int
    private let process: Process
    private let input: Pipe

    /// Starts a static-file server over `directory` (ranges, HEAD, ETag, Last-Modified).
    /// - Parameter bearer: if set, requests without `Authorization: Bearer <bearer>` get 401
    ///   - redirectTo: requests under `/redirect/` answer 302 to this base URL + the rest
    ///   - record: a file that gets `METHOD PATH AUTHORIZATION` per request
    public static func http(serving directory: URL, bearer: String? = nil, redirectTo: String? = nil, record: URL? = nil) throws -> LoopbackServer {
        var arguments = [directory.path]
        if let bearer { arguments += ["--bearer", bearer] }
        if let redirectTo { arguments += ["--redirect-to", redirectTo] }
        if let record { arguments += ["--record", record.path] }
        return try LoopbackServer(script: "http_server.py", arguments: arguments)
    }

    /// Starts a listener that accepts connections and never answers.
    public static func hanging() throws -> LoopbackServer {
        try LoopbackServer(script: "http_server.py", arguments: ["--hang"])
    }

    /// Starts an S3-compatible server (moto) with no buckets.
    public static func s3() throws -> LoopbackServer {
        try LoopbackServer(script: "s3_server.py", arguments: [])
    }

    /// `http://127.0.0.1:<port>`.
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    private init(script: String, arguments: [String]) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: try TestSupport.python())
        process.arguments = [TestSupport.packageRoot.appendingPathComponent("scripts/testservers/\(script)").path] + arguments
        input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Bound: a server that never prints its port is killed, which ends the read below.
        let pid = process.processIdentifier
        let started = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            if started.wait(timeout: .now() + 60) == .timedOut { _ = Glibc.kill(pid, SIGKILL) }
        }
        var text = ""
        while !text.contains("\n") {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        started.signal()
        guard let line = text.split(separator: "\n").first, line.hasPrefix("PORT "), let port = Int(line.dropFirst(5)) else {
            process.terminate()
            throw TestSupport.ProcessFailure(description: "\(script) did not start (printed \(text.debugDescription))")
        }
        self.port = port
    }

    /// Stops the server (closing its input) and waits for it to exit.
    public func stop() {
        guard process.isRunning else { return }
        try? input.fileHandleForWriting.close()
        let pid = process.processIdentifier
        let exited = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            if exited.wait(timeout: .now() + 10) == .timedOut { _ = Glibc.kill(pid, SIGKILL) }
        }
        process.waitUntilExit()
        exited.signal()
    }

    deinit { stop() }
}

import Foundation
import Testing

/// Files and processes the DuckDB tests share.
public enum TestSupport {
    /// The package's root directory (where `.venv` lives).
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public struct MissingPeer: Error, CustomStringConvertible {
        public let description: String
    }

    /// The Python interpreter with the `duckdb` and `pyarrow` packages that `scripts/bootstrap.sh`
    /// installs; `ANALYTICS_CACHE_PYTHON` overrides it.
    public static func python() throws -> String {
        if let override = ProcessInfo.processInfo.environment["ANALYTICS_CACHE_PYTHON"] { return override }
        let path = packageRoot.appendingPathComponent(".venv/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw MissingPeer(description: "\(path) is missing: run scripts/bootstrap.sh (make test does)")
        }
        return path
    }

    /// A new empty directory, unique to the caller.
    public static func temporaryDirectory(_ label: String = #function) throws -> URL {
        let safe = label.filter { $0.isLetter || $0.isNumber }
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("analytics-cache-tests")
            .appendingPathComponent("\(safe)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Removes a directory made by ``temporaryDirectory(_:)``.
    public static func remove(_ directory: URL) {
        try? FileManager.default.removeItem(at: directory)
    }

    public struct ProcessFailure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Runs a Python script with arguments and returns its standard output.
    public static func runPython(_ script: String, arguments: [String] = [], stdin: Data? = nil) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try python())
        process.arguments = ["-c", script] + arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ProcessFailure(description: "python exited \(process.terminationStatus): \(String(decoding: stderr, as: UTF8.self))")
        }
        return stdout
    }
}

/// Waits, yielding, until `condition` holds; records an issue after 90 s instead of hanging.
/// (An explicit state check, not a sleep: the condition is re-read after every yield.)
public func eventually(
    _ what: String, _ condition: () -> Bool, sourceLocation: SourceLocation = #_sourceLocation
) async {
    let start = ContinuousClock.now
    while !condition() {
        // A bound against a hang, not a timing claim: with about a hundred tests sharing two
        // cores, a task may wait tens of seconds for its first turn.
        if ContinuousClock.now - start > .seconds(90) {
            Issue.record("timed out waiting for \(what)", sourceLocation: sourceLocation)
            return
        }
        await Task.yield()
    }
}

extension TestSupport {
    /// An executable of this package, built next to the test bundle (`swift test` builds it when a
    /// test target depends on its target).
    public static func builtExecutable(named name: String) -> URL {
        let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var dir = testBinary.deletingLastPathComponent()
        while !FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent(name).path), dir.path != "/" {
            dir = dir.deletingLastPathComponent()
        }
        return dir.appendingPathComponent(name)
    }
}

/// A test step that did not finish within its bound.
public struct TimedOut: Error, CustomStringConvertible {
    public let description: String
}

/// Runs `operation`, failing with ``TimedOut`` instead of hanging if it takes longer than
/// `limit` (a bound against lost wake-ups, not a synchronisation: the result is the operation's).
public func withTimeLimit<T: Sendable>(
    _ limit: Duration, _ what: String, _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw TimedOut(description: "\(what) did not finish within \(limit)")
        }
        return value
    }
}

extension TestSupport {
    /// The DuckDB extension directory `scripts/bootstrap.sh` fills from the PyPI wheels.
    public static var extensionDirectory: String {
        packageRoot.appendingPathComponent(".venv/duckdb_extensions").path
    }

    /// A ducklake binary built for DuckDB 1.4.3 (bootstrap's fixture for the incompatible-extension test).
    public static var otherVersionExtension: String {
        packageRoot.appendingPathComponent(".venv/duckdb_extensions_other/ducklake-v1.4.3.duckdb_extension").path
    }
}

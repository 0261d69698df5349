import CTestSupport
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A child process of the crash tests: an executable of this package that prints one integer per
/// line after each operation it has committed, until the test kills it.
public struct ChildProcess {
    public let process: Process
    private let output: FileHandle
    private let resources: Resources
    private var text = ""

    /// What outlives the struct's copies: the pidfd the watchdog signals through, and the file
    /// that collects the child's standard error.
    private final class Resources: @unchecked Sendable {
        // Unchecked: both fields are set once in init and only read afterwards; the descriptor is
        // closed in deinit, after the watchdog closure (which holds a reference) has run or been dropped.
        let pidfd: Int32
        let errorFile: URL
        /// Set when the watchdog, not the test, killed the child.
        let watchdogFired = Atomic<Bool>(false)

        init(pidfd: Int32, errorFile: URL) {
            self.pidfd = pidfd
            self.errorFile = errorFile
        }

        deinit {
            if pidfd >= 0 { close(pidfd) }
            try? FileManager.default.removeItem(at: errorFile)
        }
    }

    /// Starts `executable` (built next to the test bundle, or an absolute path) with `arguments`.
    ///
    /// A bound against a test hanging on a child that never writes: the child is killed after
    /// `watchdogSeconds` (120 s by default), its pipe ends and every blocking read returns. The watchdog signals through a pidfd,
    /// so it can never reach another process that was given the pid after this child was reaped.
    public init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, watchdogSeconds: Double = 120) throws {
        process = Process()
        process.executableURL = executable.hasPrefix("/") ? URL(fileURLWithPath: executable) : TestSupport.builtExecutable(named: executable)
        process.arguments = arguments
        if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let pipe = Pipe()
        process.standardOutput = pipe
        let errorFile = FileManager.default.temporaryDirectory.appendingPathComponent("child-stderr-\(UUID().uuidString)")
        guard FileManager.default.createFile(atPath: errorFile.path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: errorFile.path])
        }
        process.standardError = try FileHandle(forWritingTo: errorFile)
        output = pipe.fileHandleForReading
        try process.run()
        let resources = Resources(pidfd: ctest_pidfd_open(process.processIdentifier), errorFile: errorFile)
        self.resources = resources
        DispatchQueue.global().asyncAfter(deadline: .now() + watchdogSeconds) {
            if resources.pidfd >= 0, ctest_pidfd_send_signal(resources.pidfd, SIGKILL) == 0 {
                resources.watchdogFired.store(true, ordering: .relaxed)
            }
        }
    }

    /// What the child wrote to its standard error so far.
    public var errorOutput: String {
        (try? String(contentsOf: resources.errorFile, encoding: .utf8)) ?? ""
    }

    /// Whether the child ended through the test's SIGKILL, rather than by itself (an exit status,
    /// another signal) or by the 120 s watchdog (a child that hung).
    public var wasKilled: Bool {
        !process.isRunning && process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL
            && !resources.watchdogFired.load(ordering: .relaxed)
    }

    /// The complete lines so far, as integers (a half-written last line is left out).
    public var complete: [Int64] {
        text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().compactMap { Int64($0) }
    }

    /// Reads until `count` lines have arrived, a line says `until`, or the child ended. The
    /// blocking reads run on a thread of their own: a test waiting for a child must not hold one of
    /// the two cooperative threads every other test runs on.
    /// - Returns: the complete lines
    public mutating func lines(atLeast count: Int, until: Int64? = nil) async -> [Int64] {
        let output = self.output
        let sofar = text
        text = await TestSupport.offPool {
            var text = sofar
            func complete() -> [Int64] { text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().compactMap { Int64($0) } }
            while text.filter({ $0 == "\n" }).count < count {
                if let until, complete().last == until { break }
                let chunk = output.availableData
                if chunk.isEmpty { break }  // the child ended
                text += String(decoding: chunk, as: UTF8.self)
            }
            return text
        }
        return complete
    }

    /// SIGKILLs the child and drains what it wrote before the kill landed (those lines count).
    /// - Returns: all complete lines
    public mutating func kill() async -> [Int64] {
        if resources.pidfd >= 0 {
            _ = ctest_pidfd_send_signal(resources.pidfd, SIGKILL)
        } else if process.isRunning {
            _ = Glibc.kill(process.processIdentifier, SIGKILL)  // no pidfd (a kernel before 5.3)
        }
        return await waitForExit()
    }

    /// Waits for the child to end by itself, draining its output (on a thread of its own).
    /// - Returns: all complete lines
    public mutating func waitForExit() async -> [Int64] {
        let output = self.output, process = self.process
        let rest = await TestSupport.offPool {
            let data = output.readDataToEndOfFile()
            process.waitUntilExit()
            return String(decoding: data, as: UTF8.self)
        }
        text += rest
        return complete
    }
}

extension TestSupport {
    /// Runs blocking work (a pipe read, a process wait) on a new thread and awaits it, so the
    /// cooperative pool (two threads here, shared by every test running at once) stays free.
    public static func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: body()) }.start()
        }
    }

    /// ``offPool(_:)`` for work that throws.
    public static func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }
}

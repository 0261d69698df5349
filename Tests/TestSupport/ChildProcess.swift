import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A child process of the crash tests: an executable of this package that prints one integer per
/// line after each operation it has committed, until the test kills it.
public struct ChildProcess {
    public let process: Process
    private let output: FileHandle
    private var text = ""

    /// Starts `executable` (built next to the test bundle) with `arguments`.
    ///
    /// A bound against a test hanging on a child that never writes: the child is killed after
    /// 120 s, its pipe ends and every blocking read returns.
    public init(_ executable: String, _ arguments: [String]) throws {
        process = Process()
        process.executableURL = TestSupport.builtExecutable(named: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        output = pipe.fileHandleForReading
        try process.run()
        let pid = process.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + 120) { _ = Glibc.kill(pid, SIGKILL) }
    }

    /// The complete lines so far, as integers (a half-written last line is left out).
    public var complete: [Int64] {
        text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().compactMap { Int64($0) }
    }

    /// Reads until `count` lines have arrived, a line says `until`, or the child ended.
    /// - Returns: the complete lines
    public mutating func lines(atLeast count: Int, until: Int64? = nil) -> [Int64] {
        while text.filter({ $0 == "\n" }).count < count {
            if let until, complete.last == until { break }
            let chunk = output.availableData
            if chunk.isEmpty { break }  // the child ended
            text += String(decoding: chunk, as: UTF8.self)
        }
        return complete
    }

    /// SIGKILLs the child and drains what it wrote before the kill landed (those lines count).
    /// - Returns: all complete lines
    public mutating func kill() -> [Int64] {
        _ = Glibc.kill(process.processIdentifier, SIGKILL)
        text += String(decoding: output.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return complete
    }
}

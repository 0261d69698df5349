import ArgumentParser
import DuckDBClient
import Foundation
import RemoteData
import ResultFormat

#if canImport(Glibc)
import Glibc
#endif

/// `analytics-cache query --sql SQL [--format json|csv|arrow] [--database PATH] [--read-only] [--config FILE]`
struct QueryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Run SQL on DuckDB and write the result to stdout.",
        discussion: """
            Without --database the SQL runs on a fresh in-memory database. Several statements may be \
            separated by ';' — the last one's result is written. A statement without a result set \
            writes nothing to stdout and a summary to stderr. Errors go to stderr, exit code 1. \
            With --config, DuckDB opens with the file's extensions, remote credentials, attachments \
            and allowed locations, and each of its datasets is a view of the same name.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case json, csv, arrow
    }

    @Option(help: "The SQL to run.")
    var sql: String

    @Option(help: "Output format: json (array of row objects), csv (RFC 4180) or arrow (Arrow IPC stream).")
    var format: Format = .json

    @Option(help: "A DuckDB database file (created if missing unless --read-only).")
    var database: String?

    @Flag(help: "Open the database file read-only.")
    var readOnly = false

    @Option(help: "A configuration file (JSON): DuckDB extensions, remote access, datasets.")
    var config: String?

    func validate() throws {
        if readOnly && database == nil {
            throw ValidationError("--read-only needs --database")
        }
    }

    func run() async throws {
        let outcome: StatementOutcome
        do {
            var configuration = Database.Configuration()
            var views: [String] = []
            if let config {
                let file = try DataSourceConfiguration.load(from: URL(fileURLWithPath: config))
                configuration = try file.databaseConfiguration()
                views = try file.datasetViewStatements(temporary: true)
            }
            configuration.accessMode = readOnly ? .readOnly : .readWrite
            let db = try Database(path: database, configuration: configuration)
            let connection = try db.connect()
            for view in views { _ = try connection.execute(view) }
            outcome = try connection.execute(sql)
        } catch let error as DuckDBError {
            writeStderr("error: \(error.message)\n")
            throw ExitCode.failure
        } catch let error as DecodingError {
            writeStderr("error: \(config ?? ""): \(describe(error))\n")
            throw ExitCode.failure
        } catch {
            writeStderr("error: \(error)\n")
            throw ExitCode.failure
        }
        switch outcome {
        case .rows(let result):
            var bytes: [UInt8]
            switch format {
            case .json:
                bytes = JSONResultEncoder().encode(result)
                bytes.append(UInt8(ascii: "\n"))
            case .csv:
                bytes = CSVResultEncoder().encode(result)
            case .arrow:
                do {
                    bytes = try ArrowIPCWriter().encode(result)
                } catch {
                    writeStderr("error: \(error)\n")
                    throw ExitCode.failure
                }
            }
            writeStdout(bytes)
        case .changedRows(let n):
            writeStderr("\(n) row\(n == 1 ? "" : "s") changed\n")
        case .nothing:
            writeStderr("OK\n")
        }
    }
}

/// A decoding error as `key.path: what is wrong`.
func describe(_ error: DecodingError) -> String {
    func path(_ context: DecodingError.Context) -> String {
        context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().drop { $0 == "." }.description
    }
    switch error {
    case .keyNotFound(let key, let context): return "\(path(context)).\(key.stringValue): missing"
    case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
        return "\(path(context)): \(context.debugDescription)"
    @unknown default: return "\(error)"
    }
}

func writeStdout(_ bytes: [UInt8]) {
    bytes.withUnsafeBytes { buffer in
        guard let base = buffer.baseAddress else { return }
        var offset = 0
        while offset < buffer.count {
            let n = write(1, base + offset, buffer.count - offset)
            if n <= 0 { return }
            offset += n
        }
    }
}

func writeStderr(_ text: String) {
    var t = text
    t.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

import AnalyticsServer
import ArgumentParser
import Deployment
import DiskCache
import DuckDBClient
import EventLogCore
import EventProjection
import EventStore
import Foundation
import PostgresEventStore

/// `analytics-cache check-config FILE [--schema]`
struct CheckConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check a config file and print its dependency graph (query → tables → projections → event types).",
        discussion: """
            Every projection statement and query is prepared against a scratch in-memory DuckDB holding \
            the declared datasets and tables; statement kinds, written tables, payload fields and parameter \
            types are checked. Exit 0 when valid (the graph on stdout), 1 with every problem listed \
            (line: place: message) on stderr. --schema prints the file's JSON Schema instead.
            """)

    @Argument(help: "The config file (YAML or JSON).")
    var file: String?

    @Flag(help: "Print the config file's JSON Schema and exit.")
    var schema = false

    func run() async throws {
        if schema {
            print(DeploymentSchema.json)
            return
        }
        guard let file else { throw ValidationError("name the config file (or give --schema)") }
        let url = URL(fileURLWithPath: file)
        let config = DeploymentConfig.load(contentsOf: url)
        var check = ConfigCheck.run(config)
        if config.problems.isEmpty || !config.text.isEmpty {
            do { _ = try ServeSettings(contentsOf: url) } catch {
                let text = "\(error)"
                let place = text.split(separator: ":").first.map(String.init) ?? "the file"
                if !check.problems.contains(where: { $0.message == text }) {
                    check.problems.append(ConfigProblem(place: place, line: config.line(of: place), message: String(text.dropFirst(min(text.count, place.count + 2)))))
                }
            }
        }
        for warning in check.warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
        guard check.isValid else {
            FileHandle.standardError.write(Data("\(file): \(check.problems.count) problem(s)\n".utf8))
            for problem in check.problems { FileHandle.standardError.write(Data("\(file):\(problem)\n".utf8)) }
            throw ExitCode(1)
        }
        print("\(file) is valid: \(config.datasets.count) dataset(s), \(config.events.count) event type(s), \(config.projections.count) projection(s), \(config.queries.count) quer\(config.queries.count == 1 ? "y" : "ies")")
        for projection in config.projections {
            print("projection \(projection.name): writes \(projection.tables.map(\.name).joined(separator: ", ")) on \(config.eventTypes(of: projection).sorted().joined(separator: ", "))")
        }
        if !check.graphText.isEmpty { print(check.graphText) }
    }
}

/// `analytics-cache rebuild-projections [--config FILE] [--data-dir DIR] [--event-store URL]`
struct RebuildProjectionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild-projections",
        abstract: "Replay the whole event log into fresh projection tables (the server stopped).",
        discussion: """
            The tables are built beside the live ones and swapped in one transaction at the end, then \
            the events after the checkpoint are applied; the L2 cache of the data directory is emptied \
            (its results came from the old tables). For recovery, and for a projection changed while the \
            server was stopped (serve does the same by itself when it starts with an edited config). \
            A progress bar shows on a terminal.
            """)

    @Option(help: "The config file declaring the projections (default: the demo's).")
    var config: String?

    @Option(name: .customLong("data-dir"), help: "The server's data directory.")
    var dataDir = ".analytics-cache"

    @Option(name: .customLong("event-store"), help: "The event log, as serve takes it (default: events.sqlite in the data directory).")
    var eventStore: String?

    func run() async throws {
        let directory = URL(fileURLWithPath: dataDir, isDirectory: true)
        var domain: DeploymentConfig?
        if let config {
            let loaded = DeploymentConfig.load(contentsOf: URL(fileURLWithPath: config))
            let check = ConfigCheck.run(loaded)
            guard check.isValid else {
                throw ValidationError("\(config) is not valid:\n" + check.problems.map { "  \($0)" }.joined(separator: "\n"))
            }
            domain = loaded.projections.isEmpty && loaded.events.isEmpty && loaded.datasets.isEmpty ? nil : loaded
        }
        let file = directory.appendingPathComponent(domain == nil ? "demo.duckdb" : "analytics.duckdb").path
        guard FileManager.default.fileExists(atPath: file) else { throw ValidationError("no database at \(file): nothing to rebuild") }
        let database: Database
        do { database = try Database(path: file, configuration: domain?.databaseConfiguration ?? .init()) } catch {
            throw ValidationError("cannot open \(file) (is a server running on this data directory? stop it first): \(error)")
        }
        let writer = try DuckDBWriter(database: database)
        if let domain {
            try await writer.write { connection in for dataset in domain.datasets where !dataset.setupSQL.isEmpty { _ = try connection.execute(dataset.setupSQL) } }
        }
        let log: any EventLog
        var store: PostgresEventStore?
        if let eventStore, eventStore != "sqlite" {
            let postgres = try PostgresEventStore(configuration: .init(url: eventStore))
            store = postgres
            log = postgres
        } else {
            log = try SQLiteEventStore(path: directory.appendingPathComponent("events.sqlite").path)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            if let store { group.addTask { try await store.run() } }
            defer { group.cancelAll() }
            let projections = domain?.projectorProjections ?? DemoDomain.projections
            let projector = Projector(name: domain == nil ? DemoDomain.projectorName : "config", log: log, writer: writer, projections: projections)
            try await projector.setUp()
            let tables = Set(domain?.projectedTables ?? ["live_orders"])
            let bar = ProgressLine(enabled: isatty(STDERR_FILENO) == 1)
            let started = ContinuousClock.now
            let checkpoint = try await projector.rebuild(to: projections, tables: tables) { progress in
                bar.show("rebuilding \(tables.sorted().joined(separator: ", "))", done: progress.position, of: progress.target)
            }
            bar.finish()
            let end = try await projector.catchUp()
            // L2 (the config's cache.diskPath, else l2 in the data directory) is emptied before the
            // digest records the rebuild: a crash in between rebuilds and empties again.
            let settings = try config.map { try ServeSettings(contentsOf: URL(fileURLWithPath: $0)) }
            let l2 = settings?.diskPath ?? directory.appendingPathComponent("l2").path
            if FileManager.default.fileExists(atPath: l2) {
                let disk = try DiskCache(configuration: .init(path: l2))
                try await disk.removeAll()
            }
            if let domain { try await ProjectionState.store(domain.projectionDigest, projector: projector.name, writer: writer) }
            print("rebuilt \(tables.sorted().joined(separator: ", ")) through position \(checkpoint), applied through \(end), in \(started.duration(to: .now)); L2 emptied")
        }
        await writer.shutdown()
    }
}

/// A one-line progress bar on a terminal; nothing otherwise.
final class ProgressLine: Sendable {
    let enabled: Bool
    init(enabled: Bool) { self.enabled = enabled }

    func show(_ what: String, done: Int64, of total: Int64) {
        guard enabled else { return }
        let width = 30
        let filled = total > 0 ? Int(Double(done) / Double(total) * Double(width)) : width
        let bar = String(repeating: "#", count: min(width, filled)) + String(repeating: ".", count: max(0, width - filled))
        FileHandle.standardError.write(Data("\r\(what) [\(bar)] \(done)/\(total)".utf8))
    }

    func finish() { if enabled { FileHandle.standardError.write(Data("\n".utf8)) } }
}

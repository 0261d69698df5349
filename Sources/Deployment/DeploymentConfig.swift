import AnalyticsCache
import DuckDBClient
import Foundation
import Yams

/// A deployment declared in one config file (YAML or JSON, the same keys): the datasets, the event
/// types and their payload schemas, the projections that turn events into DuckDB rows, and the
/// queries served over them — no Swift. `server`, `tenancy` and `cache` sit in the same file and
/// are read by the server's settings.
///
/// Parsing collects every problem it finds (each with its place, `projections[1].statements.SignedUp[0]`,
/// and its line in the file); ``ConfigCheck`` then checks the SQL against a scratch DuckDB.
public struct DeploymentConfig: Sendable {
    /// A file (or glob) exposed as a view of the same name, or a DuckDB file attached under it.
    public struct Dataset: Sendable, Equatable {
        /// How the files are read.
        public enum Format: String, Sendable, Equatable, CaseIterable { case parquet, csv, json, duckdb }
        /// The view's (or the attached catalog's) name.
        public var name: String
        /// The path or glob, absolute (relative ones are resolved against the config's directory).
        public var path: String
        /// How it is read.
        public var format: Format

        /// What the database must let queries read for it: the file, or for a glob the directory
        /// before its first wildcard (with its trailing `/`, as ``DuckDBClient/ExternalAccess`` wants).
        public var readablePath: String {
            let components = path.split(separator: "/", omittingEmptySubsequences: false)
            guard let wild = components.firstIndex(where: { $0.contains(where: { "*?[{".contains($0) }) }) else { return path }
            return components[..<wild].joined(separator: "/") + "/"
        }

        /// The statement that exposes it on a DuckDB connection (the path is the operator's, quoted
        /// as a literal; the name is checked to be an identifier).
        public var setupSQL: String {
            let literal = "'" + path.replacingOccurrences(of: "'", with: "''") + "'"
            switch format {
            case .parquet: return "CREATE OR REPLACE VIEW \"\(name)\" AS SELECT * FROM read_parquet(\(literal))"
            case .csv: return "CREATE OR REPLACE VIEW \"\(name)\" AS SELECT * FROM read_csv(\(literal))"
            case .json: return "CREATE OR REPLACE VIEW \"\(name)\" AS SELECT * FROM read_json(\(literal))"
            case .duckdb: return ""  // attached when the database opens (see ``attachments``)
            }
        }
    }

    /// One event type.
    public struct EventType: Sendable, Equatable {
        /// Its name (the `type` of posted events).
        public var name: String
        /// Its payload's schema.
        public var payload: PayloadSchema
    }

    /// One table a projection owns: its name and column definitions.
    public struct Table: Sendable, Equatable {
        /// Its name (lower case).
        public var name: String
        /// The column definitions, as inside `CREATE TABLE name ( … )`.
        public var columns: String
        /// `CREATE TABLE IF NOT EXISTS name (columns)`.
        public var createSQL: String { "CREATE TABLE IF NOT EXISTS \"\(name)\" (\(columns))" }
    }

    /// A projection: the tables it owns and, per event type, the statements run for each event.
    public struct ProjectionConfig: Sendable, Equatable {
        /// Its name (for logs and the dependency graph).
        public var name: String
        /// The tables it owns (and writes).
        public var tables: [Table]
        /// Per event type, in file order: the statements, in order.
        public var handlers: [(eventType: String, statements: [StatementTemplate], place: String)]

        public static func == (a: Self, b: Self) -> Bool {
            a.name == b.name && a.tables == b.tables
                && a.handlers.map { "\($0.eventType)\u{0}" + $0.statements.map(\.text).joined(separator: "\u{0}") }
                    == b.handlers.map { "\($0.eventType)\u{0}" + $0.statements.map(\.text).joined(separator: "\u{0}") }
        }
    }

    /// `timeZone`: DuckDB's time zone (default UTC).
    public var timeZone: String?
    /// `datasets`, by name order.
    public var datasets: [Dataset] = []
    /// `events`, by name.
    public var events: [String: EventType] = [:]
    /// `projections`, in file order.
    public var projections: [ProjectionConfig] = []
    /// `queries`, in file order.
    public var queries: [QueryDefinition] = []
    /// Each place's line in the file (1-based), for messages.
    public var lines: [String: Int] = [:]
    /// What is wrong, every problem found (empty: the file parses and is consistent).
    public var problems: [ConfigProblem] = []
    /// The text it was read from.
    public var text: String = ""

    /// The top-level keys this type reads (the server's settings read `server`, `tenancy`, `cache`).
    public static let sections: Set<String> = ["timeZone", "datasets", "events", "projections", "queries"]

    /// Reads a config file; relative dataset paths are relative to its directory.
    /// - Parameter url: the file
    /// - Returns: the config, whose ``problems`` list what is wrong
    public static func load(contentsOf url: URL) -> DeploymentConfig {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            var config = DeploymentConfig()
            config.problems = [ConfigProblem(place: url.path, line: nil, message: "cannot read the file: \(error.localizedDescription)")]
            return config
        }
        return DeploymentConfig(text: text, directory: url.deletingLastPathComponent())
    }

    init() {}

    /// Reads a config document.
    /// - Parameters:
    ///   - text: the document, YAML or JSON
    ///   - directory: what relative dataset paths are relative to
    public init(text: String, directory: URL) {
        self.text = text
        let tree: Any?
        do {
            tree = try ConfigDocument.load(yaml: text)
            if let node = try Yams.compose(yaml: text) { Self.index(node, path: "", into: &lines) }
        } catch {
            problems.append(ConfigProblem(place: "the file", line: nil, message: "\(error)"))
            return
        }
        guard let root = tree as? [String: Any] else {
            problems.append(ConfigProblem(place: "the file", line: nil, message: "must be a mapping of sections"))
            return
        }
        var reader = SectionReader(lines: lines)
        reader.refuseUnknown(root, Self.sections.union(["server", "tenancy", "cache"]), "")
        if let zone = root["timeZone"] {
            if let zone = zone as? String, TimeZone(identifier: zone) != nil { timeZone = zone } else {
                reader.fail("timeZone", "an IANA time zone name (like Europe/Paris) is required")
            }
        }
        datasets = reader.datasets(root["datasets"], directory: directory)
        events = reader.events(root["events"])
        projections = reader.projections(root["projections"], events: events)
        if root["queries"] != nil {
            do {
                queries = try QueryCatalog(yaml: text).queries
                var seen = Set<String>()
                for (index, query) in queries.enumerated() where !seen.insert(query.id).inserted {
                    reader.fail("queries[\(index)].id", "duplicate query id '\(query.id)'")
                }
            } catch {
                reader.fail("queries", "\(error)")
            }
        }
        problems = reader.problems
    }

    /// Maps each place of the document to the line it starts on.
    static func index(_ node: Node, path: String, into lines: inout [String: Int]) {
        if let line = node.mark?.line, !path.isEmpty { lines[path] = lines[path] ?? line }
        switch node {
        case .mapping(let mapping):
            for (key, value) in mapping {
                let name = key.string ?? ""
                let place = path.isEmpty ? name : path + "." + name
                if let line = key.mark?.line { lines[place] = line }
                index(value, path: place, into: &lines)
            }
        case .sequence(let sequence):
            for (i, item) in sequence.enumerated() { index(item, path: "\(path)[\(i)]", into: &lines) }
        case .scalar, .alias:
            break
        }
    }

    /// The line of `place`, or of the nearest enclosing place that has one.
    public func line(of place: String) -> Int? { Self.line(of: place, in: lines) }

    static func line(of place: String, in lines: [String: Int]) -> Int? {
        var place = place
        while !place.isEmpty {
            if let line = lines[place] { return line }
            guard let cut = place.lastIndex(where: { $0 == "." || $0 == "[" }) else { break }
            place = String(place[..<cut])
        }
        return nil
    }

    /// The database access the datasets need: only their files and directories (nil: no dataset,
    /// no file access beyond DuckDB's default).
    public var externalAccess: ExternalAccess? {
        datasets.isEmpty ? nil : .only(datasets.map(\.readablePath))
    }

    /// The `format: duckdb` datasets, attached read-only when the database opens (DuckDB allows no
    /// ATTACH once external access is limited).
    public var attachments: [AttachedDatabase] {
        datasets.filter { $0.format == .duckdb }.map { AttachedDatabase(alias: $0.name, location: $0.path, kind: .duckdb, readOnly: true) }
    }

    /// The database configuration the datasets need (external access, attachments, time zone).
    public var databaseConfiguration: Database.Configuration {
        Database.Configuration(attachments: attachments, externalAccess: externalAccess ?? .unrestricted, timeZone: timeZone ?? "UTC")
    }

    /// The event types a projection handles.
    public func eventTypes(of projection: ProjectionConfig) -> Set<String> { Set(projection.handlers.map(\.eventType)) }
}

/// One problem of a config file: where, and what.
public struct ConfigProblem: Sendable, Equatable, CustomStringConvertible {
    /// The place (`projections[0].statements.PageViewed[1]`).
    public var place: String
    /// Its line in the file (1-based), when known.
    public var line: Int?
    /// What is wrong.
    public var message: String

    /// Creates a problem.
    public init(place: String, line: Int?, message: String) {
        self.place = place
        self.line = line
        self.message = message
    }

    public var description: String { (line.map { "line \($0): " } ?? "") + "\(place): \(message)" }
}

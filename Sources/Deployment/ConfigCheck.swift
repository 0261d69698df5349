import AnalyticsCache
import DuckDBClient
import Foundation

/// Checks a ``DeploymentConfig`` against a scratch in-memory DuckDB holding its datasets and
/// declared tables: every projection statement and query is prepared there (unknown tables,
/// columns and functions are found), statement kinds are checked (projections INSERT, UPDATE or
/// DELETE their own tables; queries are one SELECT), parameter types are compared with what DuckDB
/// infers, and the dependency graph — query → tables → projections → event types — is derived.
public struct ConfigCheck: Sendable {
    /// One query's place in the graph.
    public struct QueryNode: Sendable, Equatable {
        /// The query's id.
        public var id: String
        /// The tables and views it reads.
        public var tables: [String]
        /// Per table it reads that a projection owns: the projection and its event types.
        public var projections: [(table: String, projection: String, eventTypes: [String])]
        /// The datasets its keys carry the versions of.
        public var datasets: [String]

        public static func == (a: Self, b: Self) -> Bool {
            a.id == b.id && a.tables == b.tables && a.datasets == b.datasets
                && a.projections.map { "\($0.table)/\($0.projection)/\($0.eventTypes)" } == b.projections.map { "\($0.table)/\($0.projection)/\($0.eventTypes)" }
        }
    }

    /// Every problem: the parser's, then the scratch database's.
    public var problems: [ConfigProblem]
    /// Things that work but are probably not meant (an event type no projection handles, …).
    public var warnings: [String]
    /// The dependency graph, query by query.
    public var graph: [QueryNode]

    /// Whether the config can be deployed.
    public var isValid: Bool { problems.isEmpty }

    /// Checks `config`.
    /// - Parameters:
    ///   - config: a parsed config (its own problems are kept)
    ///   - queries: whether to check the queries too (false for a config of queries over another
    ///     database, the demo's: the server's registration checks those)
    /// - Returns: the report
    public static func run(_ config: DeploymentConfig, queries checksQueries: Bool = true) -> ConfigCheck {
        var check = ConfigCheck(problems: config.problems, warnings: [], graph: [])
        let database: Database
        let connection: Connection
        do {
            // As restricted as the live database: a statement reading a file the config does not
            // declare fails here, not in production.
            var configuration = config.databaseConfiguration
            configuration.externalAccess = config.externalAccess ?? .only([])
            database = try Database(configuration: configuration)
            connection = try database.connect()
        } catch {
            check.problems.append(ConfigProblem(place: "the file", line: nil, message: "cannot open a scratch DuckDB: \(error)"))
            return check
        }
        func fail(_ place: String, _ message: String) {
            check.problems.append(ConfigProblem(place: place, line: config.line(of: place), message: message))
        }
        for dataset in config.datasets where !dataset.setupSQL.isEmpty {
            do { _ = try connection.execute(dataset.setupSQL) } catch { fail("datasets." + dataset.name, "cannot read \(dataset.path): \(error)") }
        }
        var owners: [String: (projection: String, eventTypes: [String])] = [:]
        for (index, projection) in config.projections.enumerated() {
            for table in projection.tables {
                owners[table.name] = (projection.name, config.eventTypes(of: projection).sorted())
                do { _ = try connection.execute(table.createSQL) } catch {
                    fail("projections[\(index)].tables.\(table.name)", "\(error)")
                }
            }
        }
        for projection in config.projections {
            let owned = Set(projection.tables.map(\.name))
            for handler in projection.handlers {
                let schema = config.events[handler.eventType]?.payload
                for (i, template) in handler.statements.enumerated() {
                    let place = "\(handler.place)[\(i)]"
                    Self.statement(template, place: place, schema: schema, eventType: handler.eventType, owned: owned,
                                    owners: owners, connection: connection, fail: fail)
                }
            }
        }
        let datasetNames = config.datasets.map(\.name)
        for (index, query) in config.queries.enumerated() where checksQueries {
            let place = "queries[\(index)]"
            let statement: PreparedStatement
            do { statement = try connection.prepare(query.sql) } catch {
                fail(place + ".sql", "query \(query.id): \(error)")
                continue
            }
            guard statement.statementType == .select else {
                fail(place + ".sql", "query \(query.id) must be one SELECT, not \(statement.statementType.name)")
                continue
            }
            let kinds = statement.parameterKinds
            let scoped = query.scope != .global
            let expected = (scoped ? 1 : 0) + query.parameters.count
            if kinds.count != expected {
                fail(place + ".sql", "query \(query.id) has \(kinds.count) placeholder(s), but \(scoped ? "its scope value and " : "")\(query.parameters.count) parameter(s) are declared")
            } else {
                for (offset, spec) in query.parameters.enumerated() where !Self.compatible(spec.kind, kinds[offset + (scoped ? 1 : 0)]) {
                    fail(place + ".parameters", "query \(query.id): parameter \(spec.name) is declared \(spec.kind.rawValue), but DuckDB expects \(kinds[offset + (scoped ? 1 : 0)]) there")
                }
            }
            let tables = (try? connection.tableNames(in: query.sql)) ?? []
            if let unknown = query.datasets?.first(where: { !datasetNames.contains($0) }) {
                fail(place + ".datasets", "query \(query.id): no dataset '\(unknown)' is declared")
            }
            check.graph.append(QueryNode(
                id: query.id, tables: tables,
                projections: tables.compactMap { table in owners[table].map { (table, $0.projection, $0.eventTypes) } },
                datasets: query.datasets ?? datasetNames))
        }
        let handled = Set(config.projections.flatMap { config.eventTypes(of: $0) })
        for type in config.events.keys.sorted() where !handled.contains(type) {
            check.warnings.append("event type \(type) is accepted but no projection handles it")
        }
        let read = Set(check.graph.flatMap(\.tables))
        for table in owners.keys.sorted() where !read.contains(table) {
            check.warnings.append("table \(table) (projection \(owners[table]?.projection ?? "")) is read by no query")
        }
        return check
    }

    /// Checks one projection statement.
    static func statement(
        _ template: StatementTemplate, place: String, schema: PayloadSchema?, eventType: String, owned: Set<String>,
        owners: [String: (projection: String, eventTypes: [String])], connection: Connection, fail: (String, String) -> Void
    ) {
        for case .payload(let path) in template.parameters where schema != nil && schema?.field(at: path) == nil {
            fail(place, "$payload.\(path.joined(separator: ".")): event type \(eventType) declares no such payload field")
        }
        let prepared: PreparedStatement
        do { prepared = try connection.prepare(template.sql) } catch {
            fail(place, "\(error)")
            return
        }
        guard [.insert, .update, .delete].contains(prepared.statementType) else {
            fail(place, "a projection statement must be an INSERT, UPDATE or DELETE, not \(prepared.statementType.name)")
            return
        }
        guard let table = template.writtenTable else {
            fail(place, "cannot tell which table this statement writes: start it with INSERT INTO, UPDATE or DELETE FROM and the table's name")
            return
        }
        guard owned.contains(table) else {
            if let owner = owners[table] {
                fail(place, "writes table \(table), which projection '\(owner.projection)' owns: a projection writes only the tables it declares")
            } else {
                fail(place, "writes table \(table), which this projection does not declare under tables")
            }
            return
        }
        let kinds = prepared.parameterKinds
        guard kinds.count == template.parameters.count else {
            fail(place, "DuckDB counts \(kinds.count) placeholder(s) but \(template.parameters.count) named parameter(s) were found: write parameters only as $payload.…, $aggregate_id, … (no ? or $1)")
            return
        }
        // A rebuild resolves the statements' unqualified names to its own schema first; a name
        // qualified with `main.` would reach the live tables during the replay.
        let qualified = template.qualifiedNames
        if let name = qualified.first {
            fail(place, "\(name): write table names unqualified in projection statements (a rebuild builds the tables in a schema of its own)")
            return
        }
        for (offset, source) in template.parameters.enumerated() where offset < kinds.count {
            let type: PayloadSchema.FieldType? = switch source {
            case .payload(let path): schema?.field(at: path)?.type
            case .metadata, .aggregateID, .aggregateType, .eventType: .string
            case .position, .version: .integer
            case .occurredAt: .timestamp
            }
            if let type, !Self.compatible(type, kinds[offset]) {
                fail(place, "\(source) is \(type.rawValue == "integer" ? "an" : "a") \(type.rawValue), but DuckDB expects \(kinds[offset]) there")
            }
        }
    }

    /// Whether a payload field of `type` may be bound where DuckDB expects `kind` (no lossy or
    /// surprising conversion: a string into a number, a number into text, …).
    public static func compatible(_ type: PayloadSchema.FieldType, _ kind: ParameterKind) -> Bool {
        switch (type, kind) {
        case (_, .unknown): true
        case (.string, .text), (.string, .uuid), (.string, .other): true
        case (.integer, .integer), (.integer, .decimal), (.integer, .floating): true
        case (.number, .decimal), (.number, .floating): true
        case (.boolean, .boolean): true
        case (.timestamp, .timestamp), (.timestamp, .date): true  // CAST($occurred_at AS DATE) is meant
        case (.date, .date), (.date, .timestamp): true
        case (.object, .text), (.array, .text), (.object, .other), (.array, .other): true
        default: false
        }
    }

    /// Whether a query parameter of `kind` may be bound where DuckDB expects `expected`.
    public static func compatible(_ kind: ParameterSpec.Kind, _ expected: ParameterKind) -> Bool {
        switch (kind, expected) {
        case (_, .unknown): true
        case (.text, .text), (.text, .uuid), (.text, .other): true
        case (.integer, .integer), (.integer, .decimal), (.integer, .floating): true
        case (.double, .decimal), (.double, .floating): true
        case (.boolean, .boolean): true
        case (.date, .date), (.date, .timestamp): true
        default: false
        }
    }

    /// The graph as `check-config` prints it: each query, the tables it reads, which projection
    /// writes them on which events, and the datasets whose versions its keys carry.
    public var graphText: String {
        var lines: [String] = []
        for node in graph {
            lines.append("query \(node.id)")
            for table in node.tables {
                if let edge = node.projections.first(where: { $0.table == table }) {
                    lines.append("  reads \(table) <- projection \(edge.projection) <- events \(edge.eventTypes.joined(separator: ", "))")
                } else {
                    lines.append("  reads \(table) (not projected: a dataset or a table of the database)")
                }
            }
            if node.tables.isEmpty { lines.append("  reads no table DuckDB can list: every event invalidates it") }
            if !node.datasets.isEmpty { lines.append("  keys carry the versions of datasets: \(node.datasets.joined(separator: ", "))") }
        }
        return lines.joined(separator: "\n")
    }
}

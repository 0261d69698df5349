import Foundation
import Yams

/// Queries declared in a JSON or YAML file (the same fields), for deployments that register
/// queries without code:
///
/// ```json
/// { "queries": [ {
///     "id": "sales-by-day", "scope": "tenant",
///     "sql": "SELECT day, sum(amount) AS total FROM sales WHERE tenant = ? AND day >= ? AND day < ? GROUP BY day",
///     "parameters": [ { "name": "from", "type": "date" },
///                     { "name": "to", "type": "date" },
///                     { "name": "limit", "type": "integer", "default": "100", "min": 1, "max": 1000 },
///                     { "name": "region", "type": "text", "oneOf": ["eu", "us"], "maxLength": 8 } ],
///     "expiry": { "window": "day", "timeZone": "Europe/Paris" },
///     "dependencies": { "adding": ["events/Region/{region}"] },
///     "eventTime": { "from": "from", "to": "to" },
///     "maxCachedBytes": 1048576,
///     "datasets": ["sales_parquet"] } ] }
/// ```
///
/// `expiry` is one of `{"ttl": seconds}`, `{"window": "minute|hour|day|week|month", "timeZone": …}`,
/// `{"untilParameter": name}`,
/// `{"adaptive": {"factor": k, "min": seconds, "max": seconds}}` (absent: until invalidated);
/// `dependencies` one of `{"only": [expressions]}` or `{"adding": [expressions]}` (absent: derived);
/// parameter defaults and `oneOf` values are written as request text and parsed by the type.
public struct QueryCatalog: Sendable {
    /// The definitions, in file order.
    public var queries: [QueryDefinition]

    /// Reads a catalog.
    /// - Parameter data: the JSON document
    /// - Throws: ``QueryCatalogError`` naming the query and the field that is wrong
    public init(json data: Data) throws {
        let file: File
        do {
            file = try JSONDecoder().decode(File.self, from: data)
            try Self.refuseUnknownKeys(in: try JSONSerialization.jsonObject(with: data))
        } catch let error as QueryCatalogError {
            throw error
        } catch {
            throw QueryCatalogError(message: "the query catalog is not valid: \(error)")
        }
        queries = try file.queries.enumerated().map { index, query in try query.definition(index: index) }
    }

    /// Reads a catalog written in YAML: the same fields as JSON.
    /// - Parameter yaml: the YAML document
    /// - Throws: ``QueryCatalogError`` naming the query and the field that is wrong
    public init(yaml: String) throws {
        let file: File
        do {
            // First: a document Yams would trap on is refused, and misspelt keys are named.
            try Self.refuseUnknownKeys(in: try ConfigDocument.load(yaml: yaml))
            file = try YAMLDecoder().decode(File.self, from: yaml)
        } catch let error as QueryCatalogError {
            throw error
        } catch let error as ConfigDocumentError {
            throw QueryCatalogError(message: "the query catalog is not valid: \(error)")
        } catch {
            throw QueryCatalogError(message: "the query catalog is not valid: \(error)")
        }
        queries = try file.queries.enumerated().map { index, query in try query.definition(index: index) }
    }

    /// Reads a catalog file: YAML when its name ends in `.yaml` or `.yml`, JSON otherwise.
    /// - Parameter url: the file
    /// - Throws: ``QueryCatalogError`` (also when the file cannot be read)
    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw QueryCatalogError(message: "cannot read the query catalog \(url.path): \(error.localizedDescription)")
        }
        if ["yaml", "yml"].contains(url.pathExtension.lowercased()) {
            guard let text = String(data: data, encoding: .utf8) else {
                throw QueryCatalogError(message: "the query catalog \(url.path) is not UTF-8")
            }
            try self.init(yaml: text)
        } else {
            try self.init(json: data)
        }
    }

    /// The keys each place of a query allows: a misspelt key (`expires`, `timezone`, `maximum`)
    /// would otherwise be dropped by decoding, and its setting silently not applied.
    public static let knownKeys: [String: Set<String>] = [
        "query": ["id", "sql", "scope", "parameters", "expiry", "dependencies", "eventTime", "maxCachedBytes", "datasets"],
        "parameter": ["name", "type", "default", "min", "max", "oneOf", "maxLength"],
        "expiry": ["ttl", "window", "timeZone", "adaptive", "untilParameter"],
        "adaptive": ["factor", "min", "max"],
        "dependencies": ["only", "adding"],
        "eventTime": ["from", "to"],
    ]

    /// Refuses unknown keys inside `queries` (other top-level sections belong to whoever reads the
    /// rest of the file).
    /// - Parameter tree: the parsed document (``ConfigDocument/load(yaml:)`` or JSONSerialization's)
    /// - Throws: ``QueryCatalogError`` naming the first unknown key and its place
    public static func refuseUnknownKeys(in tree: Any?) throws {
        guard let root = tree as? [String: Any], let queries = root["queries"] as? [Any] else { return }
        func check(_ value: Any?, _ kind: String, _ path: String) throws {
            guard let mapping = value as? [String: Any], let known = knownKeys[kind] else { return }
            do { try ConfigDocument.refuseUnknownKeys(mapping, known: known, at: path) } catch {
                throw QueryCatalogError(message: "the query catalog is not valid: \(error)")
            }
        }
        for (index, query) in queries.enumerated() {
            let path = "queries[\(index)]"
            try check(query, "query", path)
            guard let query = query as? [String: Any] else { continue }
            for (i, parameter) in ((query["parameters"] as? [Any]) ?? []).enumerated() {
                try check(parameter, "parameter", "\(path).parameters[\(i)]")
            }
            try check(query["expiry"], "expiry", path + ".expiry")
            try check((query["expiry"] as? [String: Any])?["adaptive"], "adaptive", path + ".expiry.adaptive")
            try check(query["dependencies"], "dependencies", path + ".dependencies")
            try check(query["eventTime"], "eventTime", path + ".eventTime")
        }
    }

    private struct File: Decodable { var queries: [Query] }

    private struct Query: Decodable {
        struct Parameter: Decodable {
            var name: String
            var type: ParameterSpec.Kind
            var `default`: String?
            var min: Double?
            var max: Double?
            var oneOf: [String]?
            var maxLength: Int?
        }

        struct Expiry: Decodable {
            struct Adaptive: Decodable { var factor: Double; var min: Double; var max: Double }
            var ttl: Double?
            var window: CalendarWindow.Unit?
            var timeZone: String?
            var adaptive: Adaptive?
            var untilParameter: String?
        }

        struct Dependencies: Decodable { var only: [String]?; var adding: [String]? }
        struct EventTime: Decodable { var from: String; var to: String }

        var id: String
        var sql: String
        var scope: QueryScope?
        var parameters: [Parameter]?
        var expiry: Expiry?
        var dependencies: Dependencies?
        var eventTime: EventTime?
        var maxCachedBytes: Int?
        var datasets: [String]?

        func definition(index: Int) throws -> QueryDefinition {
            func fail(_ what: String) -> QueryCatalogError { QueryCatalogError(message: "query \(index) (\(id)): \(what)") }
            var specs: [ParameterSpec] = []
            for parameter in parameters ?? [] {
                let bare = ParameterSpec(parameter.name, parameter.type)
                let rule: ParameterSpec.Rule
                if let oneOf = parameter.oneOf {
                    rule = .oneOf(try oneOf.map { text in
                        do { return try bare.parse(text) } catch { throw fail("parameter \(parameter.name): oneOf value '\(text)': \(error)") }
                    })
                } else if parameter.min != nil || parameter.max != nil {
                    rule = .range(min: parameter.min, max: parameter.max)
                } else if let limit = parameter.maxLength {
                    rule = .maxLength(limit)
                } else {
                    rule = .any
                }
                var spec = ParameterSpec(parameter.name, parameter.type, rule: rule)
                if let text = parameter.default {
                    do { spec.defaultValue = try spec.parse(text) } catch { throw fail("parameter \(parameter.name): default: \(error)") }
                }
                specs.append(spec)
            }
            let expiryPolicy: ExpiryPolicy
            switch (expiry?.ttl, expiry?.window, expiry?.adaptive) {
            case (nil, nil, nil) where expiry?.untilParameter != nil: expiryPolicy = .untilParameter(expiry?.untilParameter ?? "")
            case (nil, nil, nil): expiryPolicy = .never
            case (let ttl?, nil, nil) where ttl > 0: expiryPolicy = .ttl(.milliseconds(Int64(ttl * 1000)))
            case (nil, let unit?, nil): expiryPolicy = .window(CalendarWindow(unit, timeZone: expiry?.timeZone ?? "UTC"))
            case (nil, nil, let a?) where a.factor > 0 && a.min >= 0 && a.max >= a.min:
                expiryPolicy = .adaptive(factor: a.factor, min: .milliseconds(Int64(a.min * 1000)), max: .milliseconds(Int64(a.max * 1000)))
            default: throw fail("expiry must be one of ttl (> 0 seconds), window, or adaptive (factor > 0, 0 <= min <= max)")
            }
            let dependencyPolicy: DependencyPolicy
            switch (dependencies?.only, dependencies?.adding) {
            case (nil, nil): dependencyPolicy = .derived
            case (let only?, nil): dependencyPolicy = .only(only)
            case (nil, let adding?): dependencyPolicy = .adding(adding)
            default: throw fail("dependencies take only or adding, not both")
            }
            return QueryDefinition(
                id: id, sql: sql, parameters: specs, scope: scope ?? .global, expiry: expiryPolicy, dependencies: dependencyPolicy,
                maxCachedBytes: maxCachedBytes ?? 64 << 20, eventTime: eventTime.map { EventTimeRange(from: $0.from, to: $0.to) },
                datasets: datasets)
        }
    }
}

/// A query catalog that cannot be used.
public struct QueryCatalogError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

extension AnalyticsCache {
    /// Registers every query of a catalog (see ``QueryCatalog``), in order; stops at the first that
    /// cannot be registered.
    /// - Parameter catalog: the queries
    /// - Throws: what ``register(_:)`` throws, for the first failing query
    public func register(_ catalog: QueryCatalog) async throws {
        for query in catalog.queries { try await register(query) }
    }
}

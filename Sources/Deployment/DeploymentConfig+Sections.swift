import Foundation

/// Reads the `datasets`, `events` and `projections` sections, collecting every problem.
struct SectionReader {
    let lines: [String: Int]
    var problems: [ConfigProblem] = []

    init(lines: [String: Int]) { self.lines = lines }

    mutating func fail(_ place: String, _ message: String) {
        problems.append(ConfigProblem(place: place, line: DeploymentConfig.line(of: place, in: lines), message: message))
    }

    mutating func mapping(_ value: Any?, _ place: String) -> [String: Any]? {
        guard let value else { return nil }
        guard let mapping = value as? [String: Any] else {
            fail(place, "a mapping is required")
            return nil
        }
        return mapping
    }

    mutating func refuseUnknown(_ mapping: [String: Any], _ known: Set<String>, _ place: String) {
        for key in mapping.keys.sorted() where !known.contains(key) {
            fail(place.isEmpty ? key : place + "." + key, "unknown key (known: \(known.sorted().joined(separator: ", ")))")
        }
    }

    /// A name usable unquoted in SQL and in URLs: letters, digits and `_`, not starting with a digit.
    static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil)) }
    }

    mutating func datasets(_ value: Any?, directory: URL) -> [DeploymentConfig.Dataset] {
        guard let section = mapping(value, "datasets") else { return [] }
        var result: [DeploymentConfig.Dataset] = []
        for name in section.keys.sorted() {
            let place = "datasets." + name
            guard Self.isIdentifier(name) else {
                fail(place, "a dataset name must be letters, digits and '_' (it becomes a view's name)")
                continue
            }
            var path: String?
            var format: DeploymentConfig.Dataset.Format?
            if let text = section[name] as? String {
                path = text
            } else if let spec = mapping(section[name], place) {
                refuseUnknown(spec, ["path", "format"], place)
                path = spec["path"] as? String
                if path == nil { fail(place + ".path", "a path or glob is required") }
                if let raw = spec["format"] {
                    format = (raw as? String).flatMap(DeploymentConfig.Dataset.Format.init(rawValue:))
                    if format == nil { fail(place + ".format", "one of parquet, csv, json, duckdb is required") }
                }
            } else {
                continue
            }
            guard let path, !path.isEmpty else { continue }
            let absolute = path.hasPrefix("/") ? path : directory.appendingPathComponent(path).path
            let ext = (path as NSString).pathExtension.lowercased()
            let inferred: DeploymentConfig.Dataset.Format? = switch ext {
            case "parquet": .parquet
            case "csv", "tsv": .csv
            case "json", "jsonl", "ndjson": .json
            case "duckdb", "db": .duckdb
            default: nil
            }
            guard let chosen = format ?? inferred else {
                fail(place, "cannot tell the format of '\(path)' from its extension: add format: parquet|csv|json|duckdb")
                continue
            }
            result.append(DeploymentConfig.Dataset(name: name, path: absolute, format: chosen))
        }
        return result
    }

    mutating func events(_ value: Any?) -> [String: DeploymentConfig.EventType] {
        guard let section = mapping(value, "events") else { return [:] }
        var result: [String: DeploymentConfig.EventType] = [:]
        for name in section.keys.sorted() {
            let place = "events." + name
            guard !name.isEmpty, name.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil || "_-.".unicodeScalars.contains($0)) }) else {
                fail(place, "an event type must be letters, digits, '_', '-' or '.'")
                continue
            }
            var fields: [String: PayloadSchema.Field] = [:]
            if section[name] is NSNull || section[name] == nil {
                // No payload fields declared.
            } else if let spec = mapping(section[name], place) {
                refuseUnknown(spec, ["payload"], place)
                if let payload = mapping(spec["payload"], place + ".payload") { fields = self.fields(payload, place + ".payload") }
            } else {
                continue
            }
            result[name] = DeploymentConfig.EventType(name: name, payload: PayloadSchema(fields: fields))
        }
        return result
    }

    /// `name: type` (a trailing `?` makes it optional) or `name: {type, required, fields}`.
    mutating func fields(_ mapping: [String: Any], _ place: String) -> [String: PayloadSchema.Field] {
        var result: [String: PayloadSchema.Field] = [:]
        let types = PayloadSchema.FieldType.allCases.map(\.rawValue).joined(separator: ", ")
        for name in mapping.keys.sorted() {
            let here = place + "." + name
            guard Self.isIdentifier(name) else {
                fail(here, "a field name must be letters, digits and '_' (it is named in $payload.\(name))")
                continue
            }
            if var text = mapping[name] as? String {
                let optional = text.hasSuffix("?")
                if optional { text.removeLast() }
                guard let type = PayloadSchema.FieldType(rawValue: text) else {
                    fail(here, "unknown type '\(text)' (known: \(types); a trailing ? makes a field optional)")
                    continue
                }
                result[name] = PayloadSchema.Field(type, required: !optional)
            } else if let spec = self.mapping(mapping[name], here) {
                refuseUnknown(spec, ["type", "required", "fields"], here)
                guard let raw = spec["type"] as? String, let type = PayloadSchema.FieldType(rawValue: raw) else {
                    fail(here + ".type", "one of \(types) is required")
                    continue
                }
                let required = spec["required"] as? Bool ?? true
                if spec["required"] != nil, !(spec["required"] is Bool) { fail(here + ".required", "true or false is required") }
                var nested: [String: PayloadSchema.Field] = [:]
                if let inner = self.mapping(spec["fields"], here + ".fields") {
                    guard type == .object else {
                        fail(here + ".fields", "only an object has fields")
                        continue
                    }
                    nested = fields(inner, here + ".fields")
                }
                result[name] = PayloadSchema.Field(type, required: required, fields: nested)
            }
        }
        return result
    }

    mutating func projections(_ value: Any?, events: [String: DeploymentConfig.EventType]) -> [DeploymentConfig.ProjectionConfig] {
        guard let value else { return [] }
        guard let list = value as? [Any] else {
            fail("projections", "a list of projections is required")
            return []
        }
        var result: [DeploymentConfig.ProjectionConfig] = []
        var names = Set<String>(), owners: [String: String] = [:]
        for (index, item) in list.enumerated() {
            let place = "projections[\(index)]"
            guard let spec = mapping(item, place) else { continue }
            refuseUnknown(spec, ["name", "tables", "statements"], place)
            guard let name = spec["name"] as? String, !name.isEmpty else {
                fail(place + ".name", "a name is required")
                continue
            }
            if !names.insert(name).inserted { fail(place + ".name", "duplicate projection name '\(name)'") }
            var tables: [DeploymentConfig.Table] = []
            if let declared = mapping(spec["tables"], place + ".tables") {
                for table in declared.keys.sorted() {
                    let here = place + ".tables." + table
                    guard Self.isIdentifier(table) else { fail(here, "a table name must be letters, digits and '_'"); continue }
                    guard let columns = declared[table] as? String, !columns.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                        fail(here, "the column definitions are required, as inside CREATE TABLE (…): \"id VARCHAR PRIMARY KEY, n BIGINT\"")
                        continue
                    }
                    let lower = table.lowercased()
                    if let owner = owners[lower] {
                        fail(here, "table \(lower) is already declared by projection '\(owner)' (one projection owns each table)")
                        continue
                    }
                    owners[lower] = name
                    tables.append(DeploymentConfig.Table(name: lower, columns: columns))
                }
            } else {
                fail(place + ".tables", "the tables it writes are required, with their columns")
            }
            var handlers: [(eventType: String, statements: [StatementTemplate], place: String)] = []
            if let on = mapping(spec["statements"], place + ".statements") {
                for type in on.keys.sorted() {
                    let here = place + ".statements." + type
                    if events[type] == nil { fail(here, "unknown event type '\(type)' (declare it under events)") }
                    let texts: [String]
                    if let one = on[type] as? String { texts = [one] } else if let many = on[type] as? [Any], many.allSatisfy({ $0 is String }), !many.isEmpty {
                        texts = many.compactMap { $0 as? String }
                    } else {
                        fail(here, "one SQL statement, or a list of them, is required")
                        continue
                    }
                    var statements: [StatementTemplate] = []
                    for (i, text) in texts.enumerated() {
                        let at = texts.count == 1 && on[type] is String ? here : "\(here)[\(i)]"
                        do { statements.append(try StatementTemplate(text)) } catch { fail(at, "\(error)"); continue }
                    }
                    handlers.append((type, statements, here))
                }
            } else {
                fail(place + ".statements", "the statements run per event type are required")
            }
            result.append(DeploymentConfig.ProjectionConfig(name: name, tables: tables, handlers: handlers))
        }
        return result
    }
}

import DuckDBClient
import EventLogCore
import Foundation

/// A projection statement from a config file, its named parameters (`$payload.amount`,
/// `$aggregate_id`, …) turned into positional placeholders: event data is bound as typed values,
/// never spliced into the SQL text. Pure: parsing does no I/O.
///
/// The scanner skips string literals (`'…'`), quoted identifiers (`"…"`), comments (`--`, `/* */`)
/// and dollar-quoted strings (`$$…$$`, `$tag$…$tag$`), so a `$` inside them is not a parameter.
public struct StatementTemplate: Sendable, Equatable {
    /// Where a parameter's value comes from.
    public enum Source: Sendable, Equatable, CustomStringConvertible {
        /// A payload field (`$payload.a.b`).
        case payload([String])
        /// A metadata field (`$metadata.a.b`), bound as text (NULL when absent).
        case metadata([String])
        /// `$aggregate_id` (VARCHAR).
        case aggregateID
        /// `$aggregate_type` (VARCHAR).
        case aggregateType
        /// `$event_type` (VARCHAR).
        case eventType
        /// `$position`: the event's log position (BIGINT).
        case position
        /// `$version`: the event's version within its aggregate (BIGINT).
        case version
        /// `$occurred_at`: when the event was recorded (TIMESTAMP, UTC).
        case occurredAt

        public var description: String {
            switch self {
            case .payload(let path): "$payload." + path.joined(separator: ".")
            case .metadata(let path): "$metadata." + path.joined(separator: ".")
            case .aggregateID: "$aggregate_id"
            case .aggregateType: "$aggregate_type"
            case .eventType: "$event_type"
            case .position: "$position"
            case .version: "$version"
            case .occurredAt: "$occurred_at"
            }
        }
    }

    /// The SQL as written.
    public var text: String
    /// The SQL with a `?` for each parameter.
    public var sql: String
    /// Each placeholder's source, in order.
    public var parameters: [Source]

    /// Parses a statement.
    /// - Parameter text: the SQL with named parameters
    /// - Throws: ``StatementTemplateError`` naming an unknown parameter or an unterminated literal
    public init(_ text: String) throws {
        self.text = text
        var sql = ""
        var parameters: [Source] = []
        let chars = Array(text.unicodeScalars)
        var i = 0
        func copy(until end: Int) {
            sql.unicodeScalars.append(contentsOf: chars[i..<end])
            i = end
        }
        while i < chars.count {
            let c = chars[i]
            switch c {
            case "'", "\"":
                // E'…' strings take backslash escapes (E'\'' is one quote).
                let escapes = c == "'" && i > 0 && (chars[i - 1] == "E" || chars[i - 1] == "e")
                    && (i < 2 || !Self.isWord(chars[i - 2]))
                var j = i + 1
                while j < chars.count {
                    if escapes, chars[j] == "\\" { j += 2; continue }
                    if chars[j] == c {
                        if j + 1 < chars.count, chars[j + 1] == c { j += 2; continue }  // doubled quote
                        break
                    }
                    j += 1
                }
                guard j < chars.count else { throw StatementTemplateError("an unterminated \(c == "'" ? "string" : "quoted identifier") in: \(text)") }
                copy(until: j + 1)
            case "-" where i + 1 < chars.count && chars[i + 1] == "-":
                var j = i
                while j < chars.count, chars[j] != "\n" { j += 1 }
                copy(until: j)
            case "/" where i + 1 < chars.count && chars[i + 1] == "*":
                // Block comments nest, as DuckDB reads them.
                var j = i + 2, depth = 1
                while j + 1 < chars.count, depth > 0 {
                    if chars[j] == "/" && chars[j + 1] == "*" { depth += 1; j += 2 } else if chars[j] == "*" && chars[j + 1] == "/" { depth -= 1; j += 2 } else { j += 1 }
                }
                guard depth == 0 else { throw StatementTemplateError("an unterminated comment in: \(text)") }
                copy(until: j)
            case "$":
                // A dollar-quoted string ($$…$$ or $tag$…$tag$), or a named parameter.
                var j = i + 1
                while j < chars.count, Self.isWord(chars[j]) { j += 1 }
                if j < chars.count, chars[j] == "$", !(j > i + 1 && chars[i + 1].properties.numericType != nil) {
                    let tag = String(String.UnicodeScalarView(chars[i...j]))
                    let rest = String(String.UnicodeScalarView(chars[(j + 1)...]))
                    guard let close = rest.range(of: tag) else { throw StatementTemplateError("an unterminated \(tag) string in: \(text)") }
                    let length = rest[..<close.upperBound].unicodeScalars.count
                    copy(until: j + 1 + length)
                    continue
                }
                var path: [String] = []
                var k = i + 1
                while true {
                    var end = k
                    while end < chars.count, Self.isWord(chars[end]) { end += 1 }
                    guard end > k else { break }
                    path.append(String(String.UnicodeScalarView(chars[k..<end])))
                    k = end
                    guard k + 1 < chars.count, chars[k] == ".", Self.isWord(chars[k + 1]) else { break }
                    k += 1
                }
                guard !path.isEmpty else { throw StatementTemplateError("a '$' that names no parameter in: \(text)") }
                parameters.append(try Self.source(path))
                sql += "?"
                i = k
            default:
                sql.unicodeScalars.append(c)
                i += 1
            }
        }
        self.sql = sql
        self.parameters = parameters
    }

    static func isWord(_ c: Unicode.Scalar) -> Bool { c == "_" || c.properties.isAlphabetic || c.properties.numericType != nil }

    static func source(_ path: [String]) throws -> Source {
        let name = "$" + path.joined(separator: ".")
        switch path[0] {
        case "payload" where path.count > 1: return .payload(Array(path.dropFirst()))
        case "metadata" where path.count > 1: return .metadata(Array(path.dropFirst()))
        case "aggregate_id" where path.count == 1: return .aggregateID
        case "aggregate_type" where path.count == 1: return .aggregateType
        case "event_type" where path.count == 1: return .eventType
        case "position" where path.count == 1: return .position
        case "version" where path.count == 1: return .version
        case "occurred_at" where path.count == 1: return .occurredAt
        default:
            throw StatementTemplateError(
                "unknown parameter \(name) (known: $payload.<field>, $metadata.<field>, $aggregate_id, $aggregate_type, $event_type, $position, $version, $occurred_at)")
        }
    }

    /// The table an INSERT, UPDATE or DELETE writes, read from its first words (nil: another
    /// statement, or a form not recognised — `WITH … INSERT` among them).
    public var writtenTable: String? {
        var words: [String] = []
        var current = ""
        var quoted = false
        for c in sql.unicodeScalars {
            if quoted {
                if c == "\"" { quoted = false } else { current.unicodeScalars.append(c) }
                continue
            }
            if c == "\"" { quoted = true; continue }
            if Self.isWord(c) || c == "." { current.unicodeScalars.append(c); continue }
            if !current.isEmpty { words.append(current); current = "" }
            if c == "(" || words.count >= 6 { break }
        }
        if !current.isEmpty { words.append(current) }
        let upper = words.map { $0.uppercased() }
        func name(after index: Int) -> String? {
            guard index < words.count else { return nil }
            return words[index].split(separator: ".").last.map { $0.lowercased() }
        }
        switch upper.first {
        case "INSERT":
            guard let into = upper.firstIndex(of: "INTO") else { return nil }
            return name(after: into + 1)
        case "UPDATE": return name(after: 1)
        case "DELETE":
            guard upper.count > 1, upper[1] == "FROM" else { return nil }
            return name(after: 2)
        default: return nil
        }
    }

    /// Names qualified with a schema or catalog outside literals and comments (`main.users`,
    /// `analytics.main.t`): projection statements name tables unqualified. (`alias.column` is not
    /// one: two parts whose first is not `main`, `temp`, `memory`, `system` or the rebuild schema.)
    public var qualifiedNames: [String] {
        let schemas: Set<String> = ["main", "temp", "memory", "system", "projector_rebuild", "pg_catalog", "information_schema"]
        return dottedNames.filter { name in
            let parts = name.split(separator: ".")
            return parts.count >= 3 || (parts.count == 2 && schemas.contains(parts[0].lowercased()))
        }
    }

    /// Dotted names outside literals and comments.
    var dottedNames: [String] {
        var names: [String] = []
        var current = "", quote: Unicode.Scalar?
        for c in Self.withoutComments(sql).unicodeScalars {
            if let open = quote {
                if c == open { quote = nil }
                if open == "\"" && c != open { current.unicodeScalars.append(c) }
                continue
            }
            if c == "'" { quote = c; continue }
            if c == "\"" { quote = c; continue }
            if Self.isWord(c) || c == "." { current.unicodeScalars.append(c); continue }
            if current.contains("."), let first = current.first, !first.isNumber, !current.hasPrefix(".") { names.append(current) }
            current = ""
        }
        if current.contains("."), let first = current.first, !first.isNumber { names.append(current) }
        return names
    }

    /// `sql` with `--` and (nested) block comments removed (literals left as they are).
    static func withoutComments(_ sql: String) -> String {
        let chars = Array(sql.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0, quote: Unicode.Scalar?
        while i < chars.count {
            let c = chars[i]
            if let open = quote {
                out.append(c)
                if c == open { quote = nil }
                i += 1
                continue
            }
            if c == "'" || c == "\"" { quote = c; out.append(c); i += 1; continue }
            if c == "-", i + 1 < chars.count, chars[i + 1] == "-" {
                while i < chars.count, chars[i] != "\n" { i += 1 }
                continue
            }
            if c == "/", i + 1 < chars.count, chars[i + 1] == "*" {
                var depth = 1
                i += 2
                while i + 1 < chars.count, depth > 0 {
                    if chars[i] == "/" && chars[i + 1] == "*" { depth += 1; i += 2 } else if chars[i] == "*" && chars[i + 1] == "/" { depth -= 1; i += 2 } else { i += 1 }
                }
                out.append(" ")
                continue
            }
            out.append(c)
            i += 1
        }
        return String(out)
    }

    /// The values to bind for `event`.
    /// - Parameters:
    ///   - event: the recorded event
    ///   - payload: its payload, parsed
    ///   - schema: its type's schema (gives payload fields their types)
    /// - Returns: one value per placeholder
    public func values(for event: RecordedEvent, payload: Any, schema: PayloadSchema) -> [DuckDBValue] {
        parameters.map { source in
            switch source {
            case .payload(let path):
                let type = schema.field(at: path)?.type ?? .string
                return PayloadSchema.value(at: path, as: type, in: payload)
            case .metadata(let path):
                let metadata = (try? JSONSerialization.jsonObject(with: Data(event.metadata.utf8))) ?? [:]
                var current: Any? = metadata
                for name in path { current = (current as? [String: Any])?[name] }
                guard let value = current, !(value is NSNull) else { return .null }
                return .string(value as? String ?? PayloadSchema.jsonText(value))
            case .aggregateID: return .string(event.aggregate.id)
            case .aggregateType: return .string(event.aggregate.type)
            case .eventType: return .string(event.type)
            case .position: return .int(event.position)
            case .version: return .int(event.version)
            case .occurredAt: return .timestamp(micros: event.recordedAt)
            }
        }
    }
}

/// A projection statement that cannot be used as written.
public struct StatementTemplateError: Error, Sendable, CustomStringConvertible {
    /// What is wrong.
    public var description: String
    init(_ description: String) { self.description = description }
}

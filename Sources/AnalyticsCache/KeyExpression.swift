/// A dependency key expression over `events/{AggregateType}/{AggregateId}`: segments separated
/// by `/`, each a literal, `*` (exactly one segment), `**` (any number of segments, none included)
/// or a `{parameter}` placeholder that a request's parameter value fills in.
///
/// Pure: matching and overlap are decided on the segments alone, so they are tested exhaustively
/// against a brute-force enumeration of keys.
public struct KeyExpression: Sendable, Hashable, CustomStringConvertible {
    /// One segment.
    public enum Segment: Sendable, Hashable {
        case literal(String)
        case one
        case any
        case parameter(String)
    }

    /// The segments.
    public let segments: [Segment]

    /// Parses an expression.
    /// - Parameter text: e.g. `events/Customer/{customer}` or `events/Order/**`
    /// - Throws: ``KeyExpressionError`` for an empty expression or segment, or a malformed placeholder
    public init(_ text: String) throws {
        guard !text.isEmpty else { throw KeyExpressionError(expression: text, problem: "is empty") }
        segments = try text.split(separator: "/", omittingEmptySubsequences: false).map { part in
            switch part {
            case "": throw KeyExpressionError(expression: text, problem: "has an empty segment")
            case "*": return .one
            case "**": return .any
            default:
                if part.first == "{" || part.last == "}" {
                    guard part.count > 2, part.first == "{", part.last == "}" else {
                        throw KeyExpressionError(expression: text, problem: "has a malformed placeholder '\(part)'")
                    }
                    return .parameter(String(part.dropFirst().dropLast()))
                }
                if part.contains("*") { throw KeyExpressionError(expression: text, problem: "mixes '*' with text in '\(part)'") }
                return .literal(String(part))
            }
        }
    }

    init(segments: [Segment]) { self.segments = segments }

    /// The key of an event's aggregate: `events/<type>/<id>`, with `/` and `%` in either part
    /// percent-encoded so that they stay one segment each.
    /// - Parameters:
    ///   - type: the aggregate type
    ///   - id: the aggregate id
    /// - Returns: the concrete key's segments
    public static func eventKey(type: String, id: String) -> [String] {
        ["events", escape(type), escape(id)]
    }

    static func escape(_ text: String) -> String {
        guard text.contains(where: { $0 == "/" || $0 == "%" }) else { return text }
        return text.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "/", with: "%2F")
    }

    /// The placeholders' names.
    public var parameterNames: [String] {
        segments.compactMap { if case .parameter(let name) = $0 { name } else { nil } }
    }

    /// The expression with its placeholders filled in (values escaped like ``eventKey(type:id:)``).
    /// - Parameter values: a value for every placeholder
    /// - Returns: the expression without placeholders, or nil when a value is missing
    public func instantiated(_ values: [String: String]) -> KeyExpression? {
        var result: [Segment] = []
        for segment in segments {
            if case .parameter(let name) = segment {
                guard let value = values[name] else { return nil }
                result.append(.literal(Self.escape(value)))
            } else {
                result.append(segment)
            }
        }
        return KeyExpression(segments: result)
    }

    /// The expression with every placeholder as `*`: it covers every instantiation.
    public var generalised: KeyExpression {
        KeyExpression(segments: segments.map { if case .parameter = $0 { .one } else { $0 } })
    }

    /// Whether the expression has `*` or `**` (placeholders count as literals here).
    public var hasWildcards: Bool { segments.contains { $0 == .one || $0 == .any } }

    /// Whether the concrete key matches.
    /// - Parameter key: a key's segments (as from ``eventKey(type:id:)``)
    /// - Returns: whether the expression covers it
    /// - Complexity: O(segments × key segments)
    public func matches(_ key: [String]) -> Bool {
        overlaps(KeyExpression(segments: key.map { .literal($0) }))
    }

    /// Whether some concrete key matches both expressions (manual invalidation by an expression
    /// finds the entries whose dependencies it may concern).
    /// - Parameter other: another expression (placeholders compare as literals)
    /// - Returns: whether they share a key
    /// - Complexity: O(segments × other's segments)
    public func overlaps(_ other: KeyExpression) -> Bool {
        let a = segments, b = other.segments
        // reachable[i][j]: a[i...] and b[j...] can still match a common suffix.
        var memo = [[Bool?]](repeating: [Bool?](repeating: nil, count: b.count + 1), count: a.count + 1)
        func fits(_ x: Segment, _ y: Segment) -> Bool {
            switch (x, y) {
            case (.one, _), (_, .one): true
            case (.literal(let l), .literal(let r)): l == r
            case (.parameter(let l), .parameter(let r)): l == r
            case (.literal(let l), .parameter(let r)), (.parameter(let r), .literal(let l)): l == "{\(r)}"
            default: false
            }
        }
        func go(_ i: Int, _ j: Int) -> Bool {
            if let known = memo[i][j] { return known }
            var result = false
            if i == a.count, j == b.count {
                result = true
            } else if i < a.count, a[i] == .any {
                result = go(i + 1, j) || (j < b.count && go(i, j + 1))
            } else if j < b.count, b[j] == .any {
                result = go(i, j + 1) || (i < a.count && go(i + 1, j))
            } else if i < a.count, j < b.count {
                result = fits(a[i], b[j]) && go(i + 1, j + 1)
            }
            memo[i][j] = result
            return result
        }
        return go(0, 0)
    }

    public var description: String {
        segments.map { segment in
            switch segment {
            case .literal(let text): text
            case .one: "*"
            case .any: "**"
            case .parameter(let name): "{\(name)}"
            }
        }.joined(separator: "/")
    }
}

/// A key expression that cannot be parsed.
public struct KeyExpressionError: Error, Sendable, Equatable, CustomStringConvertible {
    public var expression: String
    public var problem: String
    public var description: String { "key expression '\(expression)' \(problem)" }
}

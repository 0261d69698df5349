import Testing
@testable import AnalyticsCache

/// The dependency matcher, exhaustively: `overlaps` agrees with a brute-force search for a common
/// key, and `matches` with the definition, over every small pattern and key.
@Suite struct KeyExpressionTests {
    static let symbols: [KeyExpression.Segment] = [.literal("x"), .literal("y"), .one, .any]

    static func patterns(upTo length: Int) -> [KeyExpression] {
        var result: [[KeyExpression.Segment]] = [[]]
        var frontier: [[KeyExpression.Segment]] = [[]]
        for _ in 0..<length {
            frontier = frontier.flatMap { prefix in symbols.map { prefix + [$0] } }
            result += frontier
        }
        return result.filter { !$0.isEmpty }.map { KeyExpression(segments: $0) }
    }

    static func keys(upTo length: Int) -> [[String]] {
        var result: [[String]] = [[]]
        var frontier: [[String]] = [[]]
        for _ in 0..<length {
            frontier = frontier.flatMap { prefix in ["x", "y", "z"].map { prefix + [$0] } }
            result += frontier
        }
        return result
    }

    /// The definition, written the slow way.
    static func reference(_ pattern: ArraySlice<KeyExpression.Segment>, _ key: ArraySlice<String>) -> Bool {
        guard let first = pattern.first else { return key.isEmpty }
        switch first {
        case .any: return (0...key.count).contains { reference(pattern.dropFirst(), key.dropFirst($0)) }
        case .one: return !key.isEmpty && reference(pattern.dropFirst(), key.dropFirst())
        case .literal(let text): return key.first == text && reference(pattern.dropFirst(), key.dropFirst())
        case .parameter: return false
        }
    }

    @Test func matchesAgreesWithTheDefinitionOnEverySmallPatternAndKey() {
        let keys = Self.keys(upTo: 5)
        for pattern in Self.patterns(upTo: 4) {
            for key in keys {
                #expect(pattern.matches(key) == Self.reference(pattern.segments[...], key[...]), "\(pattern) vs \(key)")
            }
        }
    }

    @Test func overlapsAgreesWithABruteForceSearchForACommonKey() {
        // Two patterns of at most 3 segments that share a key share one of at most 6 segments.
        let keys = Self.keys(upTo: 6)
        let patterns = Self.patterns(upTo: 3)
        let matched = patterns.map { pattern in Set(keys.indices.filter { Self.reference(pattern.segments[...], keys[$0][...]) }) }
        for (i, a) in patterns.enumerated() {
            for (j, b) in patterns.enumerated() {
                let expected = !matched[i].isDisjoint(with: matched[j])
                #expect(a.overlaps(b) == expected, "\(a) vs \(b)")
            }
        }
    }

    @Test func parsingPlaceholdersAndEscaping() throws {
        let expression = try KeyExpression("events/Customer/{customer}")
        #expect(expression.parameterNames == ["customer"])
        let concrete = try #require(expression.instantiated(["customer": "a/b%c"]))
        #expect(concrete.description == "events/Customer/a%2Fb%25c")
        #expect(concrete.matches(KeyExpression.eventKey(type: "Customer", id: "a/b%c")))
        #expect(!concrete.matches(KeyExpression.eventKey(type: "Customer", id: "a")))
        #expect(expression.instantiated([:]) == nil)
        for bad in ["", "events//x", "events/{x", "events/a*", "events/x}"] {
            #expect(throws: KeyExpressionError.self, "\(bad)") { try KeyExpression(bad) }
        }
    }
}

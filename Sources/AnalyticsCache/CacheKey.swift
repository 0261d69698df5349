/// The key of one cached result: query id, canonical parameters, scope value and data version,
/// in an unambiguous encoding (every part length-prefixed and typed), so the same logical request
/// always gives the same key and different requests — another tenant above all — never do.
public struct CacheKey: Sendable, Hashable, CustomStringConvertible {
    /// The encoded key (what L1 and L2 store under).
    public let rawValue: String

    /// Builds a key.
    /// - Parameters:
    ///   - query: the query's id
    ///   - parameters: canonical values in declaration order (from ``QueryDefinition/validate(_:scope:)``)
    ///   - scope: the query's scope kind and the request's value (ignored when global)
    ///   - dataVersion: what the results were computed against (application, settings, datasets)
    public init(query: String, parameters: [ParameterValue], scope: (QueryScope, String?), dataVersion: String) {
        var key = "ac1"
        func field(_ tag: Character, _ text: String) {
            key.append(tag)
            key += String(text.utf8.count)
            key.append(":")
            key += text
        }
        field("q", query)
        switch scope.0 {
        case .global: field("g", "")
        case .tenant: field("t", scope.1 ?? "")
        case .user: field("u", scope.1 ?? "")
        }
        for value in parameters {
            switch value {
            case .integer(let v): field("i", String(v))
            // The bit pattern: exact, and one encoding per value (−0.0 was made 0.0 at validation).
            case .double(let v): field("d", String(v.bitPattern, radix: 16))
            case .text(let v): field("s", v)
            case .boolean(let v): field("b", v ? "1" : "0")
            case .date(let v): field("D", String(v))
            }
        }
        field("v", dataVersion)
        rawValue = key
    }

    public var description: String { rawValue }
}

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
            let escaped = Self.byteExact(text)
            key.append(tag)
            key += String(escaped.utf8.count)
            key.append(":")
            key += escaped
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

    /// `text` with every byte outside printable ASCII (and `%`) percent-encoded: the result is
    /// ASCII, so Swift's `String` equality (which treats canonically equivalent Unicode as equal)
    /// and LMDB's byte comparison agree with DuckDB, for which "é" and "e\u{301}" differ.
    static func byteExact(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 < 0x20 || $0 >= 0x7F || $0 == UInt8(ascii: "%") }) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count * 3)
        for byte in text.utf8 {
            if byte < 0x20 || byte >= 0x7F || byte == UInt8(ascii: "%") {
                let hex = String(byte, radix: 16, uppercase: true)
                out += byte < 0x10 ? "%0" + hex : "%" + hex
            } else {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            }
        }
        return out
    }
}

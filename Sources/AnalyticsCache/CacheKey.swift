import Crypto

/// The key of one cached result: query id, canonical parameters, scope value and data version,
/// in an unambiguous encoding (every part length-prefixed and typed; the data version as a 128-bit
/// SHA-256 digest), so the same logical request always gives the same key and different requests —
/// another tenant above all — never do.
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
        self.init(prefix: Self.prefix(query: query), parameters: parameters, scope: scope, suffix: Self.suffix(dataVersion: dataVersion))
    }

    /// The same key from its query part and its data-version part encoded beforehand (they are the
    /// same for every request of a query, so the cache keeps them instead of re-encoding them).
    init(prefix: String, parameters: [ParameterValue], scope: (QueryScope, String?), suffix: String) {
        var key = prefix
        switch scope.0 {
        case .global: Self.append("g", "", to: &key)
        case .tenant: Self.append("t", scope.1 ?? "", to: &key)
        case .user: Self.append("u", scope.1 ?? "", to: &key)
        }
        for value in parameters {
            switch value {
            case .integer(let v): Self.append("i", String(v), to: &key)
            // The bit pattern: exact, and one encoding per value (−0.0 was made 0.0 at validation).
            case .double(let v): Self.append("d", String(v.bitPattern, radix: 16), to: &key)
            case .text(let v): Self.append("s", v, to: &key)
            case .boolean(let v): Self.append("b", v ? "1" : "0", to: &key)
            case .date(let v): Self.append("D", String(v), to: &key)
            }
        }
        key += suffix
        rawValue = key
    }

    /// The encoded start of every key of query `query`.
    static func prefix(query: String) -> String {
        var key = "ac2"
        append("q", query, to: &key)
        return key
    }

    /// The encoded end of every key computed against `dataVersion`: a SHA-256 digest of it
    /// (128 bits, hex), not its text — the version (DuckDB's result settings, every dataset's
    /// token) is hundreds of bytes that every lookup would otherwise hash and compare.
    static func suffix(dataVersion: String) -> String {
        var key = ""
        append("v", hex(SHA256.hash(data: Array(dataVersion.utf8)).prefix(16)), to: &key)
        return key
    }

    /// Bytes as lowercase hexadecimal, two digits each.
    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// One field: its tag, the length of its escaped text, `:`, the escaped text.
    private static func append(_ tag: Character, _ text: String, to key: inout String) {
        let escaped = byteExact(text)
        key.append(tag)
        key += String(escaped.utf8.count)
        key.append(":")
        key += escaped
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

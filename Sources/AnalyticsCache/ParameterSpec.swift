import Foundation

/// A typed value of a query parameter, bound to the SQL as a DuckDB parameter (never as text).
public enum ParameterValue: Sendable, Hashable, CustomStringConvertible {
    case integer(Int64)
    case double(Double)
    case text(String)
    case boolean(Bool)
    /// A calendar date, as days since 1970-01-01.
    case date(Int32)

    public var description: String {
        switch self {
        case .integer(let v): String(v)
        case .double(let v): String(v)
        case .text(let v): v
        case .boolean(let v): String(v)
        case .date(let days): ParameterSpec.formatDate(days)
        }
    }
}

/// Why a request's parameters were refused: names the parameter and the rule it broke.
public struct ParameterError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The parameter's name.
    public var parameter: String
    /// The rule, in words (for a 400 response).
    public var rule: String

    public var description: String { "parameter '\(parameter)': \(rule)" }

    /// - Parameters:
    ///   - parameter: the parameter's name
    ///   - rule: the rule it broke
    public init(parameter: String, rule: String) {
        self.parameter = parameter
        self.rule = rule
    }
}

/// One declared parameter of a registered query: its type, whether it is required or its default,
/// and the values it accepts.
public struct ParameterSpec: Sendable, Hashable {
    /// The parameter's type.
    public enum Kind: String, Sendable, Hashable, Codable {
        case integer, double, text, boolean, date
    }

    /// The values accepted beyond the type.
    public enum Rule: Sendable, Hashable {
        /// Any value of the type.
        case any
        /// Numbers (or dates, as days) within the bounds.
        case range(min: Double?, max: Double?)
        /// One of these values.
        case oneOf([ParameterValue])
        /// Text of at most this many characters.
        case maxLength(Int)
    }

    /// The name requests use.
    public var name: String
    /// The type.
    public var kind: Kind
    /// The value used when a request does not give one; `nil` makes the parameter required.
    public var defaultValue: ParameterValue?
    /// The values accepted.
    public var rule: Rule

    /// Declares a parameter.
    /// - Parameters:
    ///   - name: the name requests use
    ///   - kind: the type
    ///   - defaultValue: the value when absent (`nil`: required)
    ///   - rule: the values accepted (default: any of the type)
    public init(_ name: String, _ kind: Kind, default defaultValue: ParameterValue? = nil, rule: Rule = .any) {
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.rule = rule
    }

    /// Parses a request's text (a URL query item) as this parameter's type.
    /// - Parameter text: the raw value
    /// - Returns: the typed value, checked against the rule
    /// - Throws: ``ParameterError`` naming the parameter and the rule
    public func parse(_ text: String) throws -> ParameterValue {
        let value: ParameterValue
        switch kind {
        case .integer:
            guard let v = Int64(text) else { throw ParameterError(parameter: name, rule: "must be an integer, got '\(text.prefix(40))'") }
            value = .integer(v)
        case .double:
            guard let v = Double(text), v.isFinite else {
                throw ParameterError(parameter: name, rule: "must be a finite number, got '\(text.prefix(40))'")
            }
            value = .double(v)
        case .text:
            value = .text(text)
        case .boolean:
            switch text.lowercased() {
            case "true", "1": value = .boolean(true)
            case "false", "0": value = .boolean(false)
            default: throw ParameterError(parameter: name, rule: "must be true or false, got '\(text.prefix(40))'")
            }
        case .date:
            guard let days = Self.parseDate(text) else {
                throw ParameterError(parameter: name, rule: "must be a date YYYY-MM-DD, got '\(text.prefix(40))'")
            }
            value = .date(days)
        }
        return try check(value)
    }

    /// Checks a typed value against the type and the rule, and puts it in canonical form (text in
    /// Unicode NFC, −0.0 as 0.0).
    /// - Parameter value: the value
    /// - Returns: the canonical value
    /// - Throws: ``ParameterError`` naming the parameter and the rule
    public func check(_ value: ParameterValue) throws -> ParameterValue {
        var value = value
        switch (kind, value) {
        case (.integer, .integer), (.boolean, .boolean), (.date, .date): break
        case (.double, .integer(let v)): value = .double(Double(v))
        case (.double, .double(let v)):
            guard v.isFinite else { throw ParameterError(parameter: name, rule: "must be a finite number (not NaN or infinite)") }
            value = .double(v == 0 ? 0 : v)  // −0.0 and 0.0 are one request
        case (.text, .text(let v)):
            value = .text(v.precomposedStringWithCanonicalMapping)
            if v.utf8.contains(0) { throw ParameterError(parameter: name, rule: "must not contain NUL characters") }
        default:
            throw ParameterError(parameter: name, rule: "must be of type \(kind.rawValue)")
        }
        switch rule {
        case .any: break
        case .range(let min, let max):
            let number: Double? = switch value {
            case .integer(let v): Double(v)
            case .double(let v): v
            case .date(let v): Double(v)
            default: nil
            }
            guard let number else { break }
            if let min, number < min { throw ParameterError(parameter: name, rule: "must be at least \(Self.bound(min, kind)), got \(value)") }
            if let max, number > max { throw ParameterError(parameter: name, rule: "must be at most \(Self.bound(max, kind)), got \(value)") }
        case .oneOf(let allowed):
            let canonical = allowed.map { (try? ParameterSpec(name, kind).check($0)) ?? $0 }
            guard canonical.contains(value) else {
                throw ParameterError(parameter: name, rule: "must be one of \(allowed.map(\.description).joined(separator: ", ")), got \(value)")
            }
        case .maxLength(let limit):
            if case .text(let v) = value, v.count > limit {
                throw ParameterError(parameter: name, rule: "must be at most \(limit) characters, got \(v.count)")
            }
        }
        return value
    }

    static func bound(_ value: Double, _ kind: Kind) -> String {
        switch kind {
        case .date: formatDate(Int32(value))
        case .integer: String(Int64(value))
        default: String(value)
        }
    }

    /// Days since 1970-01-01 of a `YYYY-MM-DD` date (proleptic Gregorian, valid days only).
    /// - Parameter text: the date
    /// - Returns: the days, or nil when it is not such a date
    public static func parseDate(_ text: String) -> Int32? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]), (1...12).contains(m), d >= 1,
              d <= daysInMonth(y, m)
        else { return nil }
        return Int32(daysFromCivil(y, m, d))
    }

    static func daysInMonth(_ y: Int, _ m: Int) -> Int {
        switch m {
        case 2: (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Howard Hinnant's days-from-civil.
    static func daysFromCivil(_ year: Int, _ month: Int, _ day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func formatDate(_ days: Int32) -> String {
        let z = Int(days) + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        return String(format: "%04d-%02d-%02d", y, m, d)
    }
}

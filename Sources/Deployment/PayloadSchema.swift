import AnalyticsCache
import DuckDBClient
import Foundation

/// The declared shape of one event type's payload: its fields, their types, which are required.
/// Pure: checking a payload and reading typed values out of it do no I/O.
///
/// Fields not declared are allowed (producers may add fields before the config names them); a
/// declared field must have its type, and a required one must be present and not null.
public struct PayloadSchema: Sendable, Equatable {
    /// A field's type.
    public enum FieldType: String, Sendable, Equatable, CaseIterable {
        /// A JSON string (bound as VARCHAR).
        case string
        /// A JSON number without a fraction that fits 64 bits (bound as BIGINT).
        case integer
        /// Any JSON number (bound as DOUBLE).
        case number
        /// `true` or `false`.
        case boolean
        /// An ISO 8601 date-time string with a zone (`2026-11-30T10:00:00Z`), bound as TIMESTAMP (UTC).
        case timestamp
        /// A `YYYY-MM-DD` string, bound as DATE.
        case date
        /// A JSON object: nested fields (when declared), else any object, bound as its JSON text.
        case object
        /// A JSON array, bound as its JSON text.
        case array
    }

    /// One declared field.
    public struct Field: Sendable, Equatable {
        /// Its type.
        public var type: FieldType
        /// Whether it must be present and not null.
        public var required: Bool
        /// An object's declared fields (empty: any object).
        public var fields: [String: Field]

        /// Creates a field.
        public init(_ type: FieldType, required: Bool = true, fields: [String: Field] = [:]) {
            self.type = type
            self.required = required
            self.fields = fields
        }
    }

    /// The top-level fields.
    public var fields: [String: Field]

    /// Creates a schema.
    /// - Parameter fields: the top-level fields
    public init(fields: [String: Field]) { self.fields = fields }

    /// The field at a dotted path (`address.city`), if declared.
    public func field(at path: [String]) -> Field? {
        var fields = self.fields
        var found: Field?
        for (index, name) in path.enumerated() {
            guard let field = fields[name] else { return nil }
            found = field
            if index < path.count - 1 {
                guard field.type == .object else { return nil }
                fields = field.fields
            }
        }
        return found
    }

    /// The first problem of a payload, naming the field (`payload.amount: an integer is required`).
    /// - Parameter payload: the payload parsed by `JSONSerialization`
    /// - Returns: nil when it matches
    public func problem(in payload: Any) -> String? {
        guard let object = payload as? [String: Any] else { return "payload: a JSON object is required" }
        return Self.problem(in: object, fields: fields, path: "payload")
    }

    static func problem(in object: [String: Any], fields: [String: Field], path: String) -> String? {
        for name in fields.keys.sorted() {
            guard let field = fields[name] else { continue }
            let place = path + "." + name
            guard let value = object[name], !(value is NSNull) else {
                if field.required { return "\(place): a required \(field.type.rawValue) is missing" }
                continue
            }
            if let problem = Self.problem(of: value, field: field, place: place) { return problem }
        }
        return nil
    }

    static func problem(of value: Any, field: Field, place: String) -> String? {
        let ok: Bool
        switch field.type {
        case .string: ok = value is String
        case .integer: ok = integer(value) != nil
        case .number: ok = isNumber(value)
        case .boolean: ok = isBoolean(value)
        case .timestamp: ok = (value as? String).flatMap(timestampMicros) != nil
        case .date: ok = (value as? String).flatMap(dateDays) != nil
        case .array: ok = value is [Any]
        case .object:
            guard let object = value as? [String: Any] else { return "\(place): a JSON object is required" }
            return problem(in: object, fields: field.fields, path: place)
        }
        guard ok else {
            let what: String = switch field.type {
            case .string: "a string"
            case .integer: "an integer (a whole number within 64 bits)"
            case .number: "a number"
            case .boolean: "true or false"
            case .timestamp: "an ISO 8601 date-time with a zone, like 2026-11-30T10:00:00Z"
            case .date: "a date, like 2026-11-30"
            case .array: "a JSON array"
            case .object: "a JSON object"
            }
            return "\(place): \(what) is required"
        }
        return nil
    }

    /// The value at `path` as DuckDB binds it for `type` (NULL when absent or null).
    /// - Parameters:
    ///   - path: the dotted path below the payload
    ///   - type: the field's declared type
    ///   - payload: the parsed payload
    /// - Returns: the value to bind
    public static func value(at path: [String], as type: FieldType, in payload: Any) -> DuckDBValue {
        var current: Any? = payload
        for name in path { current = (current as? [String: Any])?[name] }
        guard let value = current, !(value is NSNull) else { return .null }
        switch type {
        case .string: return (value as? String).map(DuckDBValue.string) ?? .null
        case .integer: return integer(value).map(DuckDBValue.int) ?? .null
        case .number: return (value as? NSNumber).map { .double($0.doubleValue) } ?? .null
        case .boolean: return isBoolean(value) ? .bool((value as? NSNumber)?.boolValue ?? false) : .null
        case .timestamp: return (value as? String).flatMap(timestampMicros).map { .timestamp(micros: $0) } ?? .null
        case .date: return (value as? String).flatMap(dateDays).map { .date(days: $0) } ?? .null
        case .object, .array: return .string(jsonText(value))
        }
    }

    /// A value as compact JSON text (sorted keys).
    static func jsonText(_ value: Any) -> String {
        guard JSONSerialization.isValidJSONObject(value),
              let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes])
        else {
            if let string = value as? String { return string }
            return "\(value)"
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// JSONSerialization gives JSON's `true`/`false` as NSNumbers of Objective-C type "c".
    static func isBoolean(_ value: Any) -> Bool {
        guard let number = value as? NSNumber else { return false }
        return number.objCType.pointee == 0x63
    }

    static func isNumber(_ value: Any) -> Bool { value is NSNumber && !isBoolean(value) }

    static func integer(_ value: Any) -> Int64? {
        guard isNumber(value), let number = value as? NSNumber else { return nil }
        switch UInt8(bitPattern: number.objCType.pointee) {
        case UInt8(ascii: "d"), UInt8(ascii: "f"): return Int64(exactly: number.doubleValue)
        case UInt8(ascii: "Q"): return number.uint64Value <= UInt64(Int64.max) ? Int64(number.uint64Value) : nil
        default: return number.int64Value
        }
    }

    /// µs since the Unix epoch of an ISO 8601 date-time with a zone (fractional seconds allowed).
    static func timestampMicros(_ text: String) -> Int64? {
        let withFraction = ISO8601DateFormatter()
        withFraction.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        guard let date = withFraction.date(from: text) ?? plain.date(from: text) else { return nil }
        // Years beyond what 64-bit microseconds hold are refused, never trapped on.
        let micros = (date.timeIntervalSince1970 * 1_000_000).rounded()
        guard micros.isFinite, abs(micros) < 9.2e18 else { return nil }
        return Int64(exactly: micros)
    }

    /// Days since 1970-01-01 of a `YYYY-MM-DD` date (a query parameter's date rules).
    static func dateDays(_ text: String) -> Int32? { ParameterSpec.parseDate(text) }
}

/// A strict JSON validator (RFC 8259) for event payloads and metadata, with the rules every backend
/// must accept: PostgreSQL's `jsonb` refuses `\u0000` and unpaired UTF-16 surrogate escapes, so they
/// are refused here too, and an event that one log accepts is accepted by the other.
///
/// One pass over the UTF-8 bytes with an explicit stack of open containers (its one allocation; no
/// recursion, so no stack overflow on deep nesting): about 2.5 ms per MiB, twice as fast as SQLite's
/// `json_valid`, where `JSONSerialization` took 85–125 (`analytics-cache-bench events`,
/// docs/benchmarks.md).
public enum JSONValidator {
    /// The deepest nesting of arrays and objects accepted.
    public static let maxDepth = 512

    /// Why a text is not accepted as JSON.
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        /// The byte offset where the problem was found.
        public var offset: Int
        /// What is wrong there.
        public var reason: String

        public var description: String { "\(reason) at byte \(offset)" }
    }

    /// Checks `text`.
    /// - Parameter text: the JSON text (any top-level value, as JSON allows)
    /// - Returns: `nil` when it is valid, else the first problem
    /// - Complexity: O(n) time, O(depth) memory
    public static func problem(in text: String) -> Problem? {
        var text = text
        return text.withUTF8 { problem(in: $0) }
    }

    /// Checks UTF-8 bytes (assumed valid UTF-8, as a Swift `String` is).
    /// - Parameter bytes: the JSON text
    /// - Returns: `nil` when it is valid, else the first problem
    /// - Complexity: O(n) time, O(depth) memory
    public static func problem(in bytes: UnsafeBufferPointer<UInt8>) -> Problem? {
        var scanner = Scanner(bytes: bytes)
        return scanner.run()
    }

    private struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0
        /// Open containers, innermost last: `true` for an object.
        var stack: [Bool] = []

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        func fail(_ reason: String) -> Problem { Problem(offset: index, reason: reason) }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        mutating func run() -> Problem? {
            // After a value: close containers or expect the next element.
            while true {
                skipWhitespace()
                guard index < bytes.count else { return fail("unexpected end of text, a value expected") }
                switch bytes[index] {
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    let isObject = bytes[index] == UInt8(ascii: "{")
                    guard stack.count < JSONValidator.maxDepth else { return fail("nesting deeper than \(JSONValidator.maxDepth)") }
                    index += 1
                    skipWhitespace()
                    if index < bytes.count, bytes[index] == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                        index += 1  // empty: a whole value
                    } else {
                        stack.append(isObject)
                        if isObject, let problem = key() { return problem }
                        continue
                    }
                case UInt8(ascii: "\""):
                    if let problem = string() { return problem }
                case UInt8(ascii: "t"):
                    if let problem = literal("true") { return problem }
                case UInt8(ascii: "f"):
                    if let problem = literal("false") { return problem }
                case UInt8(ascii: "n"):
                    if let problem = literal("null") { return problem }
                case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                    if let problem = number() { return problem }
                default:
                    return fail("unexpected character, a value expected")
                }
                // A value ended: close what it ends, or move to the next element.
                while true {
                    skipWhitespace()
                    guard let isObject = stack.last else {
                        return index == bytes.count ? nil : fail("text after the value")
                    }
                    guard index < bytes.count else { return fail("unexpected end of text inside \(isObject ? "an object" : "an array")") }
                    let byte = bytes[index]
                    index += 1
                    if byte == UInt8(ascii: ",") {
                        if isObject, let problem = key() { return problem }
                        break
                    }
                    if byte == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                        stack.removeLast()
                        continue
                    }
                    index -= 1
                    return fail(isObject ? "',' or '}' expected" : "',' or ']' expected")
                }
            }
        }

        /// A member's key and its colon.
        mutating func key() -> Problem? {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return fail("a string key expected") }
            if let problem = string() { return problem }
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return fail("':' expected") }
            index += 1
            return nil
        }

        mutating func literal(_ word: StaticString) -> Problem? {
            let count = word.utf8CodeUnitCount
            guard bytes.count - index >= count else { return fail("unexpected end of text in a literal") }
            let matches = word.withUTF8Buffer { expected in
                (0..<count).allSatisfy { bytes[index + $0] == expected[$0] }
            }
            guard matches else { return fail("invalid literal") }
            index += count
            return nil
        }

        mutating func digits() -> Int {
            let start = index
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
            return index - start
        }

        mutating func number() -> Problem? {
            if bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") else {
                return fail("a digit expected")
            }
            if bytes[index] == UInt8(ascii: "0") {
                index += 1
            } else {
                _ = digits()
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard digits() > 0 else { return fail("a digit expected after the decimal point") }
            }
            if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
                guard digits() > 0 else { return fail("a digit expected in the exponent") }
            }
            return nil
        }

        mutating func hexQuad() -> UInt16? {
            guard bytes.count - index >= 4 else { return nil }
            var value: UInt16 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: return nil
                }
                value = value << 4 | UInt16(digit)
                index += 1
            }
            return value
        }

        mutating func string() -> Problem? {
            index += 1  // the opening quote
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    index += 1
                    return nil
                }
                if byte < 0x20 { return fail(byte == 0 ? "a NUL character in a string" : "an unescaped control character in a string") }
                index += 1
                guard byte == UInt8(ascii: "\\") else { continue }
                guard index < bytes.count else { break }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    continue
                case UInt8(ascii: "u"):
                    guard let unit = hexQuad() else { return fail("\\u needs four hexadecimal digits") }
                    if unit == 0 { return fail("\\u0000 (NUL), which PostgreSQL's jsonb refuses") }
                    if unit >= 0xDC00, unit <= 0xDFFF { return fail("a low surrogate escape without a high one before it") }
                    if unit >= 0xD800, unit <= 0xDBFF {
                        guard bytes.count - index >= 2, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                            return fail("a high surrogate escape without a low one after it")
                        }
                        index += 2
                        guard let low = hexQuad(), low >= 0xDC00, low <= 0xDFFF else {
                            return fail("a high surrogate escape without a low one after it")
                        }
                    }
                default:
                    index -= 1
                    return fail("an invalid escape")
                }
            }
            return fail("unexpected end of text in a string")
        }
    }
}

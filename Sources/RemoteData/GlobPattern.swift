/// A file glob as DuckDB reads them: `*` (any run of characters within one path segment), `?`
/// (one character), `[abc]`/`[a-z]`/`[!a]` (a character class), `**` (any number of whole
/// segments). Matching is on the object key or URL path, segment by segment.
struct GlobPattern: Sendable, Equatable {
    let pattern: String

    /// The literal part before the first wildcard: S3 lists only keys with this prefix.
    var literalPrefix: String {
        String(pattern.prefix { !"*?[".contains($0) })
    }

    /// Whether the pattern has any wildcard.
    var hasWildcard: Bool { literalPrefix.count != pattern.count }

    /// Whether `path` matches the whole pattern.
    func matches(_ path: String) -> Bool {
        let patternSegments = pattern.split(separator: "/", omittingEmptySubsequences: false).map(Array.init)
        let pathSegments = path.split(separator: "/", omittingEmptySubsequences: false).map(Array.init)
        return Self.match(patternSegments[...], pathSegments[...])
    }

    private static func match(_ pattern: ArraySlice<[Character]>, _ path: ArraySlice<[Character]>) -> Bool {
        guard let first = pattern.first else { return path.isEmpty }
        if first == ["*", "*"] {
            // Zero or more whole segments.
            var rest = path
            while true {
                if match(pattern.dropFirst(), rest) { return true }
                guard !rest.isEmpty else { return false }
                rest = rest.dropFirst()
            }
        }
        guard let segment = path.first, matchSegment(first[...], segment[...]) else { return false }
        return match(pattern.dropFirst(), path.dropFirst())
    }

    private static func matchSegment(_ pattern: ArraySlice<Character>, _ text: ArraySlice<Character>) -> Bool {
        guard let p = pattern.first else { return text.isEmpty }
        switch p {
        case "*":
            var rest = text
            while true {
                if matchSegment(pattern.dropFirst(), rest) { return true }
                guard !rest.isEmpty else { return false }
                rest = rest.dropFirst()
            }
        case "?":
            return !text.isEmpty && matchSegment(pattern.dropFirst(), text.dropFirst())
        case "[":
            guard let close = pattern.dropFirst(2).firstIndex(of: "]"), let c = text.first else {
                // No closing bracket: a literal "[".
                return text.first == "[" && matchSegment(pattern.dropFirst(), text.dropFirst())
            }
            var set = pattern[pattern.index(after: pattern.startIndex)..<close]
            let negated = set.first == "!" || set.first == "^"
            if negated { set = set.dropFirst() }
            var inSet = false
            var items = Array(set)
            while !items.isEmpty {
                if items.count >= 3 && items[1] == "-" {
                    if items[0] <= c && c <= items[2] { inSet = true }
                    items.removeFirst(3)
                } else {
                    if items[0] == c { inSet = true }
                    items.removeFirst()
                }
            }
            return inSet != negated && matchSegment(pattern[pattern.index(after: close)...], text.dropFirst())
        default:
            return text.first == p && matchSegment(pattern.dropFirst(), text.dropFirst())
        }
    }
}

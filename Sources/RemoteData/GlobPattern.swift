/// A file glob with DuckDB's semantics, matched byte by byte on each segment: `*` (any run of
/// bytes within a segment), `?` (one byte, local files only: in an `s3://` URL it starts the query
/// string, which the S3 probe strips), `[abc]`, `[a-z]`, `[!a]` (a class; `]` first is a literal, `^`
/// is a literal, a range takes whatever follows the dash and compares bytes as the platform's C
/// `char`, an unclosed `[` matches nothing), and `**` as a whole segment (any number of segments).
///
/// The two flavours differ as DuckDB's file systems do: locally `\` separates segments like `/` (no
/// escapes); on S3 `\x` is a literal `x`, keys and patterns drop empty segments (`data//x` is
/// `data/x`), "directory" marker keys never match, and a trailing `**` needs at least one segment.
///
/// Checked against DuckDB's own `glob()` over the same awkward names, locally and on S3 (tests).
struct GlobPattern: Sendable, Equatable {
    /// Local files or S3 keys.
    enum Flavor: Sendable, Equatable {
        case local, s3
    }

    /// The pattern (for local files with `\` turned into `/`).
    let pattern: String
    /// Local files or S3 keys.
    let flavor: Flavor

    /// Creates a pattern.
    /// - Parameters:
    ///   - pattern: the glob as written
    ///   - flavor: `.local` (default) or `.s3`
    init(pattern: String, flavor: Flavor = .local) {
        self.pattern = flavor == .local ? pattern.replacing("\\", with: "/") : pattern
        self.flavor = flavor
    }

    private var escapes: Bool { flavor == .s3 }

    private func isWildcard(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "*") || byte == UInt8(ascii: "[") || (flavor == .local && byte == UInt8(ascii: "?"))
    }

    /// The literal text before the first wildcard, escapes resolved: S3 lists only keys with this
    /// prefix, and local walks start at its directory.
    var literalPrefix: String {
        var out: [UInt8] = []
        var bytes = Array(pattern.utf8)[...]
        while let byte = bytes.first {
            if escapes && byte == UInt8(ascii: "\\") {
                guard bytes.count >= 2 else { break }
                out.append(bytes[bytes.startIndex + 1])
                bytes = bytes.dropFirst(2)
                continue
            }
            if isWildcard(byte) { break }
            out.append(byte)
            bytes = bytes.dropFirst()
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether the pattern has any wildcard (an escaped character is not one).
    var hasWildcard: Bool {
        var bytes = Array(pattern.utf8)[...]
        while let byte = bytes.first {
            if escapes && byte == UInt8(ascii: "\\") { bytes = bytes.dropFirst(2); continue }
            if isWildcard(byte) { return true }
            bytes = bytes.dropFirst()
        }
        return false
    }

    /// The pattern's segments (empty ones dropped when `dropEmpty`).
    func segments(dropEmpty: Bool) -> [[UInt8]] {
        Array(pattern.utf8).split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: dropEmpty).map(Array.init)
    }

    /// Whether a local path matches the whole pattern.
    func matches(_ path: String) -> Bool {
        let pathSegments = Array(path.utf8).split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).map(Array.init)
        return Self.match(segments(dropEmpty: false)[...], pathSegments[...], flavor: flavor)
    }

    /// Whether an S3 object key matches, empty segments dropped on both sides; "directory" marker
    /// objects (keys ending in `/`) never match, as DuckDB skips them.
    func matches(s3Key key: String) -> Bool {
        guard !key.hasSuffix("/") else { return false }
        let keySegments = Array(key.utf8).split(separator: UInt8(ascii: "/")).map(Array.init)
        return Self.match(segments(dropEmpty: true)[...], keySegments[...], flavor: flavor)
    }

    static let doubleStar: [UInt8] = Array("**".utf8)

    private static func match(_ pattern: ArraySlice<[UInt8]>, _ path: ArraySlice<[UInt8]>, flavor: Flavor) -> Bool {
        guard let first = pattern.first else { return path.isEmpty }
        if first == doubleStar {
            // On S3 a trailing `**` stands for at least one segment.
            if flavor == .s3 && pattern.count == 1 { return !path.isEmpty }
            var rest = path
            while true {
                if match(pattern.dropFirst(), rest, flavor: flavor) { return true }
                guard !rest.isEmpty else { return false }
                rest = rest.dropFirst()
            }
        }
        guard let segment = path.first,
            matchSegment(first[...], segment[...], questionMark: flavor == .local, escapes: flavor == .s3)
        else { return false }
        return match(pattern.dropFirst(), path.dropFirst(), flavor: flavor)
    }

    /// One segment against one pattern segment, byte by byte.
    static func matchSegment(_ pattern: ArraySlice<UInt8>, _ text: ArraySlice<UInt8>, questionMark: Bool, escapes: Bool) -> Bool {
        var p = pattern.startIndex
        var t = text.startIndex
        while p < pattern.endIndex {
            let byte = pattern[p]
            switch byte {
            case UInt8(ascii: "*"):
                var next = p
                while next < pattern.endIndex && pattern[next] == UInt8(ascii: "*") { next += 1 }
                if next == pattern.endIndex { return true }
                var start = t
                while start <= text.endIndex {
                    if matchSegment(pattern[next...], text[start...], questionMark: questionMark, escapes: escapes) { return true }
                    start += 1
                }
                return false
            case UInt8(ascii: "?") where questionMark:
                guard t < text.endIndex else { return false }
                p += 1
                t += 1
            case UInt8(ascii: "\\") where escapes:
                guard p + 1 < pattern.endIndex, t < text.endIndex, pattern[p + 1] == text[t] else { return false }
                p += 2
                t += 1
            case UInt8(ascii: "["):
                guard t < text.endIndex, let after = matchClass(pattern[(p + 1)...], text[t]) else { return false }
                p = after
                t += 1
            default:
                guard t < text.endIndex, text[t] == byte else { return false }
                p += 1
                t += 1
            }
        }
        return t == text.endIndex
    }

    /// Matches `byte` against the class starting after `[`; returns the index after its `]`, or
    /// nil when the byte is not in the class or the class is not closed.
    private static func matchClass(_ pattern: ArraySlice<UInt8>, _ byte: UInt8) -> ArraySlice<UInt8>.Index? {
        var i = pattern.startIndex
        var negated = false
        if i < pattern.endIndex && pattern[i] == UInt8(ascii: "!") {
            negated = true
            i += 1
        }
        let first = i
        var found = false
        while i < pattern.endIndex {
            let c = pattern[i]
            if c == UInt8(ascii: "]") && i > first {
                return found != negated ? i + 1 : nil
            }
            // A range takes whatever follows the dash, `]` included (`[a-]` is a range, unclosed).
            if i + 2 < pattern.endIndex && pattern[i + 1] == UInt8(ascii: "-") {
                // Bytes compared as C's `char` (signed on x86_64, unsigned on arm64), as DuckDB does.
                let low = CChar(truncatingIfNeeded: c), high = CChar(truncatingIfNeeded: pattern[i + 2])
                let value = CChar(truncatingIfNeeded: byte)
                if low <= value && value <= high { found = true }
                i += 3
            } else {
                if c == byte { found = true }
                i += 1
            }
        }
        return nil  // unclosed: matches nothing
    }
}

import Foundation

/// The version of local files (paths or globs in the last path component, or `**`): each matching
/// file's path, size and modification time in nanoseconds.
public struct LocalFileVersionProbe: DataVersionProbe {
    /// Paths or globs.
    public let patterns: [String]

    /// Creates a probe.
    /// - Parameter patterns: absolute paths, possibly with DuckDB glob wildcards
    public init(patterns: [String]) { self.patterns = patterns }

    /// Stats every matching file.
    /// - Returns: `file:` and a digest of the matches
    /// - Throws: ``DataVersionError`` of kind `.unreachable` when nothing matches a pattern
    public func currentVersion() async throws -> DataVersion {
        var parts: [String] = []
        for pattern in patterns {
            let glob = GlobPattern(pattern: pattern)
            var matches: [String] = []
            if glob.hasWildcard {
                let prefix = glob.literalPrefix
                let root = prefix.hasSuffix("/") ? String(prefix.dropLast()) : (prefix as NSString).deletingLastPathComponent
                if let walker = FileManager.default.enumerator(atPath: root.isEmpty ? "/" : root) {
                    while let relative = walker.nextObject() as? String {
                        let path = (root.isEmpty ? "" : root) + "/" + relative
                        if glob.matches(path) { matches.append(path) }
                    }
                }
            } else if FileManager.default.fileExists(atPath: pattern) {
                matches = [pattern]
            }
            guard !matches.isEmpty else {
                throw DataVersionError(.unreachable, "no file matches \(pattern)")
            }
            for path in matches.sorted() {
                var info = stat()
                guard stat(path, &info) == 0 else { throw DataVersionError(.unreachable, "cannot stat \(path)") }
                let nanos = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
                parts += [path, String(info.st_size), String(nanos)]
            }
        }
        return DataVersion.digest(kind: "file", parts: parts)
    }
}

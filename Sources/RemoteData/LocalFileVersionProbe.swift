import Foundation

/// The version of local files (absolute paths, possibly with DuckDB glob wildcards, `**`
/// included): each matching file's path, size and modification time in nanoseconds.
///
/// The walk follows the pattern segment by segment — literal segments are looked up, wildcard
/// segments list one directory, only `**` descends further (at most 64 levels; DuckDB has no such
/// limit) — and, as DuckDB's reader does, `*` follows symbolic links to directories while `**`
/// follows none. `\\` separates segments like `/`, as in DuckDB's local file system.
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
            let matches = try Self.files(matching: pattern)
            guard !matches.isEmpty else {
                throw DataVersionError(.unreachable, "no file matches \(pattern)")
            }
            for path in matches {
                var info = stat()
                guard stat(path, &info) == 0 else { throw DataVersionError(.unreachable, "cannot stat \(path)") }
                let nanos = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
                parts += [path, String(info.st_size), String(nanos)]
            }
        }
        return DataVersion.digest(kind: "file", parts: parts)
    }

    /// The regular files a pattern matches, sorted, without duplicates.
    /// - Throws: ``DataVersionError`` of kind `.configuration` for patterns DuckDB refuses to read:
    ///   more than one `**`, or a trailing `/` (which names directories)
    static func files(matching pattern: String) throws -> [String] {
        let glob = GlobPattern(pattern: pattern)
        var matches: [String] = []
        if glob.hasWildcard {
            let segments = glob.segments(dropEmpty: true)
            guard segments.filter({ $0 == GlobPattern.doubleStar }).count <= 1 else {
                throw DataVersionError(.configuration, "\(pattern) uses '**' more than once, which DuckDB cannot read")
            }
            guard !glob.pattern.hasSuffix("/") else {
                throw DataVersionError(.configuration, "\(pattern) ends in '/', which names directories, not files")
            }
            walk(directory: pattern.hasPrefix("/") ? "" : ".", segments[...], depth: 0, into: &matches)
        } else if isFile(pattern) {
            matches = [pattern]
        }
        // Sorted and deduplicated by bytes: `String` equality is canonical equivalence, and a
        // composed and a decomposed "é" are two files.
        var seen: Set<[UInt8]> = []
        return matches.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }.filter { seen.insert(Array($0.utf8)).inserted }
    }

    private static func walk(directory: String, _ segments: ArraySlice<[UInt8]>, depth: Int, into matches: inout [String]) {
        guard let segment = segments.first, depth < 64 else { return }
        let last = segments.count == 1
        func join(_ name: String) -> String { directory == "" ? "/" + name : directory + "/" + name }
        if segment == GlobPattern.doubleStar {
            // `**` last: every file below, at any depth. Otherwise zero directories here, or one
            // more level down with `**` still in front. Like DuckDB, `**` does not descend into
            // symbolic links (a single `*` does).
            if last {
                for name in entries(of: directory) {
                    let path = join(name)
                    if isDirectory(path, following: false) {
                        walk(directory: path, segments, depth: depth + 1, into: &matches)
                    } else if isFile(path, following: false) {
                        matches.append(path)  // DuckDB's recursive listing skips symbolic links
                    }
                }
                return
            }
            walk(directory: directory, segments.dropFirst(), depth: depth + 1, into: &matches)
            for name in entries(of: directory) where isDirectory(join(name), following: false) {
                walk(directory: join(name), segments, depth: depth + 1, into: &matches)
            }
            return
        }
        let piece = GlobPattern(pattern: String(decoding: segment, as: UTF8.self))
        let names: [String]
        if piece.hasWildcard {
            names = entries(of: directory).filter {
                GlobPattern.matchSegment(segment[...], Array($0.utf8)[...], questionMark: true, escapes: false)
            }
        } else {
            names = [piece.literalPrefix]
        }
        for name in names {
            let path = join(name)
            if last {
                if isFile(path) { matches.append(path) }
            } else if isDirectory(path) {
                walk(directory: path, segments.dropFirst(), depth: depth + 1, into: &matches)
            }
        }
    }

    private static func entries(of directory: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: directory == "" ? "/" : directory)) ?? []
    }

    /// With `following`, a symbolic link to a directory is a directory (`stat`); without, only a
    /// real directory is (`lstat`).
    private static func isDirectory(_ path: String, following: Bool = true) -> Bool {
        var info = stat()
        let status = following ? stat(path, &info) : lstat(path, &info)
        return status == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    private static func isFile(_ path: String, following: Bool = true) -> Bool {
        var info = stat()
        let status = following ? stat(path, &info) : lstat(path, &info)
        return status == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }
}

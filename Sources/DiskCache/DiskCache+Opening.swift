import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A directory's identity: device and inode (what every spelling of its path shares).
struct DirectoryID: Hashable, Sendable {
    let device: UInt64
    let inode: UInt64
}

extension DiskCache {
    /// The directories open in this process (LMDB forbids a second environment on the same files
    /// in one process: closing it would drop the first one's locks, and another process would then
    /// reuse pages this process is still reading).
    static let openDirectories = Mutex<Set<DirectoryID>>([])

    /// The canonical path of the cache directory: symbolic links, `.`, `..` and a trailing `/`
    /// resolved (the directory itself may not exist yet; its parent's path is resolved then).
    static func resolvedPath(_ path: String) throws -> String {
        guard !path.isEmpty else { throw DiskCacheError(description: "the disk cache path is empty") }
        let url = URL(fileURLWithPath: path).standardizedFileURL
        if let real = realpath(url.path, nil) {
            defer { free(real) }
            return String(cString: real)
        }
        let parent = url.deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        guard let real = realpath(parent, nil) else {
            throw DiskCacheError(description: "cannot resolve \(parent): \(String(cString: strerror(errno)))")
        }
        defer { free(real) }
        return String(cString: real) + "/" + url.lastPathComponent
    }

    /// Creates the directory if needed and takes its open lock, making sure the lock file is still
    /// the directory's once held (another process may have moved the directory aside meanwhile).
    static func takeOpenLock(_ path: String, timeout: Duration) throws -> FileLock {
        while true {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            let lock = try FileLock(path: path + "/open.lock")
            guard try lock.lock(exclusive: true, timeout: timeout) else {
                throw DiskCacheError(description: "another process has been opening \(path) for more than \(timeout) (it holds open.lock)")
            }
            if lock.isStill(at: path + "/open.lock") { return lock }
        }
    }

    /// Records that this process has the directory open.
    /// - Throws: when it already has
    static func register(_ path: String) throws -> DirectoryID {
        var info = stat()
        guard stat(path, &info) == 0 else { throw DiskCacheError(description: "cannot stat \(path): \(String(cString: strerror(errno)))") }
        let id = DirectoryID(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        let inserted = openDirectories.withLock { $0.insert(id).inserted }
        guard inserted else {
            throw DiskCacheError(description: "\(path) is already open in this process: share that DiskCache (LMDB allows one environment per process)")
        }
        return id
    }

    static func unregister(_ id: DirectoryID) {
        _ = openDirectories.withLock { $0.remove(id) }
    }

    /// Renames the directory `<path>.corrupt-<ms>-<random>` (without its unfinished-check marker,
    /// so opening the copy to salvage it walks it once more) and logs why.
    static func moveAside(_ path: String, reason: String, clock: any DiskCacheClock, logger: Logger) throws -> String {
        let aside = path + ".corrupt-\(clock.now() / 1_000)-\(UInt32.random(in: 0...UInt32.max))"
        logger.error("disk cache unusable, moving it aside and starting empty", metadata: [
            "path": "\(path)", "moved_to": "\(aside)", "reason": "\(reason)",
        ])
        do {
            try FileManager.default.moveItem(atPath: path, toPath: aside)
        } catch {
            throw DiskCacheError(description: "\(path) is unusable (\(reason)) and cannot be moved aside: \(error)")
        }
        try? FileManager.default.removeItem(atPath: aside + "/open-check.marker")
        return aside
    }

    /// Opens an environment another live process has open (and checked): no walk, no marker, and
    /// a format this release cannot read is an error, not a reason to move anything.
    /// - Throws: ``IncompatibleFormat`` for files of another format version
    static func openShared(_ configuration: DiskCacheConfiguration) throws -> LMDBEnvironment {
        let lmdb = try LMDBEnvironment(
            path: configuration.path, mapSize: configuration.mapSize, flags: configuration.durability.flags)
        let stored = try lmdb.read { try Meta.version($0) }
        guard stored == Meta.currentVersion else { throw IncompatibleFormat(stored: stored) }
        return lmdb
    }

    /// Called (when set) as an open that found files needing an open alone (another format,
    /// damage, a check that keeps dying) held by someone starts waiting for them to be its alone:
    /// lets a test end a transient holder at that moment.
    static let waitingForTransientHolder = Mutex<(@Sendable () -> Void)?>(nil)

    /// Files in use by another process are of a format version this release cannot read.
    struct IncompatibleFormat: Error {
        let stored: UInt32?

        /// What the caller is told when the files stay in use.
        func error(_ path: String) -> DiskCacheError {
            DiskCacheError(description: "\(path) is in use by another process with format version "
                + "\(stored.map(String.init) ?? "none"), not \(Meta.currentVersion): left alone")
        }
    }

    /// Deletes the copies of `path` moved aside before `kept` (directories named exactly
    /// `<name>.corrupt-<digits>-<digits>`; never symbolic links or other files), except any a live
    /// process still holds (an older release moved files aside that were in use).
    static func removeOlderCopies(of path: String, keeping kept: String, logger: Logger) {
        let url = URL(fileURLWithPath: path)
        let parent = url.deletingLastPathComponent().path
        let prefix = url.lastPathComponent + ".corrupt-"
        let keptName = URL(fileURLWithPath: kept).lastPathComponent
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: parent) else { return }
        for name in names where name != keptName && name.hasPrefix(prefix) {
            let parts = name.dropFirst(prefix.count).split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }) else { continue }
            let copy = parent + "/" + name
            guard let type = try? FileManager.default.attributesOfItem(atPath: copy)[.type] as? FileAttributeType, type == .typeDirectory else {
                continue
            }
            if let holders = try? FileLock(path: copy + "/holders.lock"), (try? holders.tryLock(exclusive: true)) != true {
                continue
            }
            do {
                try FileManager.default.removeItem(atPath: copy)
                logger.notice("removed an older copy of the disk cache moved aside", metadata: ["path": "\(copy)"])
            } catch {
                logger.warning("cannot remove an older copy of the disk cache", metadata: ["path": "\(copy)", "error": "\(error)"])
            }
        }
    }
}

import Foundation
import Testing
import TestSupport
@testable import DiskCache

/// Several processes opening one cache: opens are serialised by a lock file, files a live process
/// holds are never moved aside, and of the copies moved aside only the newest stays.
@Suite struct OpenCoordinationTests {
    static let mapSize = 64 << 20

    /// A child that opens the cache at `path` and keeps it open; returns it once it has reported
    /// its entry count (−1 when its open moved the files aside).
    static func holder(_ path: String) async throws -> (ChildProcess, Int64?) {
        var child = try ChildProcess("disk-cache-crash-child", [path, "hold", String(mapSize)])
        let count = await child.lines(atLeast: 1).first
        return (child, count)
    }

    static func copiesMovedAside(of path: String) throws -> [String] {
        let url = URL(fileURLWithPath: path)
        return try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path)
            .filter { $0.hasPrefix(url.lastPathComponent + ".corrupt-") }.sorted()
    }

    @Test func filesALiveProcessHoldsAreNeverMovedAsideEvenWhenTheMarkerSaysSo() async throws {
        let dir = try CacheDirectory()
        do {
            let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: Self.mapSize))
            try cache.store(bytes("kept"), forKey: "k")
        }
        var (child, count) = try await Self.holder(dir.path)
        #expect(count == 1, "\(child.errorOutput)")
        // As three opens that raced each other's marker used to leave it (the review's 4th of 8
        // processes read "3" and moved a healthy cache aside under the other seven).
        try Data("3".utf8).write(to: URL(fileURLWithPath: dir.path + "/open-check.marker"))
        do {
            let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: Self.mapSize))
            #expect(cache.movedAsidePath == nil)
            #expect(try await cache.value(forKey: "k") == bytes("kept"))
            try cache.store(bytes("shared"), forKey: "k2")
        }
        #expect(try Self.copiesMovedAside(of: dir.path) == [])
        _ = await child.kill()
        // Alone again: the marker counts, as it should for a check that keeps dying.
        let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: Self.mapSize))
        #expect(cache.movedAsidePath != nil)
    }

    @Test func eightProcessesOpeningAHealthyCacheAtOnceAllSeeIt() async throws {
        let dir = try CacheDirectory()
        let entries = 60_000
        do {
            let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: Self.mapSize))
            let value = [UInt8](repeating: 7, count: 100)
            for n in 0..<entries { try cache.store(value, forKey: "key-\(n)") }
        }
        var children: [ChildProcess] = []
        for _ in 0..<8 {
            children.append(try ChildProcess("disk-cache-crash-child", [dir.path, "hold", String(Self.mapSize)]))
        }
        for index in children.indices {
            let count = await children[index].lines(atLeast: 1).first
            #expect(count == Int64(entries), "child \(index): \(children[index].errorOutput)")
        }
        #expect(try Self.copiesMovedAside(of: dir.path) == [])
        for index in children.indices { _ = await children[index].kill() }
        let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: Self.mapSize))
        #expect(cache.movedAsidePath == nil)
        #expect(try cache.statistics().entries == entries)
    }

    @Test func onlyTheNewestCopyMovedAsideIsKeptAndOneStillHeldIsLeftAlone() async throws {
        let dir = try CacheDirectory()
        let fm = FileManager.default
        for name in ["1000-1", "2000-2", "3000-3"] {
            try fm.createDirectory(atPath: dir.path + ".corrupt-" + name, withIntermediateDirectories: true)
            fm.createFile(atPath: dir.path + ".corrupt-\(name)/data.mdb", contents: Data(count: 4096))
        }
        // An older release moved this one aside under a live process, which still has it open.
        try fm.removeItem(atPath: dir.path + ".corrupt-2000-2")
        var (child, count) = try await Self.holder(dir.path + ".corrupt-2000-2")
        #expect(count == 0, "\(child.errorOutput)")
        do { _ = try DiskCache(configuration: .init(path: dir.path, mapSize: Self.mapSize)) }
        try Data("3".utf8).write(to: URL(fileURLWithPath: dir.path + "/open-check.marker"))
        let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: Self.mapSize))
        let aside = try #require(cache.movedAsidePath)
        let name = URL(fileURLWithPath: aside).lastPathComponent
        #expect(try Self.copiesMovedAside(of: dir.path) == ["cache.corrupt-2000-2", name].sorted())
        _ = await child.kill()
    }
}

/// Every spelling of a directory is one cache: symbolic links and trailing slashes resolve, a
/// second open in one process is refused, a read-only parent does not stop an open, and a copy
/// moved aside can be opened to salvage it.
@Suite struct OpenPathTests {
    static let mapSize = 64 << 20

    @Test func aSecondOpenOfOneDirectoryInOneProcessIsRefusedUnderAnySpelling() async throws {
        let dir = try CacheDirectory()
        let link = dir.root.appendingPathComponent("link").path
        do {
            let first = try DiskCache(configuration: .init(path: dir.path, mapSize: Self.mapSize))
            try first.store(bytes("v"), forKey: "k")
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: dir.path)
            // Before: each was accepted, and closing it dropped the first one's LMDB locks.
            for spelling in [dir.path, dir.path + "/", dir.path + "/.", link, link + "/"] {
                #expect(throws: DiskCacheError.self, "\(spelling)") {
                    _ = try DiskCache(configuration: .init(path: spelling, mapSize: Self.mapSize))
                }
            }
            #expect(try await first.value(forKey: "k") == bytes("v"))
        }
        // Closed: any spelling opens it again.
        let again = try DiskCache(configuration: .init(path: link + "/", mapSize: Self.mapSize))
        #expect(try await again.value(forKey: "k") == bytes("v"))
    }

    @Test func aTrailingSlashOpensAndMovesAsideLikeThePlainPath() async throws {
        let dir = try CacheDirectory()
        do {
            let cache = try DiskCache(configuration: .init(path: dir.path + "/", mapSize: Self.mapSize))
            try cache.store(bytes("v"), forKey: "k")
        }
        try Data("3".utf8).write(to: URL(fileURLWithPath: dir.path + "/open-check.marker"))
        let cache = try DiskCache(configuration: .init(path: dir.path + "/", mapSize: Self.mapSize))
        let aside = try #require(cache.movedAsidePath)
        #expect(URL(fileURLWithPath: aside).deletingLastPathComponent().path == dir.root.path)
        #expect(try await cache.value(forKey: "k") == nil)
    }

    @Test func aCopyMovedAsideCanBeOpenedToSalvageItAndSurvivesTheNextRestart() async throws {
        let dir = try CacheDirectory()
        do {
            let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: Self.mapSize))
            try cache.store(bytes("precious"), forKey: "k")
        }
        try Data("3".utf8).write(to: URL(fileURLWithPath: dir.path + "/open-check.marker"))
        let aside = try #require(try DiskCache(configuration: .init(path: dir.path, mapSize: Self.mapSize)).movedAsidePath)
        do {
            // Before: the marker moved with the copy, so this open moved the copy aside again.
            let copy = try DiskCache(configuration: .init(path: aside, mapSize: Self.mapSize))
            #expect(copy.movedAsidePath == nil)
            #expect(try await copy.value(forKey: "k") == bytes("precious"))
        }
        _ = try DiskCache(configuration: .init(path: dir.path, mapSize: Self.mapSize))
        #expect(FileManager.default.fileExists(atPath: aside + "/data.mdb"))
        #expect(try OpenCoordinationTests.copiesMovedAside(of: dir.path) == [URL(fileURLWithPath: aside).lastPathComponent])
    }

    @Test func theCopyJustMovedAsideIsKeptWhateverTheClockSaysOfOlderOnes() async throws {
        let dir = try CacheDirectory()
        // A copy whose name claims a later time (a clock stepped back since).
        let future = dir.path + ".corrupt-99999999999999-1"
        try FileManager.default.createDirectory(atPath: future, withIntermediateDirectories: true)
        _ = try DiskCache(configuration: .init(path: dir.path, mapSize: Self.mapSize))
        try Data("3".utf8).write(to: URL(fileURLWithPath: dir.path + "/open-check.marker"))
        let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: Self.mapSize))
        let aside = try #require(cache.movedAsidePath)
        #expect(FileManager.default.fileExists(atPath: aside))
        #expect(!FileManager.default.fileExists(atPath: future))
    }

    @Test func aProcessHoldingTheCacheThroughASymbolicLinkKeepsItFromBeingMovedAside() async throws {
        let dir = try CacheDirectory()
        _ = try DiskCache(configuration: .init(path: dir.path, mapSize: Self.mapSize))
        let link = dir.root.appendingPathComponent("link").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: dir.path)
        var (child, count) = try await OpenCoordinationTests.holder(link)
        #expect(count == 0, "\(child.errorOutput)")
        try Data("3".utf8).write(to: URL(fileURLWithPath: dir.path + "/open-check.marker"))
        let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: Self.mapSize))
        #expect(cache.movedAsidePath == nil)
        _ = await child.kill()
    }

    @Test func aReadOnlyParentDirectoryDoesNotStopAnOpen() async throws {
        // As systemd's CacheDirectory= lays it out: the parent is root's, the cache the service's.
        let dir = try CacheDirectory()
        let app = dir.root.appendingPathComponent("app").path
        try FileManager.default.createDirectory(atPath: app, withIntermediateDirectories: true)
        if getuid() == 0 {
            // Root writes anywhere: run the opener as nobody.
            #expect(chown(app, 65534, 65534) == 0)
            #expect(chmod(dir.root.path, 0o755) == 0)
            var child = try ChildProcess("/usr/bin/setpriv", [
                "--reuid=65534", "--regid=65534", "--clear-groups", TestSupport.builtExecutable(named: "disk-cache-crash-child").path,
                app, "hold", String(Self.mapSize),
            ])
            let first = await child.lines(atLeast: 1).first
            #expect(first == 0, "\(child.errorOutput)")
            _ = await child.kill()
        } else {
            #expect(chmod(dir.root.path, 0o555) == 0)
            defer { _ = chmod(dir.root.path, 0o755) }
            let cache = try DiskCache(configuration: .init(path: app, mapSize: Self.mapSize))
            try cache.store(bytes("v"), forKey: "k")
            #expect(try await cache.value(forKey: "k") == bytes("v"))
        }
    }
}

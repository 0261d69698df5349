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
    static func holder(_ path: String) throws -> (ChildProcess, Int64?) {
        var child = try ChildProcess("disk-cache-crash-child", [path, "hold", String(mapSize)])
        let count = child.lines(atLeast: 1).first
        return (child, count)
    }

    static func copiesMovedAside(of path: String) throws -> [String] {
        let url = URL(fileURLWithPath: path)
        return try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path)
            .filter { $0.hasPrefix(url.lastPathComponent + ".corrupt-") }.sorted()
    }

    @Test func filesALiveProcessHoldsAreNeverMovedAsideEvenWhenTheMarkerSaysSo() throws {
        let dir = try CacheDirectory()
        do {
            let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: Self.mapSize))
            try cache.store(bytes("kept"), forKey: "k")
        }
        var (child, count) = try Self.holder(dir.path)
        #expect(count == 1, "\(child.errorOutput)")
        // As three opens that raced each other's marker used to leave it (the review's 4th of 8
        // processes read "3" and moved a healthy cache aside under the other seven).
        try Data("3".utf8).write(to: URL(fileURLWithPath: dir.path + "/open-check.marker"))
        do {
            let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: Self.mapSize))
            #expect(cache.movedAsidePath == nil)
            #expect(try cache.value(forKey: "k") == bytes("kept"))
            try cache.store(bytes("shared"), forKey: "k2")
        }
        #expect(try Self.copiesMovedAside(of: dir.path) == [])
        _ = child.kill()
        // Alone again: the marker counts, as it should for a check that keeps dying.
        let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: Self.mapSize))
        #expect(cache.movedAsidePath != nil)
    }

    @Test func eightProcessesOpeningAHealthyCacheAtOnceAllSeeIt() throws {
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
            let count = children[index].lines(atLeast: 1).first
            #expect(count == Int64(entries), "child \(index): \(children[index].errorOutput)")
        }
        #expect(try Self.copiesMovedAside(of: dir.path) == [])
        for index in children.indices { _ = children[index].kill() }
        let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: Self.mapSize))
        #expect(cache.movedAsidePath == nil)
        #expect(try cache.statistics().entries == entries)
    }

    @Test func onlyTheNewestCopyMovedAsideIsKeptAndOneStillHeldIsLeftAlone() throws {
        let dir = try CacheDirectory()
        let fm = FileManager.default
        for name in ["1000-1", "2000-2", "3000-3"] {
            try fm.createDirectory(atPath: dir.path + ".corrupt-" + name, withIntermediateDirectories: true)
            fm.createFile(atPath: dir.path + ".corrupt-\(name)/data.mdb", contents: Data(count: 4096))
        }
        // An older release moved this one aside under a live process, which still has it open.
        try fm.removeItem(atPath: dir.path + ".corrupt-2000-2")
        var (child, count) = try Self.holder(dir.path + ".corrupt-2000-2")
        #expect(count == 0, "\(child.errorOutput)")
        do { _ = try DiskCache(configuration: .init(path: dir.path, mapSize: Self.mapSize)) }
        try Data("3".utf8).write(to: URL(fileURLWithPath: dir.path + "/open-check.marker"))
        let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: Self.mapSize))
        let aside = try #require(cache.movedAsidePath)
        let name = URL(fileURLWithPath: aside).lastPathComponent
        #expect(try Self.copiesMovedAside(of: dir.path) == ["cache.corrupt-2000-2", name].sorted())
        _ = child.kill()
    }
}

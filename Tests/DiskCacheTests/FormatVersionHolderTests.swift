import Foundation
import Synchronization
import Testing
import TestSupport
@testable import DiskCache

/// Files of another format version: moved aside when this process is alone with them, left alone
/// when another live process holds them, and a holder that is only passing through (a child of
/// this process between its fork and its exec holds a copy of every descriptor) is not mistaken
/// for one.
@Suite(.serialized) struct FormatVersionHolderTests {
    static let mapSize = 64 << 20

    /// Writes format version 2 into the cache at `path`, as a newer release would leave it.
    static func markNewerFormat(_ path: String) throws {
        let cache = try DiskCache(configuration: .init(path: path, mapSize: mapSize))
        try cache.store(bytes("old"), forKey: "k")
        try cache.lmdb.write { txn in
            try Meta.versionKey.withUnsafeBytes { k in
                try withUnsafeBytes(of: UInt32(2).littleEndian) { try txn.put(txn.environment.meta, k, $0) }
            }
        }
    }

    /// Runs `body` while a second open file description holds `holders.lock` shared — what a
    /// forked child holds until it execs — and ends that hold exactly when an open starts waiting.
    /// - Returns: what `body` returned, and how often an open started waiting
    static func withTransientHolder<T>(_ path: String, _ body: () throws -> T) throws -> (T, Int) {
        let transient = try FileLock(path: path + "/holders.lock")
        try transient.lock(exclusive: false)
        let calls = CallCount()
        DiskCache.waitingForTransientHolder.withLock {
            $0 = {
                calls.value.withLock { $0 += 1 }
                transient.unlock()
            }
        }
        defer { DiskCache.waitingForTransientHolder.withLock { $0 = nil } }
        let result = try body()
        return (result, calls.value.withLock { $0 })
    }

    @Test func aHolderThatGoesAwayWhileTheOpenWaitsIsNotAnotherProcess() throws {
        let dir = try CacheDirectory()
        try Self.markNewerFormat(dir.path)
        let (cache, calls) = try Self.withTransientHolder(dir.path) {
            try DiskCache(configuration: .init(path: dir.path, mapSize: Self.mapSize))
        }
        #expect(calls >= 1, "the open saw the holder and waited for it")
        #expect(cache.movedAsidePath != nil, "alone with files of another format: moved aside")
        #expect(try cache.value(forKey: "k") == nil)
        try cache.store(bytes("new"), forKey: "k")
        #expect(try cache.value(forKey: "k") == bytes("new"))
    }

    @Test func aTransientHolderDoesNotKeepAFileWhoseCheckKeepsDyingFromBeingMovedAside() throws {
        let dir = try CacheDirectory()
        do {
            let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: Self.mapSize))
            try cache.store(bytes("v"), forKey: "k")
        }
        // Three opens in a row died checking the file (as the marker says)…
        try Data("3".utf8).write(to: URL(fileURLWithPath: dir.path + "/open-check.marker"))
        // …and a forked child holds the lock for a moment.
        let (cache, calls) = try Self.withTransientHolder(dir.path) {
            try DiskCache(configuration: .init(path: dir.path, mapSize: Self.mapSize))
        }
        #expect(calls >= 1, "the open saw the holder and waited for it")
        #expect(cache.movedAsidePath != nil, "not walked a fourth time: moved aside")
    }

    @Test func aCacheThatMovedItsFilesAsideIsTheOneOpenAndTheCopyCanBeSalvaged() throws {
        let dir = try CacheDirectory()
        try Self.markNewerFormat(dir.path)
        let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: Self.mapSize))
        let copy = try #require(cache.movedAsidePath)
        // The directory open now is the new one: a second open of it in this process is refused
        // (it would be a second LMDB environment on the same files)…
        let error = #expect(throws: DiskCacheError.self) {
            _ = try DiskCache(configuration: .init(path: dir.path, mapSize: Self.mapSize))
        }
        #expect(error?.description.contains("already open in this process") == true, "\(String(describing: error))")
        // …while the copy moved aside is not open, and can be opened to salvage it (it is of the
        // newer format, so that open moves it aside in turn: what matters is that it is allowed).
        let salvage = try DiskCache(configuration: .init(path: copy, mapSize: Self.mapSize))
        #expect(salvage.movedAsidePath != nil)
        try cache.store(bytes("v"), forKey: "k")
        #expect(try cache.value(forKey: "k") == bytes("v"))
    }

    @Test func aDirectoryStaysRegisteredUntilItsEnvironmentIsClosed() throws {
        let dir = try CacheDirectory()
        var environment: LMDBEnvironment?
        do {
            let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: Self.mapSize))
            try cache.store(bytes("v"), forKey: "k")
            environment = cache.lmdb  // outlives the cache, as work still running on it would
        }
        #expect(environment != nil)
        #expect(throws: DiskCacheError.self, "the environment is still open: a second one on the files is refused") {
            _ = try DiskCache(configuration: .init(path: dir.path, mapSize: Self.mapSize))
        }
        environment = nil
        let reopened = try DiskCache(configuration: .init(path: dir.path, mapSize: Self.mapSize))
        #expect(try reopened.value(forKey: "k") == bytes("v"))
    }

    @Test func filesOfAnotherFormatThatAnotherProcessHoldsAreLeftAlone() async throws {
        let dir = try CacheDirectory()
        // Another process opens the cache (version 1) and keeps it open; this one then writes
        // version 2 into it, as a newer release sharing the files would.
        var child = try ChildProcess("disk-cache-crash-child", [dir.path, "hold", String(Self.mapSize)])
        let count = await child.lines(atLeast: 1).first
        #expect(count == 0, "\(child.errorOutput)")
        try Self.markNewerFormat(dir.path)
        let error = #expect(throws: DiskCacheError.self) {
            _ = try DiskCache(configuration: .init(path: dir.path, mapSize: Self.mapSize))
        }
        #expect(error?.description.contains("in use by another process with format version 2") == true, "\(String(describing: error))")
        let siblings = try FileManager.default.contentsOfDirectory(atPath: URL(fileURLWithPath: dir.path).deletingLastPathComponent().path)
        #expect(!siblings.contains { $0.hasPrefix(URL(fileURLWithPath: dir.path).lastPathComponent + ".corrupt-") }, "nothing moved aside")
        #expect(child.process.isRunning, "the holder is unharmed: \(child.errorOutput)")
        _ = await child.kill()
        // Alone now: the files are moved aside.
        let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: Self.mapSize))
        #expect(cache.movedAsidePath != nil)
    }
}

/// Counts a hook's calls.
final class CallCount: Sendable {
    let value = Mutex(0)
}

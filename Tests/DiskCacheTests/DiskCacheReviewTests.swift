import Foundation
import Testing
import TestSupport
@testable import DiskCache

/// Cases found by reviewing the disk cache against LMDB's contract.
@Suite struct DiskCacheReviewTests {
    @Test func aStaleTagIndexEntryDoesNotRemoveAnEntryThatNoLongerCarriesTheTag() throws {
        let dir = try CacheDirectory()
        let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: 64 << 20))
        try cache.store(bytes("v1"), forKey: "k", tags: ["orders"])
        // As after deleting a record whose header was corrupt: the record goes, its tag entry stays.
        try cache.lmdb.write { txn in
            _ = try KeyHash.bytes(KeyHash.of("k")).withUnsafeBytes { try txn.delete(txn.environment.entries, $0) }
        }
        try cache.store(bytes("v2"), forKey: "k", tags: ["customers"])
        #expect(try cache.removeAll(taggedWith: "orders") == 0)
        #expect(try cache.value(forKey: "k") == bytes("v2"))
    }

    @Test func entriesWithoutExpiryLeaveNoExpiryIndexEntries() throws {
        let dir = try CacheDirectory()
        let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: 64 << 20))
        try cache.store(bytes("a"), forKey: "k", expiresAt: .max)
        try cache.store(bytes("b"), forKey: "k", expiresAt: .max)
        try cache.removeValue(forKey: "k")
        #expect(try cache.lmdb.read { try $0.count(cache.lmdb.expiry) } == 0)
        #expect(try cache.consistencyProblems() == [])
    }

    @Test func overlongTagsAreRefused() throws {
        let dir = try CacheDirectory()
        let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: 64 << 20))
        #expect(throws: DiskCacheError.self) {
            try cache.store(bytes("a"), forKey: "k", tags: [String(repeating: "t", count: DiskCache.maxTagBytes + 1)])
        }
        #expect(try cache.statistics().entries == 0)
    }

    @Test func anOpenFailureThatIsNotDamageLeavesTheFilesAlone() throws {
        let dir = try CacheDirectory()
        do {
            let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: 64 << 20))
            try cache.store(bytes("kept"), forKey: "k")
        }
        // A map far beyond the address space: LMDB refuses it; that is not the file's fault.
        #expect(throws: (any Error).self) { try DiskCache(configuration: .init(path: dir.path, mapSize: 1 << 62)) }
        let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: 64 << 20))
        #expect(cache.movedAsidePath == nil)
        #expect(try cache.value(forKey: "k") == bytes("kept"))
    }

    @Test func opensWhoseCheckNeverFinishedMoveTheFilesAsideOnlyWhenTheyRepeat() throws {
        let dir = try CacheDirectory()
        do {
            let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: 64 << 20))
            try cache.store(bytes("kept"), forKey: "k")
        }
        let marker = dir.path + "/open-check.marker"
        // One unfinished check (a process killed while opening): the data stays.
        try Data("1".utf8).write(to: URL(fileURLWithPath: marker))
        do {
            let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: 64 << 20))
            #expect(cache.movedAsidePath == nil)
            #expect(try cache.value(forKey: "k") == bytes("kept"))
        }
        #expect(!FileManager.default.fileExists(atPath: marker))
        // Three in a row: the check keeps dying, so the file is not walked again.
        try Data("3".utf8).write(to: URL(fileURLWithPath: marker))
        let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: 64 << 20))
        #expect(cache.movedAsidePath != nil)
        #expect(try cache.value(forKey: "k") == nil)
        try cache.store(bytes("new"), forKey: "k")
        #expect(try cache.value(forKey: "k") == bytes("new"))
    }
}

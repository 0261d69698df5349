import Foundation
import Synchronization
import Testing
import TestSupport
@testable import DiskCache

/// A clock the test moves by hand.
final class ManualDiskClock: DiskCacheClock {
    let micros: Mutex<Int64>
    init(_ start: Int64 = 1_800_000_000_000_000) { micros = Mutex(start) }
    func now() -> Int64 { micros.withLock { $0 } }
    func advance(seconds: Int64) { micros.withLock { $0 += seconds * 1_000_000 } }
}

/// A flag one task sets and others read.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}

/// A fresh cache directory, removed after the test.
struct CacheDirectory: ~Copyable {
    let root: URL
    var path: String { root.appendingPathComponent("cache").path }
    init(_ label: String = #function) throws { root = try TestSupport.temporaryDirectory(label) }
    deinit { TestSupport.remove(root) }
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

extension DiskCache {
    /// The synchronous `put` for arrays (the array `put` is the async one).
    func store(_ value: [UInt8], forKey key: String, expiresAt: Int64? = nil, tags: [String] = []) throws {
        try value.withUnsafeBytes { try put($0, forKey: key, expiresAt: expiresAt, tags: tags) }
    }
}

@Suite struct DiskCacheTests {
    @Test func crc32cHasItsCheckValue() throws {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
        #expect(Array("123456789".utf8).withUnsafeBytes { CRC32C.softwareChecksum($0) } == 0xE306_9283)
        // Slicing-by-8 and the byte loop agree at every length and alignment.
        let data = (0..<100).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        for start in 0..<9 {
            for end in start...data.count {
                var crc: UInt32 = 0xFFFF_FFFF
                for b in data[start..<end] {
                    crc ^= UInt32(b)
                    for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
                }
                #expect(CRC32C.checksum(data[start..<end]) == ~crc)
                #expect(data[start..<end].withUnsafeBytes { CRC32C.softwareChecksum($0) } == ~crc)
            }
        }
    }

    @Test func recordsRoundTripAndRejectEveryKindOfDamage() throws {
        let value = (0..<1000).map { UInt8(truncatingIfNeeded: $0) }
        let record = value.withUnsafeBytes {
            EntryRecord.encode(key: "q/é", value: $0, createdAt: 5, expiresAt: 9, tags: ["orders", "", "t"])
        }
        let decoded = try record.withUnsafeBytes { try EntryRecord.decode($0) }
        #expect(decoded.key == "q/é" && decoded.tags == ["orders", "", "t"] && decoded.createdAt == 5 && decoded.expiresAt == 9)
        #expect(decoded.valueOffset % 8 == 0 && decoded.valueLength == 1000)
        let stored = try record.withUnsafeBytes { bytes throws -> [UInt8] in Array(try decoded.verifyValue(in: bytes)) }
        #expect(stored == value)

        func problem(_ damaged: [UInt8]) -> EntryRecord.Problem? {
            damaged.withUnsafeBytes { bytes in
                do throws(EntryRecord.Problem) {
                    let r = try EntryRecord.decode(bytes)
                    _ = try r.verifyValue(in: bytes)
                    return nil
                } catch { return error }
            }
        }
        var flipped = record
        flipped[record.count - 1] ^= 1
        #expect(problem(flipped) == .valueChecksum)
        var header = record
        header[60] ^= 0x40  // inside the key
        #expect(problem(header) == .headerChecksum)
        var version = record
        version[4] = 9
        #expect(problem(version) == .unknownVersion(9))
        #expect(problem(Array(record.prefix(40))) == .truncated)
        if case .malformed = problem(Array(record.dropLast())) {} else { Issue.record("a shortened value must not decode") }
        #expect(problem(Array(repeating: 0, count: 100)) == .badMagic)
    }

    @Test func storesReplacesAndRemovesValues() throws {
        let dir = try CacheDirectory()
        let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: 64 << 20))
        #expect(try cache.value(forKey: "a") == nil)
        try cache.store(bytes("one"), forKey: "a")
        try cache.store(bytes("two"), forKey: "b")
        #expect(try cache.value(forKey: "a") == bytes("one"))
        try cache.store(bytes("uno"), forKey: "a")
        #expect(try cache.value(forKey: "a") == bytes("uno"))
        // Read in place: the pointer is the record's value, 8-byte aligned relative to the record.
        #expect(try cache.withValue(forKey: "b") { String(decoding: $0, as: UTF8.self) } == "two")
        #expect(try cache.removeValue(forKey: "a"))
        #expect(try !cache.removeValue(forKey: "a"))
        #expect(try cache.value(forKey: "a") == nil)
        let stats = try cache.statistics()
        #expect(stats.entries == 1 && stats.hits == 3 && stats.misses == 2)
        #expect(try cache.consistencyProblems() == [])
        try cache.removeAll()
        #expect(try cache.statistics().entries == 0 && cache.statistics().recordBytes == 0)
    }

    @Test func tagsRemoveExactlyTheirEntries() throws {
        let dir = try CacheDirectory()
        let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: 64 << 20))
        for i in 0..<30 {
            try cache.store(bytes("v\(i)"), forKey: "k\(i)", tags: ["mod\(i % 3)", "all", String(repeating: "x", count: 600)])
        }
        // Replacing an entry without a tag takes it out of that tag.
        try cache.store(bytes("new"), forKey: "k0", tags: ["other"])
        #expect(try cache.removeAll(taggedWith: "mod0") == 9)
        #expect(try cache.value(forKey: "k0") == bytes("new"))
        #expect(try cache.value(forKey: "k3") == nil && cache.value(forKey: "k1") == bytes("v1"))
        #expect(try cache.removeAll(taggedWith: "missing") == 0)
        #expect(try cache.consistencyProblems() == [])
        #expect(try cache.removeAll(taggedWith: String(repeating: "x", count: 600)) == 20)
        #expect(try cache.statistics().entries == 1)
        #expect(try cache.consistencyProblems() == [])
    }

    @Test(arguments: [4 << 20, 64 << 20])
    func removingManyTagsAtOnceRemovesEachCarrierOnceAndAdvancesTheGenerationOnce(mapSize: Int) throws {
        // A 4 MiB map removes 8 entries per transaction: the removal spans many transactions and
        // stops part-way through tags; 64 MiB does it in one.
        let dir = try CacheDirectory()
        let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: mapSize))
        var expected = Set<String>()
        for i in 0..<120 {
            let tags = ["t\(i % 5)", "u\(i % 4)"]
            try cache.store(bytes("v\(i)"), forKey: "k\(i)", tags: tags)
            if i % 5 < 2 || i % 4 == 3 { expected.insert("k\(i)") }
        }
        let before = try cache.generation()
        #expect(try cache.removeAll(taggedWithAnyOf: ["t0", "t1", "u3", "missing", "t1"]) == expected.count)
        #expect(try cache.generation() == before + 1)
        for i in 0..<120 {
            #expect(try (cache.value(forKey: "k\(i)") == nil) == expected.contains("k\(i)"), "k\(i)")
        }
        #expect(try cache.statistics().entries == 120 - expected.count)
        #expect(try cache.consistencyProblems() == [])
        // No tag at all still fences loads in flight.
        #expect(try cache.removeAll(taggedWithAnyOf: [String]()) == 0)
        #expect(try cache.generation() == before + 2)
    }

    @Test func expiryIsHonouredAcrossReopenAndSwept() async throws {
        let dir = try CacheDirectory()
        let clock = ManualDiskClock()
        let start = clock.now()
        do {
            let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: 64 << 20, clock: clock))
            try cache.store(bytes("soon"), forKey: "a", expiresAt: start + 10_000_000)
            try cache.store(bytes("later"), forKey: "b", expiresAt: start + 100_000_000)
            try cache.store(bytes("never"), forKey: "c")
            #expect(try await cache.value(forKey: "a") == bytes("soon"))
        }
        clock.advance(seconds: 10)
        let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: 64 << 20, clock: clock))
        #expect(try await cache.value(forKey: "a") == nil)  // expired: never returned, even before the sweep
        #expect(try await cache.value(forKey: "b") == bytes("later"))
        #expect(try await DiskCacheMaintenance(cache: cache).runOnce() == 1)
        #expect(try cache.statistics().entries == 2)
        clock.advance(seconds: 100)
        #expect(try cache.removeExpired() == 1)
        #expect(try await cache.value(forKey: "c") == bytes("never"))
        #expect(try cache.consistencyProblems() == [])
    }

    @Test func leastRecentlyReadEntriesAreEvictedFirst() throws {
        let dir = try CacheDirectory()
        let clock = ManualDiskClock()
        let value = [UInt8](repeating: 7, count: 1000)
        let recordSize = value.withUnsafeBytes { EntryRecord.encode(key: "k0", value: $0, createdAt: 0, expiresAt: .max, tags: []).count }
        let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: 64 << 20, byteBudget: 10 * recordSize, clock: clock))
        for i in 0..<10 {
            try cache.store(value, forKey: "k\(i)")
            clock.advance(seconds: 1)
        }
        #expect(try cache.value(forKey: "k0") != nil)  // now the most recently read
        try cache.store(value, forKey: "k10")
        #expect(try cache.value(forKey: "k1") == nil)  // the oldest unread one went
        #expect(try cache.value(forKey: "k0") != nil)
        let stats = try cache.statistics()
        #expect(stats.entries == 10 && stats.evictions == 1 && stats.recordBytes <= stats.byteBudget)
        // A record larger than the whole budget is refused, nothing is lost.
        #expect(throws: DiskCacheError.self) { try cache.store([UInt8](repeating: 1, count: 11 * recordSize), forKey: "huge") }
        #expect(try cache.statistics().entries == 10)
    }

    @Test func budgetHoldsUnderAConcurrentWriteFlood() async throws {
        let dir = try CacheDirectory()
        let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: 64 << 20, byteBudget: 1 << 20))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<4 {
                group.addTask {
                    for i in 0..<150 {
                        try await cache.put([UInt8](repeating: UInt8(i & 0xFF), count: 4000 + 37 * i), forKey: "w\(writer)-\(i)", tags: ["w\(writer)"])
                    }
                }
            }
            try await group.waitForAll()
        }
        let stats = try cache.statistics()
        #expect(stats.recordBytes <= 1 << 20)
        #expect(stats.evictions > 0 && stats.entries + stats.evictions == 600)
        #expect(try cache.consistencyProblems() == [])
    }

    @Test func aBudgetTheMapCannotHoldIsRefusedAtOpenAndAFittingOneNeverFillsTheMap() throws {
        let dir = try CacheDirectory()
        // A budget far above what the 2 MiB map can hold: refused, naming both sizes.
        let error = #expect(throws: DiskCacheError.self) {
            try DiskCache(configuration: .init(path: dir.path, mapSize: 2 << 20, byteBudget: 1 << 30))
        }
        #expect(error?.description.contains("2097152") == true)
        let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: 2 << 20, byteBudget: (2 << 20) / 8 * 7))
        for i in 0..<200 {
            try cache.store([UInt8](repeating: UInt8(i & 0xFF), count: 50_000), forKey: "k\(i)")
        }
        // Every store succeeded (a throw fails the test). A 50 KB value needs 13 contiguous pages:
        // when the free pages are fragmented LMDB may still report the map full, and the write is
        // recovered by evicting what it needs — rarely, not on every write as before.
        let stats = try cache.statistics()
        #expect(stats.entries < 200 && stats.entries > 0)
        #expect(stats.mapFullRecoveries < 20)
        #expect(try cache.value(forKey: "k199") == [UInt8](repeating: 199, count: 50_000))
        #expect(try cache.consistencyProblems() == [])
    }

    @Test func readersSeeWholeValuesWhileAWriterReplacesThem() async throws {
        let dir = try CacheDirectory()
        let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: 64 << 20))
        @Sendable func value(_ key: Int, _ version: Int) -> [UInt8] {
            [UInt8](repeating: UInt8(truncatingIfNeeded: key &* 31 &+ version), count: 3000 + version % 500)
        }
        for key in 0..<10 { try cache.store(value(key, 0), forKey: "k\(key)") }
        let done = Flag()
        try await withThrowingTaskGroup(of: Int.self) { group in
            group.addTask {
                for version in 1...300 { try await cache.put(value(version % 10, version), forKey: "k\(version % 10)") }
                done.set()
                return 0
            }
            for reader in 0..<3 {
                group.addTask {
                    var reads = 0
                    while !done.isSet || reads < 100 {
                        let key = (reads + reader) % 10
                        guard let got = try await cache.value(forKey: "k\(key)") else { Issue.record("k\(key) missing"); return reads }
                        // Whole and self-consistent: one byte repeated, the length its version gives.
                        let version = (0...300).first { ($0 == 0 || $0 % 10 == key) && value(key, $0) == got }
                        #expect(version != nil, "k\(key): torn or foreign value of \(got.count) bytes")
                        reads += 1
                    }
                    return reads
                }
            }
            for try await _ in group {}
        }
        #expect(try cache.consistencyProblems() == [])
    }
}

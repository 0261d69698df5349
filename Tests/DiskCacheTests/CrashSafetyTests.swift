import CrashWorkload
import Foundation
import Testing
import TestSupport
@testable import DiskCache

#if canImport(Glibc)
import Glibc
#endif

/// Crash safety with real processes: a child applies `CrashWorkload` to the cache and prints each
/// operation's index after it returns; the test SIGKILLs it at a random point, reopens the cache and
/// checks it against the workload replayed up to the last printed operation. Also: files damaged on
/// purpose, and files of another format version.
///
/// `DISK_CACHE_CRASH_CYCLES` sets the number of kill cycles (default 20).
@Suite struct CrashSafetyTests {
    /// Runs the child from operation `first`, kills it after it has reported `reports` operations,
    /// and returns the last operation it reported (after draining its output), or `first - 1`.
    func runChild(path: String, durability: String, first: Int, reports: Int, profile: CrashWorkload.Profile) async throws -> Int {
        var child = try ChildProcess("disk-cache-crash-child", [path, durability, String(first), profile.rawValue])
        _ = await child.lines(atLeast: reports)
        let complete = await child.kill().map { Int($0) }
        #expect(child.wasKilled, "the child must have been killed, not have failed or crashed: \(child.errorOutput)")
        if let last = complete.last { #expect(complete == Array(first...last)) }
        return complete.last ?? first - 1
    }

    /// The workload's effect on one key: its value, or nil when absent.
    typealias Model = [String: [UInt8]?]

    static func apply(_ operation: CrashWorkload.Operation, to model: inout Model) {
        switch operation {
        case .put(let key, let value, _, let expired): model[key] = .some(expired ? nil : value)
        case .remove(let key): model[key] = .some(nil)
        case .removeTag(let tag):
            for (key, _) in model where tagsOf(key).contains(tag) { model[key] = .some(nil) }
        case .sweep: break
        }
    }

    /// The synchronous read (in an async function the async overload, which hops threads per
    /// key, would be chosen and make each cycle's check slow).
    static func storedValue(_ cache: DiskCache, _ key: String) throws -> [UInt8]? { try cache.value(forKey: key) }

    static func tagsOf(_ key: String) -> [String] {
        guard let n = Int(key.dropFirst(4)) else { return [] }
        return ["tag-\(n % 4)", "all"]
    }

    @Test func killedWritersLoseNothingCommittedAndLeaveConsistentIndexes() async throws {
        let cycles = ProcessInfo.processInfo.environment["DISK_CACHE_CRASH_CYCLES"].flatMap(Int.init) ?? 20
        let dir = try CacheDirectory()
        let (next, _) = try await killCycles(path: dir.path, profile: .roomy, cycles: cycles, seed: 0xC0FFEE)
        print("disk cache crash test (roomy): \(cycles) kill cycles, \(next) operations")
        #expect(next > cycles)
    }

    /// The tight workload evicts (by bytes and by pages), writes and sweeps expired entries, and a
    /// second process reads the cache throughout: the kills land in all of that.
    @Test func killsDuringEvictionExpiryAndAFullMapWithAnotherProcessReadingLeaveNoDamage() async throws {
        let cycles = ProcessInfo.processInfo.environment["DISK_CACHE_CRASH_CYCLES"].flatMap(Int.init) ?? 20
        let dir = try CacheDirectory()
        // It lives through half of the cycles, which take minutes on a loaded machine.
        var reader = try ChildProcess("disk-cache-crash-child", [dir.path, "read", "tight"], watchdogSeconds: 900)
        let reading = await reader.lines(atLeast: 1)
        #expect(!reading.isEmpty, "the reader must be reading: \(reader.errorOutput)")
        var rounds: [Int64] = []
        // The reader lives through the first half of the cycles (every open joins it), then the
        // second half opens alone (the open check, and the move-aside path, are exercised).
        let (next, evictedCycles) = try await killCycles(path: dir.path, profile: .tight, cycles: cycles, seed: 0xBADCAFE) { cycle in
            guard cycle == cycles / 2 else { return }
            #expect(reader.process.isRunning, "the reading process died: \(reader.errorOutput)")
            rounds = await reader.kill()
            #expect(reader.wasKilled, "the reader must have been killed, not have failed: \(reader.errorOutput)")
        }
        #expect(!rounds.isEmpty && rounds.allSatisfy { $0 == 0 }, "the reader met corrupt records: \(rounds.filter { $0 != 0 })")
        print("disk cache crash test (tight): \(cycles) kill cycles, \(next) operations, evictions seen in \(evictedCycles) cycles, \(rounds.count) reader rounds")
        #expect(next > cycles)
        #expect(evictedCycles > 0, "the tight workload must evict")
    }

    /// Kills a writer `cycles` times and checks the cache against the model after each.
    /// - Returns: the next operation index, and in how many cycles entries were found evicted
    func killCycles(
        path: String, profile: CrashWorkload.Profile, cycles: Int, seed: UInt64, afterEachCycle: (Int) async -> Void = { _ in }
    ) async throws -> (Int, Int) {
        var random = SeededRandom(seed: seed)
        var model: Model = [:]  // what the cache must hold after the operations applied so far
        var next = 0
        var evictedCycles = 0
        // Roomy: nothing is ever evicted, so every committed value must be there. Tight: a value
        // may be missing (evicted), but never wrong, never half an operation, never resurrected.
        let mayEvict = profile == .tight
        for cycle in 0..<cycles {
            let durability = ["none", "eventual", "immediate"][cycle % 3]
            // Sometimes kill before the first report: during open, or inside the first write.
            let reports = random.below(4) == 0 ? 0 : 1 + random.below(profile == .tight ? 400 : 60)
            let last = try await runChild(path: path, durability: durability, first: next, reports: reports, profile: profile)
            for i in next..<(last + 1) { Self.apply(CrashWorkload.operation(i, profile), to: &model) }
            // Operation last + 1 may have committed before the kill, or not.
            var withInFlight = model
            Self.apply(CrashWorkload.operation(last + 1, profile), to: &withInFlight)

            let cache = try DiskCache(configuration: .init(path: path, mapSize: profile.mapSize, byteBudget: profile.byteBudget))
            #expect(cache.movedAsidePath == nil, "cycle \(cycle): a killed process must not damage the file")
            #expect(try cache.consistencyProblems() == [], "cycle \(cycle)")
            #expect(try cache.statistics().corruptEntries == 0, "cycle \(cycle)")
            var inFlightCommitted: Bool?
            var missing = 0
            for n in 0..<profile.keyCount {
                let key = CrashWorkload.key(n, profile)
                let stored = try Self.storedValue(cache, key)
                let before = model[key] ?? nil, after = withInFlight[key] ?? nil
                if stored == nil, mayEvict, before != nil || after != nil {
                    missing += 1
                    continue
                }
                if before == after {
                    #expect(stored == before, "cycle \(cycle) \(key): committed state lost")
                } else {
                    #expect(stored == before || stored == after, "cycle \(cycle) \(key): neither before nor after")
                    // An absent value after a put could be an eviction: it decides nothing.
                    if mayEvict, stored == nil { continue }
                    let committed = stored == after
                    #expect(inFlightCommitted == nil || inFlightCommitted == committed, "cycle \(cycle): half an operation")
                    inFlightCommitted = committed
                }
            }
            if missing > 0 { evictedCycles += 1 }
            if inFlightCommitted == true {
                model = withInFlight
                next = last + 2
            } else {
                // Not committed, or not observable: the next child starts with it again either way
                // (re-applying a put, remove, tag removal or sweep gives the same state).
                next = last + 1
            }
            await afterEachCycle(cycle)
        }
        return (next, evictedCycles)
    }

    @Test func aFileOverwrittenWithRandomBytesOpensAsAnEmptyWorkingCache() async throws {
        let dir = try CacheDirectory()
        do {
            let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: 64 << 20))
            for i in 0..<200 { try cache.store([UInt8](repeating: UInt8(i & 0xFF), count: 3000), forKey: "k\(i)", tags: ["t"]) }
        }
        let data = URL(fileURLWithPath: dir.path).appendingPathComponent("data.mdb")
        var file = [UInt8](try Data(contentsOf: data))
        var random = SeededRandom(seed: 7)
        // Both meta pages and a run of pages further in.
        for i in 0..<(2 * 4096) { file[i] = UInt8(truncatingIfNeeded: random.next()) }
        for i in (file.count / 2)..<min(file.count, file.count / 2 + 20 * 4096) { file[i] = UInt8(truncatingIfNeeded: random.next()) }
        try Data(file).write(to: data)

        let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: 64 << 20))
        let aside = try #require(cache.movedAsidePath)
        #expect(FileManager.default.fileExists(atPath: aside + "/data.mdb"))
        #expect(try cache.statistics().entries == 0)
        try cache.store(bytes("fresh"), forKey: "k1")
        #expect(try await cache.value(forKey: "k1") == bytes("fresh"))
        #expect(try cache.consistencyProblems() == [])
    }

    @Test func aDamagedValueIsAMissThatDeletesTheEntry() async throws {
        let dir = try CacheDirectory()
        let marker = Array("MARKER-0123456789-MARKER".utf8)
        do {
            let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: 64 << 20))
            try cache.store(marker + [UInt8](repeating: 1, count: 10_000), forKey: "damaged", tags: ["t"])
            try cache.store(bytes("fine"), forKey: "intact", tags: ["t"])
        }
        let data = URL(fileURLWithPath: dir.path).appendingPathComponent("data.mdb")
        var file = [UInt8](try Data(contentsOf: data))
        let at = try #require((0...(file.count - marker.count)).first { file[$0..<($0 + marker.count)].elementsEqual(marker) })
        file[at + 3] ^= 0xFF
        try Data(file).write(to: data)

        let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: 64 << 20))
        #expect(cache.movedAsidePath == nil)  // the structure is intact; only a value is damaged
        #expect(try await cache.value(forKey: "damaged") == nil)
        #expect(try cache.statistics().corruptEntries == 1)
        #expect(try cache.statistics().entries == 1)
        #expect(try await cache.value(forKey: "intact") == bytes("fine"))
        #expect(try await cache.removeAll(taggedWith: "t") == 1)
    }

    @Test func aFileOfAnotherFormatVersionIsMovedAside() async throws {
        let dir = try CacheDirectory()
        do {
            let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: 64 << 20))
            try cache.store(bytes("old"), forKey: "k")
            // As a newer release would leave it.
            try cache.lmdb.write { txn in
                try Meta.versionKey.withUnsafeBytes { k in
                    try withUnsafeBytes(of: UInt32(2).littleEndian) { try txn.put(txn.environment.meta, k, $0) }
                }
            }
        }
        let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: 64 << 20))
        #expect(cache.movedAsidePath != nil)
        #expect(try await cache.value(forKey: "k") == nil)
        try cache.store(bytes("new"), forKey: "k")
        #expect(try await cache.value(forKey: "k") == bytes("new"))
    }
}

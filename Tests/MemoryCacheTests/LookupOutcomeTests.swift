import Synchronization
import TestSupport
import Testing

@testable import MemoryCache

/// Issue 11, defects 1 and 9: how a lookup was served, superseded loads, conditional inserts and
/// multi-tag invalidation.
@Suite struct LookupOutcomeTests {
    @Test func outcomesSayHitLoadedAndJoinedWithGenerationAndAge() async throws {
        let clock = ManualCacheClock()
        let cache = MemoryCache<String, Int>(configuration: .init(bound: .entries(10), clock: clock))
        let gate = AsyncGate()
        let starter = Task { try await cache.lookup("k") { try await gate.wait(); return Loaded(1) } }
        await eventually("the load runs") { cache.waitersForLoad(forKey: "k") == 1 }
        let joiner = Task { try await cache.lookup("k") { Loaded(2) } }
        await eventually("the joiner waits") { cache.waitersForLoad(forKey: "k") == 2 }
        gate.open()
        let started = try await starter.value
        let joined = try await joiner.value
        #expect(started.outcome == .loaded && started.value == 1)
        #expect(joined.outcome == .joined && joined.value == 1)
        #expect(started.generation != nil && started.generation == joined.generation)
        clock.advance(by: .seconds(7))
        let hit = try await cache.lookup("k") { Loaded(3) }
        #expect(hit.outcome == .hit && hit.value == 1 && hit.generation == started.generation)
        #expect(hit.age == .seconds(7))
        #expect(cache.lookup("k")?.age == .seconds(7))
        cache.insert(4, forKey: "k")
        #expect(try #require(cache.lookup("k")?.generation) > #require(started.generation))
    }

    /// Defect 1: callers that waited on a load an invalidation raced get its value marked
    /// superseded (it is not stored); a call that starts after the invalidation loads afresh.
    @Test(arguments: ["key", "tag", "predicate", "all", "insert"])
    func aRacedLoadIsReportedSupersededAndACallAfterTheInvalidationLoadsAfresh(invalidation: String) async throws {
        let cache = MemoryCache<String, Int>(maximumCount: 10)
        let gate = AsyncGate()
        let loads = CallCounter()
        let loader: @Sendable () async throws -> Loaded<Int> = {
            let n = loads.increment()
            if n == 1 { try await gate.wait() }
            return Loaded(n * 100)
        }
        let starter = Task { try await cache.lookup("k", tags: ["Order"], orLoad: loader) }
        await eventually("the load runs") { cache.waitersForLoad(forKey: "k") == 1 }
        let joiner = Task { try await cache.lookup("k", tags: ["Order"], orLoad: loader) }
        await eventually("the joiner waits") { cache.waitersForLoad(forKey: "k") == 2 }
        switch invalidation {
        case "key": cache.removeValue(forKey: "k")
        case "tag": cache.removeAll(taggedWith: "Order")
        case "predicate": cache.removeAll(where: { $0.hasPrefix("k") })
        case "all": cache.removeAll()
        default: cache.insert(7, forKey: "k")
        }
        // Started after the invalidation returned: never joins the raced load.
        let after = try await cache.lookup("k", tags: ["Order"], orLoad: loader)
        if invalidation == "insert" {
            #expect(after.outcome == .hit && after.value == 7)
        } else {
            #expect(after.outcome == .loaded && after.value == 200)
        }
        gate.open()
        for task in [starter, joiner] {
            let raced = try await task.value
            #expect(raced.outcome == .superseded && raced.value == 100 && raced.generation == nil)
        }
        #expect(cache.value(forKey: "k") == (invalidation == "insert" ? 7 : 200), "the superseded value was stored")
    }

    @Test func aValueRefusedAsTooHeavyIsLoadedButNotSuperseded() async throws {
        let cache = MemoryCache<String, Int>(configuration: .init(bound: .weight(10, weigher: { _, _ in 1 })))
        let result = try await cache.lookup("big") { Loaded(1, weight: 11) }
        #expect(result.outcome == .loaded && result.generation == nil)
        #expect(cache.value(forKey: "big") == nil)
    }

    @Test func conditionalInsertLosesToAnyNewerStoreOrInvalidation() throws {
        let cache = MemoryCache<String, Int>(maximumCount: 100)
        // Nothing happened since the token: stored.
        var token = cache.currentGeneration
        #expect(cache.insert(1, forKey: "a", tags: ["T"], ifUnchangedSince: token))
        #expect(cache.value(forKey: "a") == 1)
        // A newer store of the key wins.
        token = cache.currentGeneration
        cache.insert(2, forKey: "a")
        #expect(!cache.insert(3, forKey: "a", ifUnchangedSince: token))
        #expect(cache.value(forKey: "a") == 2)
        // An invalidation of an absent key wins (a promotion read before it is stale).
        token = cache.currentGeneration
        cache.removeValue(forKey: "b")
        #expect(!cache.insert(1, forKey: "b", ifUnchangedSince: token))
        #expect(cache.value(forKey: "b") == nil)
        // A tag invalidation wins for a key declared with that tag, and only for it.
        token = cache.currentGeneration
        cache.removeAll(taggedWith: "Order")
        #expect(!cache.insert(1, forKey: "c", tags: ["Order"], ifUnchangedSince: token))
        #expect(cache.insert(1, forKey: "d", tags: ["Customer"], ifUnchangedSince: token))
        // A predicate invalidation counts as touching every key.
        token = cache.currentGeneration
        cache.removeAll(where: { $0 == "zzz" })
        #expect(!cache.insert(1, forKey: "e", ifUnchangedSince: token))
        // Invalidations of other keys do not matter.
        token = cache.currentGeneration
        cache.removeValue(forKey: "other")
        cache.insert(9, forKey: "other2")
        #expect(cache.insert(5, forKey: "f", ifUnchangedSince: token))
    }

    @Test func conditionalInsertWithATokenOlderThanTheTouchLogIsRefused() throws {
        let cache = MemoryCache<String, Int>(maximumCount: 100)
        let token = cache.currentGeneration
        for i in 0..<(TouchLog<String>.keyCapacity + 1) { cache.removeValue(forKey: "x\(i)") }
        #expect(!cache.insert(1, forKey: "unrelated", ifUnchangedSince: token), "cannot prove nothing touched it")
        let fresh = cache.currentGeneration
        #expect(cache.insert(1, forKey: "unrelated", ifUnchangedSince: fresh))
    }

    @Test func multiTagInvalidationRemovesEveryMatchAndCounts() async throws {
        let cache = MemoryCache<String, Int>(maximumCount: 100)
        cache.insert(1, forKey: "a", tags: ["A"])
        cache.insert(2, forKey: "b", tags: ["B"])
        cache.insert(3, forKey: "ab", tags: ["A", "B"])
        cache.insert(4, forKey: "c", tags: ["C"])
        let gate = AsyncGate()
        let load = Task { try await cache.lookup("loading", tags: ["B"]) { try await gate.wait(); return Loaded(5) } }
        await eventually("the load runs") { cache.waitersForLoad(forKey: "loading") == 1 }
        #expect(cache.removeAll(taggedWithAnyOf: ["A", "B", "nothing"]) == 3)
        #expect(cache.value(forKey: "a") == nil && cache.value(forKey: "b") == nil && cache.value(forKey: "ab") == nil)
        #expect(cache.value(forKey: "c") == 4)
        #expect(cache.removeAll(taggedWith: "C") == 1)
        #expect(cache.removeAll(taggedWith: "C") == 0)
        gate.open()
        #expect(try await load.value.outcome == .superseded)
        #expect(cache.value(forKey: "loading") == nil)
    }

    /// Review: a newer store that was evicted, expired or refused since still wins over the token.
    @Test func aConditionalInsertLosesToANewerStoreEvenAfterItWasEvictedOrExpired() throws {
        let clock = ManualCacheClock()
        let cache = MemoryCache<String, Int>(configuration: .init(bound: .entries(1), clock: clock, shardCount: 1, seed: 1))
        var token = cache.currentGeneration
        cache.insert(2, forKey: "k")
        cache.insert(0, forKey: "other")  // evicts k (or other): either way k's store happened after the token
        #expect(!cache.insert(1, forKey: "k", ifUnchangedSince: token))
        #expect(cache.value(forKey: "k") != 1)
        cache.removeAll()
        token = cache.currentGeneration
        cache.insert(3, forKey: "e", expiry: .after(.seconds(1)))
        clock.advance(by: .seconds(2))
        cache.cleanUp()
        #expect(!cache.insert(1, forKey: "e", ifUnchangedSince: token))
        #expect(cache.value(forKey: "e") == nil)
        // A tag invalidation that removed the key wins even when the insert names no tags.
        cache.insert(4, forKey: "t", tags: ["Order"])
        token = cache.currentGeneration
        cache.removeAll(taggedWith: "Order")
        #expect(!cache.insert(5, forKey: "t", ifUnchangedSince: token))
    }

    /// Review: a value already expired when stored is not kept and costs no live entry its place.
    @Test func anAlreadyExpiredValueNeverCostsALiveEntryItsPlace() async throws {
        let clock = ManualCacheClock()
        let log = RemovalLog<String, Int>()
        let cache = MemoryCache<String, Int>(configuration: .init(
            bound: .entries(1), removalListener: log.record, clock: clock, shardCount: 1))
        cache.insert(1, forKey: "live")
        cache.insert(2, forKey: "dead", expiry: .after(.zero))
        #expect(cache.value(forKey: "live") == 1 && cache.count == 1)
        #expect(log.entries.map { "\($0.0):\($0.2)" } == ["dead:expired"])
        let loaded = try await cache.lookup("late") { Loaded(3, expiry: .at(clock.instant - .seconds(1))) }
        #expect(loaded.outcome == .loaded && loaded.generation == nil && cache.value(forKey: "live") == 1)
    }

    @Test func twoEntriesAtTheLargestBoundDoNotOverflow() throws {
        let cache = MemoryCache<Int, Int>(configuration: .init(
            bound: .weight(Int.max, weigher: { _, _ in Int.max / 2 }), shardCount: 1, seed: 1))
        cache.insert(1, forKey: 1)
        cache.insert(2, forKey: 2)
        #expect(cache.weightedSize <= Int.max / 2 && cache.count == 1)
    }

    /// Defect 8: tag removal used to call the key's hash function under the cache's locks.
    @Test func aKeyHashThatReadsTheCacheIsNeverCalledUnderItsLocks() throws {
        final class Box: Sendable {
            let cache = Mutex<MemoryCache<String, Int>?>(nil)
        }
        let box = Box()
        let cache = MemoryCache<String, Int>(configuration: .init(bound: .entries(100), keyHash: { key in
            // Reading the cache from the hash would trap ("recursive lock") if a lock were held.
            if key == "probe", let cache = box.cache.withLock({ $0 }) { _ = cache.statistics }
            return UInt64(truncatingIfNeeded: key.utf8.reduce(5381) { ($0 << 5) &+ $0 &+ Int($1) })
        }))
        box.cache.withLock { $0 = cache }
        cache.insert(1, forKey: "probe", tags: ["T"])
        #expect(cache.removeAll(taggedWith: "T") == 1)
        #expect(cache.value(forKey: "probe") == nil)
        box.cache.withLock { $0 = nil }
    }
}

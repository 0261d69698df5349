import Synchronization
import TestSupport
import Testing

@testable import MemoryCache

/// Issue 11, defects 8 and 9 (part): user closures run outside the cache's locks; a bound of 0
/// stores nothing.
@Suite struct UserCodeAndZeroBoundTests {
    @Test func aRemovalPredicateMayReadTheCache() throws {
        let cache = MemoryCache<String, Int>(configuration: .init(bound: .entries(100), shardCount: 4))
        for i in 0..<50 { cache.insert(i, forKey: "k\(i)") }
        // Before the fix this trapped with "Recursive call to lock Mutex": the predicate ran under
        // the shard and policy locks.
        cache.removeAll { key in (cache.value(forKey: key) ?? 0) % 2 == 0 && cache.count > 0 }
        #expect(cache.count == 25)
        #expect((0..<50).allSatisfy { (cache.value(forKey: "k\($0)") != nil) == ($0 % 2 == 1) })
    }

    @Test func aRemovalPredicateAlsoInvalidatesMatchingLoadsInFlight() async throws {
        let cache = MemoryCache<String, Int>(maximumCount: 10)
        let gate = AsyncGate()
        let load = Task { try await cache.value(forKey: "k", orLoadValue: { try await gate.wait(); return 1 }) }
        await eventually("the load to wait") { cache.waitersForLoad(forKey: "k") == 1 }
        cache.removeAll { $0 == "k" }
        gate.open()
        #expect(try await load.value == 1)  // its waiter gets the value…
        #expect(cache.value(forKey: "k") == nil)  // …but it is not stored
    }

    @Test func aZeroBoundStoresNothingAndLoadsEveryTime() async throws {
        let removed = RemovalLog<String, Int>()
        let cache = MemoryCache<String, Int>(configuration: .init(bound: .entries(0), removalListener: removed.record))
        cache.insert(1, forKey: "a")
        #expect(cache.count == 0)
        #expect(cache.value(forKey: "a") == nil)
        let loads = CallCounter()
        for _ in 0..<3 {
            #expect(try await cache.value(forKey: "b", orLoadValue: { loads.increment(); return 2 }) == 2)
        }
        #expect(loads.count == 3)
        #expect(cache.count == 0 && cache.weightedSize == 0)
        let weighted = MemoryCache<String, Int>(configuration: .init(bound: .weight(0, weigher: { _, _ in 0 })))
        weighted.insert(1, forKey: "zero-weight")
        #expect(weighted.count == 0)
        #expect(removed.causes.filter { $0 == .rejected }.count >= 1)
    }
}

/// Issue 11, defect 7 (part): expired entries go before live ones, and are not handed back.
@Suite struct ExpiryBeforeEvictionTests {
    @Test func aFullCacheExpiresDueEntriesBeforeEvictingLiveOnes() throws {
        let clock = ManualCacheClock()
        let removed = RemovalLog<String, Int>()
        let cache = MemoryCache<String, Int>(configuration: .init(
            bound: .entries(2), removalListener: removed.record, clock: clock, shardCount: 1))
        cache.insert(1, forKey: "short", expiry: .after(.seconds(1)))
        cache.insert(2, forKey: "live")
        clock.advance(by: .seconds(2))  // "short" is expired; no maintenance has run
        cache.insert(3, forKey: "new")
        #expect(cache.value(forKey: "live") == 2)
        #expect(cache.value(forKey: "new") == 3)
        #expect(removed.entries.map(\.0) == ["short"])
        #expect(removed.causes == [.expired])
    }

    @Test func removingAnExpiredEntryReturnsNilAndSaysExpired() throws {
        let clock = ManualCacheClock()
        let removed = RemovalLog<String, Int>()
        let cache = MemoryCache<String, Int>(configuration: .init(
            bound: .entries(10), removalListener: removed.record, clock: clock))
        cache.insert(1, forKey: "k", expiry: .after(.seconds(1)))
        cache.insert(2, forKey: "fresh")
        clock.advance(by: .seconds(2))
        #expect(cache.removeValue(forKey: "k") == nil)
        #expect(cache.removeValue(forKey: "fresh") == 2)
        #expect(removed.causes == [.expired, .explicit])
    }
}

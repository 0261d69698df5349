import Synchronization
import Testing

@testable import MemoryCache

struct Boom: Error, Equatable {}

@Suite struct MemoryCacheBasicsTests {
    @Test func insertReadRemoveAndCount() throws {
        let cache = MemoryCache<String, Int>(maximumCount: 10)
        cache.insert(1, forKey: "a")
        cache.insert(2, forKey: "b")
        #expect(cache.value(forKey: "a") == 1)
        #expect(cache.value(forKey: "zz") == nil)
        #expect(cache.count == 2 && cache.weightedSize == 2)
        cache.insert(3, forKey: "a")
        #expect(cache.value(forKey: "a") == 3)
        #expect(cache.count == 2)
        #expect(cache.removeValue(forKey: "a") == 3)
        #expect(cache.removeValue(forKey: "a") == nil)
        #expect(cache.value(forKey: "a") == nil)
        cache.insert(4, forKey: "p/1")
        cache.insert(5, forKey: "p/2")
        cache.removeAll(where: { $0.hasPrefix("p/") })
        #expect(cache.value(forKey: "p/1") == nil && cache.value(forKey: "b") == 2)
        cache.removeAll()
        #expect(cache.count == 0 && cache.value(forKey: "b") == nil)
    }

    @Test func tagsRemoveExactlyTheirEntries() throws {
        let cache = MemoryCache<String, Int>(maximumCount: 100)
        cache.insert(1, forKey: "orders-by-day", tags: ["Order"])
        cache.insert(2, forKey: "orders-by-customer", tags: ["Order", "Customer"])
        cache.insert(3, forKey: "customers", tags: ["Customer"])
        cache.insert(4, forKey: "static")
        cache.removeAll(taggedWith: "Order")
        #expect(cache.value(forKey: "orders-by-day") == nil)
        #expect(cache.value(forKey: "orders-by-customer") == nil)
        #expect(cache.value(forKey: "customers") == 3)
        #expect(cache.value(forKey: "static") == 4)
        // Re-inserted without the tag: no longer removed by it.
        cache.insert(5, forKey: "orders-by-day", tags: ["Other"])
        cache.removeAll(taggedWith: "Order")
        #expect(cache.value(forKey: "orders-by-day") == 5)
        cache.removeAll(taggedWith: "Customer")
        #expect(cache.value(forKey: "customers") == nil)
        #expect(cache.count == 2)
    }

    @Test func weightBoundHoldsAndOversizedEntriesAreRejected() throws {
        let log = RemovalLog<String, [UInt8]>()
        let cache = MemoryCache<String, [UInt8]>(configuration: .init(
            bound: .weight(1000, weigher: { _, v in v.count }), removalListener: log.record))
        for i in 0..<100 {
            cache.insert(Array(repeating: 0, count: 10 + i % 90), forKey: "k\(i)")
            #expect(cache.weightedSize <= 1000)
        }
        cache.insert(Array(repeating: 1, count: 50), forKey: "k99")
        cache.insert(Array(repeating: 1, count: 1001), forKey: "k99")
        #expect(cache.value(forKey: "k99") == nil, "the oversized value is not stored, and the stale one is gone")
        #expect(log.causes.contains(.rejected))
        #expect(log.causes.filter { $0 == .size }.count > 0)
        #expect(cache.weightedSize <= 1000)
    }

    @Test func boundHoldsUnderConcurrentRandomOperations() async throws {
        let cache = MemoryCache<Int, [UInt8]>(configuration: .init(
            bound: .weight(5000, weigher: { _, v in v.count }), shardCount: 8))
        await withTaskGroup(of: Void.self) { group in
            for t in 0..<8 {
                group.addTask {
                    var rng = SplitMix64(seed: UInt64(t))
                    for _ in 0..<5000 {
                        let key = Int(rng.next() % 500)
                        switch rng.next() % 10 {
                        case 0..<5: _ = cache.value(forKey: key)
                        case 5..<8:
                            cache.insert(Array(repeating: 0, count: Int(1 + rng.next() % 100)), forKey: key)
                            #expect(cache.weightedSize <= 5000)
                        case 8: cache.removeValue(forKey: key)
                        default: cache.cleanUp()
                        }
                    }
                }
            }
        }
        #expect(cache.weightedSize <= 5000)
        var total = 0
        for key in 0..<500 { total += cache.value(forKey: key)?.count ?? 0 }
        #expect(total == cache.weightedSize, "the weight the policy tracks equals what is stored")
    }

    @Test func listenerHearsEveryCause() throws {
        let clock = ManualCacheClock()
        let log = RemovalLog<Int, String>()
        let cache = MemoryCache<Int, String>(configuration: .init(
            bound: .weight(3, weigher: { _, v in v.count }), timeToLive: .seconds(10), removalListener: log.record,
            clock: clock))
        cache.insert("a", forKey: 1)
        cache.insert("b", forKey: 1)  // replaced
        cache.removeValue(forKey: 1)  // explicit
        cache.insert("toolong", forKey: 2)  // rejected
        cache.insert("x", forKey: 3)
        cache.insert("y", forKey: 4)
        cache.insert("z", forKey: 5)
        cache.insert("w", forKey: 6)  // something is evicted for size
        clock.advance(by: .seconds(11))
        cache.cleanUp()  // the rest expire
        let causes = log.causes
        #expect(causes.prefix(3) == [.replaced, .explicit, .rejected])
        #expect(causes.contains(.size))
        #expect(causes.filter { $0 == .expired }.count == 3)
        #expect(cache.count == 0)
        let stats = cache.statistics
        #expect(stats.removals[.expired] == 3 && stats.removals[.replaced] == 1 && stats.removals[.explicit] == 1)
        #expect(stats.removals[.rejected] == 1 && stats.removals[.size] == 1)
    }
}

@Suite struct ExpiryTests {
    @Test func timeToLiveExpiresAfterWriteAndIsNeverReturned() throws {
        let clock = ManualCacheClock()
        let cache = MemoryCache<String, Int>(configuration: .init(bound: .entries(10), timeToLive: .seconds(60), clock: clock))
        cache.insert(1, forKey: "a")
        clock.advance(by: .seconds(59))
        #expect(cache.value(forKey: "a") == 1)
        clock.advance(by: .seconds(1))
        #expect(cache.value(forKey: "a") == nil, "expired before maintenance ran")
        #expect(cache.count == 1)
        cache.cleanUp()
        #expect(cache.count == 0)
    }

    @Test func timeToIdleExtendsWithReads() throws {
        let clock = ManualCacheClock()
        let log = RemovalLog<String, Int>()
        let cache = MemoryCache<String, Int>(configuration: .init(
            bound: .entries(10), timeToIdle: .seconds(30), removalListener: log.record, clock: clock))
        cache.insert(1, forKey: "a")
        for _ in 0..<5 {
            clock.advance(by: .seconds(20))
            #expect(cache.value(forKey: "a") == 1)
            cache.cleanUp()
        }
        #expect(log.causes.isEmpty)
        clock.advance(by: .seconds(30))
        #expect(cache.value(forKey: "a") == nil)
        cache.cleanUp()
        #expect(log.causes == [.expired])
    }

    @Test func perEntryExpiryAppliesOnTopOfTheCachesTimeToLive() throws {
        let clock = ManualCacheClock()
        let cache = MemoryCache<String, Int>(configuration: .init(bound: .entries(10), timeToLive: .seconds(3600), clock: clock))
        cache.insert(1, forKey: "until-window-closes", expiry: .after(.seconds(90)))
        cache.insert(2, forKey: "at", expiry: .at(clock.instant + .seconds(30)))
        cache.insert(3, forKey: "ttl-only", expiry: .after(.seconds(7200)))
        clock.advance(by: .seconds(30))
        #expect(cache.value(forKey: "at") == nil)
        #expect(cache.value(forKey: "until-window-closes") == 1)
        clock.advance(by: .seconds(60))
        #expect(cache.value(forKey: "until-window-closes") == nil)
        clock.advance(by: .seconds(3509))
        #expect(cache.value(forKey: "ttl-only") == 3)
        clock.advance(by: .seconds(1))
        #expect(cache.value(forKey: "ttl-only") == nil)
        cache.cleanUp()
        #expect(cache.count == 0)
    }

    @Test func maintenanceServiceExpiresEntriesWithoutReads() async throws {
        let clock = ManualCacheClock()
        let (expired, continuation) = AsyncStream<String>.makeStream()
        let cache = MemoryCache<String, Int>(configuration: .init(
            bound: .entries(10), timeToLive: .seconds(5),
            removalListener: { key, _, cause in if cause == .expired { continuation.yield(key) } }, clock: clock))
        cache.insert(1, forKey: "a")
        clock.advance(by: .seconds(6))
        let service = MemoryCacheMaintenance(cache: cache, interval: .milliseconds(5))
        let running = Task { try await service.run() }
        var iterator = expired.makeAsyncIterator()
        #expect(await iterator.next() == "a")
        running.cancel()
        try await running.value
        #expect(cache.count == 0)
    }
}

@Suite struct ListenerReentrancyTests {
    @Test func listenerMayUseTheCacheItIsCalledFrom() throws {
        let seen = RemovalLog<Int, Int>()
        // The listener runs outside the cache's locks, so it may read and write the cache.
        let box = CacheBox()
        let cache = MemoryCache<Int, Int>(configuration: .init(
            bound: .entries(2),
            removalListener: { key, value, cause in
                seen.record(key, value, cause)
                if let cache = box.cache {
                    _ = cache.value(forKey: key)
                    _ = cache.count
                    if key == 1 { cache.insert(100, forKey: 100) }
                }
            }))
        box.cache = cache
        for key in 1...5 { cache.insert(key, forKey: key) }
        cache.removeAll()
        // Reaching here means no deadlock; the listener's own insert (made while key 1 was being
        // reported) is a later write and may survive the removeAll it reacted to.
        #expect(seen.entries.count >= 5)
        #expect(cache.count <= 2 && cache.count == cache.weightedSize)
        #expect(cache.count == 0 || cache.value(forKey: 100) == 100)
    }
}

/// Lets a listener reach the cache it is configured on.
final class CacheBox: @unchecked Sendable {
    // @unchecked Sendable: set once before the cache is used, read-only afterwards (test only).
    var cache: MemoryCache<Int, Int>?
}

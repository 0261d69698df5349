#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Synchronization
import TestSupport
import Testing

@testable import MemoryCache

/// Issue 11, defect 7: expiry at instants and wall-clock dates, extreme values, the expiry flag,
/// and bounded work per maintenance pass.
@Suite struct ExpiryClockTests {
    @Test func expiryAtAnInstantAndAtAWallClockDate() throws {
        let clock = ManualCacheClock()
        let cache = MemoryCache<String, Int>(configuration: .init(bound: .entries(10), clock: clock))
        cache.insert(1, forKey: "instant", expiry: .at(clock.instant + .seconds(30)))
        cache.insert(2, forKey: "date", expiry: .atWallClock(clock.wallClock.addingTimeInterval(60)))
        clock.advance(by: .seconds(29))
        #expect(cache.value(forKey: "instant") == 1 && cache.value(forKey: "date") == 2)
        clock.advance(by: .seconds(1))
        #expect(cache.value(forKey: "instant") == nil && cache.value(forKey: "date") == 2)
        clock.advance(by: .seconds(30))
        #expect(cache.value(forKey: "date") == nil)
    }

    @Test func realClockInstantsConvertToTheCachesClock() throws {
        let cache = MemoryCache<String, Int>(maximumCount: 10)
        cache.insert(1, forKey: "past", expiry: .at(.now - .seconds(1)))
        cache.insert(2, forKey: "future", expiry: .at(.now + .seconds(3600)))
        cache.insert(3, forKey: "pastDate", expiry: .atWallClock(Date(timeIntervalSinceNow: -5)))
        cache.insert(4, forKey: "futureDate", expiry: .atWallClock(Date(timeIntervalSinceNow: 3600)))
        #expect(cache.value(forKey: "past") == nil && cache.value(forKey: "pastDate") == nil)
        #expect(cache.value(forKey: "future") == 2 && cache.value(forKey: "futureDate") == 4)
    }

    @Test func extremeExpiriesClampInsteadOfTrapping() throws {
        let clock = ManualCacheClock(start: 1_000)
        defer {
            clock.advance(by: .seconds(Int64.max))
            #expect(clock.nanoseconds() == Int64.max, "the manual clock saturates instead of wrapping")
        }
        let cache = MemoryCache<String, Int>(configuration: .init(
            bound: .entries(10), timeToLive: .seconds(Int64.max), timeToIdle: .seconds(Int64.max), clock: clock))
        cache.insert(1, forKey: "forever", expiry: .after(.seconds(Int64.max)))
        cache.insert(2, forKey: "negative", expiry: .after(.seconds(-5)))
        cache.insert(3, forKey: "distantFuture", expiry: .atWallClock(.distantFuture))
        cache.insert(4, forKey: "distantPast", expiry: .atWallClock(.distantPast))
        cache.insert(5, forKey: "nan", expiry: .atWallClock(Date(timeIntervalSinceReferenceDate: .nan)))
        cache.insert(6, forKey: "farInstant", expiry: .at(clock.instant + .seconds(Int64.max / 2)))
        clock.advance(by: .seconds(1_000_000))
        cache.cleanUp()
        #expect(cache.value(forKey: "forever") == 1)
        #expect(cache.value(forKey: "negative") == nil, "a negative duration expires at once")
        #expect(cache.value(forKey: "distantFuture") == 3)
        #expect(cache.value(forKey: "distantPast") == nil)
        #expect(cache.value(forKey: "farInstant") == 6)
        _ = cache.value(forKey: "nan")  // whatever it decides, it must not trap
    }

    /// The reader looks at the flag before its shard lock; an entry stored with an expiry by a
    /// racing writer must still be judged against the clock (the lookup is redone with it).
    @Test func anEntryWithADeadlineIsNeverServedWithoutLookingAtTheClock() throws {
        let clock = ManualCacheClock()
        let cache = MemoryCache<String, Int>(configuration: .init(bound: .entries(10), clock: clock))
        // Simulate the stale flag: store with a deadline, then clear the flag as a racing reader saw it.
        cache.insert(1, forKey: "k", expiry: .after(.seconds(1)))
        cache.anyEntryExpiry.store(false, ordering: .relaxed)
        clock.advance(by: .seconds(2))
        #expect(cache.value(forKey: "k") == nil)
        #expect(cache.lookup("k") == nil)
    }

    @Test func aMassExpiryIsWorkedOffAThousandEntriesAPass() throws {
        let clock = ManualCacheClock()
        let log = RemovalLog<Int, Int>()
        let cache = MemoryCache<Int, Int>(configuration: .init(
            bound: .entries(10_000), timeToLive: .seconds(1), removalListener: log.record, clock: clock))
        for i in 0..<2_500 { cache.insert(i, forKey: i) }
        clock.advance(by: .seconds(2))
        #expect(cache.maintain() == true)
        #expect(log.causes.count == 1_000 && cache.count == 1_500)
        // Each due timer left the wheel once: the backlog holds the rest, nothing was re-filed.
        #expect(cache.policyState.withLock { $0.expiryBacklog.count == 1_500 && $0.wheel.count == 0 })
        #expect(cache.maintain() == true)
        #expect(cache.maintain() == false)
        #expect(log.causes.count == 2_500 && log.causes.allSatisfy { $0 == .expired } && cache.count == 0)
        for i in 0..<2_500 { #expect(cache.value(forKey: i) == nil) }
    }
}

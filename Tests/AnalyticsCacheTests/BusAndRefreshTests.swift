import CacheTestSupport
import AnalyticsCache
import EventStore
import Foundation
import Testing
import TestSupport
@testable import AnalyticsCache

/// The analytics bus (bounded per subscriber, lag markers) and proactive refresh (hot results
/// recomputed after an invalidation, bursts coalesced, freshness kept).
@Suite struct BusAndRefreshTests {
    static func update(_ n: Int) -> AnalyticsUpdate {
        AnalyticsUpdate(query: "q", key: "k\(n)", parameters: nil, scope: nil, reason: .events, position: Int64(n),
                        eventTypes: [], aggregates: [], result: nil)
    }

    static func positions(_ buffer: inout BusBuffer) -> [String] {
        var out: [String] = []
        while let message = buffer.pop() {
            switch message {
            case .update(let u): out.append("u\(u.position ?? -1)")
            case .lagged(let n): out.append("lag\(n)")
            }
        }
        return out
    }

    @Test func aFullBufferTradesWhatItHeldForOneLagMarkerAndNeverGrows() {
        var buffer = BusBuffer(capacity: 3)
        for n in 1...3 { buffer.push(Self.update(n)) }
        #expect(buffer.count == 3)
        buffer.push(Self.update(4))
        #expect(buffer.count == 2)
        #expect(Self.positions(&buffer) == ["lag3", "u4"])
        // Lag markers add up when the subscriber keeps falling behind.
        for n in 5...7 { buffer.push(Self.update(n)) }
        buffer.push(Self.update(8))
        for n in 9...10 { buffer.push(Self.update(n)) }
        buffer.push(Self.update(11))
        #expect(Self.positions(&buffer) == ["lag5", "u10", "u11"])
        var big = BusBuffer(capacity: 100)
        for n in 0..<100_000 {
            big.push(Self.update(n))
            #expect(big.count <= 101)
        }
        // Capacity 0 or less is one.
        var tiny = BusBuffer(capacity: 0)
        tiny.push(Self.update(1))
        tiny.push(Self.update(2))
        #expect(Self.positions(&tiny) == ["lag1", "u2"])
    }

    @Test func aSlowSubscriberNeverBlocksThePublisherOrAnotherSubscriber() async throws {
        let bus = AnalyticsBus()
        let slow = bus.subscribe(capacity: 4)
        let other = bus.subscribe(filter: BusFilter(queries: ["q"]), capacity: 10_000)
        let ignored = bus.subscribe(filter: BusFilter(queries: ["other"]))
        for n in 0..<5_000 { bus.publish(Self.update(n)) }
        var first: [String] = []
        for _ in 0..<2 {
            switch await slow.next() {
            case .update(let u)?: first.append("u\(u.position ?? -1)")
            case .lagged(let n)?: first.append("lag\(n)")
            case nil: first.append("end")
            }
        }
        #expect(first == ["lag4999", "u4999"])
        var count = 0
        while count < 5_000, case .update? = await other.next() { count += 1 }
        #expect(count == 5_000)
        bus.finish()
        #expect(await ignored.next() == nil)
    }

    /// Drains what a subscription holds now (it is finished first, so nothing waits).
    static func drained(_ subscription: BusSubscription, bus: AnalyticsBus) async -> [String] {
        var out: [String] = []
        while true {
            switch await subscription.next() {
            case .update(let u)?: out.append("s\(u.sequence)")
            case .lagged(let n)?: out.append("lag\(n)")
            case nil: return out
            }
        }
    }

    @Test func aResumingSubscriberGetsWhatItMissedOrALagMarkerWhenThatIsGone() async throws {
        let bus = AnalyticsBus(historyLimit: 10)
        for n in 1...15 { bus.publish(Self.update(n)) }
        #expect(bus.lastSequence == 15)
        let resumed = bus.subscribe(after: 12)
        let filtered = bus.subscribe(filter: BusFilter(keys: ["k14", "k15"]), after: 6)
        let tooOld = bus.subscribe(after: 4)  // 5 is no longer held (history of 10: 6…15)
        let future = bus.subscribe(after: 99)  // not this bus's past (another process)
        let current = bus.subscribe(after: 15)
        bus.publish(Self.update(16))
        bus.finish()
        #expect(await Self.drained(resumed, bus: bus) == ["s13", "s14", "s15", "s16"])
        #expect(await Self.drained(filtered, bus: bus) == ["s14", "s15"])
        #expect(await Self.drained(tooOld, bus: bus) == ["lag11", "s16"])
        #expect(await Self.drained(future, bus: bus) == ["lag1", "s16"])
        #expect(await Self.drained(current, bus: bus) == ["s16"])
        #expect(AnalyticsBus().epoch != bus.epoch)
        let none = AnalyticsBus(historyLimit: 0)
        none.publish(Self.update(1))
        none.publish(Self.update(2))
        let lagging = none.subscribe(after: 1)
        none.finish()
        #expect(await Self.drained(lagging, bus: none) == ["lag1"])
    }

    @Test func concurrentPublishersReachEverySubscriberInSequenceOrder() async throws {
        let bus = AnalyticsBus()
        let subscriber = bus.subscribe(capacity: 100_000)
        await withTaskGroup(of: Void.self) { group in
            for publisher in 0..<4 {
                group.addTask { for n in 0..<2_000 { bus.publish(Self.update(publisher * 10_000 + n)) } }
            }
        }
        bus.finish()
        let sequences = await Self.drained(subscriber, bus: bus).compactMap { UInt64($0.dropFirst()) }
        #expect(sequences == Array(1...8_000))
    }

    @Test(.timeLimit(.minutes(1))) func anAppendReachesSubscribersAndAHotResultIsRefreshedAndPushed() async throws {
        let harness = try await Harness()
        defer { TestSupport.remove(harness.root) }
        try await harness.cache.register(FreshnessTests.totals)
        let subscription = harness.cache.bus.subscribe(filter: BusFilter(queries: ["tenant-totals"]))
        try await harness.running {
            // Read it: hot.
            #expect(try Harness.integer(try await harness.cache.result(for: "tenant-totals", scope: ScopeValue(tenant: "t0"))) == 0)
            let recorded = try await harness.cache.append([Harness.order(tenant: "t0")], to: AggregateID(type: "Customer", id: "c"), expectedVersion: .any)
            var invalidatedSeen = false
            while let message = await subscription.next() {
                guard case .update(let update) = message else { continue }
                if update.reason == .events {
                    #expect(update.position == recorded[0].position && update.eventTypes == ["OrderPlaced"] && update.scope == "t0")
                    invalidatedSeen = true
                } else if update.reason == .refreshed, let result = update.result {
                    #expect(invalidatedSeen)
                    #expect(try Harness.integer(result) == 1)
                    break
                }
            }
            // The refresh left it in L1: the next dashboard read is a hit.
            #expect(try await harness.cache.result(for: "tenant-totals", scope: ScopeValue(tenant: "t0")).servedBy == .l1)
        }
        await harness.shutdown()
    }

    @Test(.timeLimit(.minutes(1))) func aBurstOfAThousandEventsCostsAHandfulOfRefreshesAndReadsStayFresh() async throws {
        let harness = try await Harness()
        defer { TestSupport.remove(harness.root) }
        try await harness.cache.register(FreshnessTests.totals)
        let subscription = harness.cache.bus.subscribe(filter: BusFilter(queries: ["tenant-totals"]))
        try await harness.running {
            _ = try await harness.cache.result(for: "tenant-totals", scope: ScopeValue(tenant: "t0"))
            let before = harness.cache.statistics()
            // 1 000 events within well under a second, appended by "another writer" (the log).
            var last: Int64 = 0
            let burstStarted = ContinuousClock.now
            for _ in 0..<100 {
                let events = (0..<10).map { _ in Harness.order(tenant: "t0") }
                last = try await harness.log.append(events, to: AggregateID(type: "Customer", id: "c"), expectedVersion: .any).last?.position ?? last
            }
            // Freshness holds for a read after the burst, refresh or not.
            try await harness.cache.waitUntilFresh(through: last)
            #expect(try Harness.integer(try await harness.cache.result(for: "tenant-totals", scope: ScopeValue(tenant: "t0"))) == 1_000)
            // The refreshes end with one that saw every event.
            while let message = await subscription.next() {
                if case .update(let update) = message, update.reason == .refreshed, let result = update.result,
                   try Harness.integer(result) == 1_000 { break }
            }
            // Invalidations go on until the projector has applied the last event: the burst, as the
            // refresher sees it, lasts until the final refresh.
            let burst = burstStarted.duration(to: .now)
            let after = harness.cache.statistics()
            let refreshes = after.refreshes - before.refreshes
            print("refresh storm: 1000 events in \(burst), \(refreshes) refreshes, \(after.coalesced - before.coalesced) coalesced, \(after.computations - before.computations) computations")
            // At most one refresh per longest delay (1 s) while the burst lasts, and the last one:
            // a handful for a burst within a second (≤ 5); a loaded machine stretches the burst,
            // not the coalescing.
            let seconds = Int(burst.components.seconds) + 1
            #expect(refreshes >= 1 && refreshes <= max(5, 2 * seconds + 1), "\(refreshes) refreshes for a burst of \(burst)")
        }
        await harness.shutdown()
    }
}

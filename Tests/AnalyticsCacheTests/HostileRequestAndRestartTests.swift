import CacheTestSupport
import DiskCache
import DuckDBClient
import EventProjection
import EventStore
import Foundation
import MemoryCache
import Synchronization
import Testing
import TestSupport
@testable import AnalyticsCache

/// Hostile requests, restarts and redeploys: tenants that differ only in Unicode form, event-time
/// parameters at the limits, statement projections, wildcard dependencies and manual invalidation
/// after a restart, warm starts with a data-version probe, keys that cool down, results too large
/// to cache, redefined queries.
@Suite struct HostileRequestAndRestartTests {
    static let customerCount = QueryDefinition(
        id: "customer-count", sql: "SELECT count(*) AS n FROM orders WHERE customer = ?",
        parameters: [ParameterSpec("customer", .text)], dependencies: .only(["events/Customer/{customer}"]))

    // MARK: 1. Tenant isolation: canonically-equivalent tenant ids share an L1 entry

    @Test(.timeLimit(.minutes(1))) func tenantsThatDifferOnlyInUnicodeFormNeverShareAResult() async throws {
        let harness = try await Harness()
        defer { TestSupport.remove(harness.root) }
        try await harness.cache.register(FreshnessTests.totals)
        let a = "\u{E9}e\u{301}", b = "e\u{301}\u{E9}"  // both 5 UTF-8 bytes, canonically equivalent ("éé")
        #expect(Array(a.utf8) != Array(b.utf8), "different tenants for DuckDB (bound as bytes)")
        try await harness.running {
            _ = try await harness.cache.append([Harness.order(tenant: a, amount: 7)], to: AggregateID(type: "Customer", id: "c"), expectedVersion: .any)
            let ra = try await harness.cache.result(for: "tenant-totals", scope: ScopeValue(tenant: a))
            let rb = try await harness.cache.result(for: "tenant-totals", scope: ScopeValue(tenant: b))
            let uncached = try await harness.cache.result(for: "tenant-totals", scope: ScopeValue(tenant: b), options: .init(bypassCache: true))
            print("hostile: tenant a: n=\(try Harness.integer(ra)) by \(ra.servedBy); tenant b: n=\(try Harness.integer(rb)) by \(rb.servedBy); b bypassing the cache: n=\(try Harness.integer(uncached))")
            #expect(try Harness.integer(uncached) == 0, "DuckDB: tenant b has no orders")
            #expect(try Harness.integer(rb) == 0, "tenant b must not get tenant a's result")
        }
        let ka = try harness.cache.key(for: "tenant-totals", scope: ScopeValue(tenant: a))
        let kb = try harness.cache.key(for: "tenant-totals", scope: ScopeValue(tenant: b))
        #expect(ka != kb, "keys of different requests must differ")
        await harness.shutdown()
    }

    // MARK: 2. Client-controlled crashes in event-time tagging

    @Test(.timeLimit(.minutes(1))) func anEmptyEventTimeRangeFromARequestIsServed() async throws {
        await #expect(processExitsWith: .success) {
            let harness = try await Harness()
            try await harness.cache.register(QueryDefinition(
                id: "range", sql: "SELECT count(*) AS n FROM orders WHERE occurred_at >= ? AND occurred_at < ?",
                parameters: [ParameterSpec("from", .integer), ParameterSpec("to", .integer)],
                eventTime: EventTimeRange(from: "from", to: "to")))
            // A client's query string: ?from=5&to=1
            _ = try await harness.cache.result(for: "range", textParameters: ["from": "5", "to": "1"])
        }
    }

    @Test(.timeLimit(.minutes(1))) func anEventTimeAtTheInt64LimitFromARequestIsServed() async throws {
        await #expect(processExitsWith: .success) {
            let harness = try await Harness()
            try await harness.cache.register(QueryDefinition(
                id: "range", sql: "SELECT count(*) AS n FROM orders WHERE occurred_at >= ? AND occurred_at < ?",
                parameters: [ParameterSpec("from", .integer), ParameterSpec("to", .integer)],
                eventTime: EventTimeRange(from: "from", to: "to")))
            _ = try await harness.cache.result(for: "range", textParameters: ["from": "-9223372036854775808", "to": "0"])
        }
    }

    @Test(.timeLimit(.minutes(1))) func anEventWhoseTimeIsInt64MaxIsInvalidatedWithoutACrash() async throws {
        await #expect(processExitsWith: .success) {
            let root = try TestSupport.temporaryDirectory("hostile-max")
            let rig = try await Harness(root: root, eventTime: { event in event.payload.contains("\"max\"") ? Int64.max : 0 })
            try await rig.cache.register(FreshnessTests.totals)
            try await rig.running {
                _ = try await rig.cache.append([NewEvent(type: "OrderPlaced", payload: #"{"tenant":"t","at":"max"}"#)],
                                               to: AggregateID(type: "Customer", id: "c"), expectedVersion: .any)
            }
        }
    }

    // MARK: 3. Dependencies through statement projections

    @Test(.timeLimit(.minutes(1))) func aParameterisedStatementProjectionDoesNotStopRegistrations() async throws {
        let root = try TestSupport.temporaryDirectory("hostile-stmt")
        defer { TestSupport.remove(root) }
        let payments = Projection(
            name: "payments", eventTypes: ["PaymentReceived"],
            setupSQL: "CREATE TABLE IF NOT EXISTS payments (position BIGINT, payload VARCHAR);",
            apply: .statement(sql: "INSERT INTO payments VALUES (?, ?)") { [.int($0.position), .string($0.payload)] })
        let rig = try await Harness(root: root, projections: [Harness.orders, payments])
        do {
            try await rig.cache.register(FreshnessTests.totals)
            print("hostile: register with a parameterised statement projection: ok, deps \(String(describing: rig.cache.dependencies(of: "tenant-totals")))")
        } catch {
            print("hostile: register with a parameterised statement projection threw: \(error)")
            Issue.record("registering an unrelated query failed: \(error)")
        }
        await rig.shutdown()
    }

    @Test(.timeLimit(.minutes(1))) func anUpdateStatementProjectionsTableIsADependency() async throws {
        let root = try TestSupport.temporaryDirectory("hostile-upd")
        defer { TestSupport.remove(root) }
        let counter = Projection(
            name: "counter", eventTypes: ["Tick"],
            setupSQL: "CREATE TABLE IF NOT EXISTS ticks (n BIGINT); INSERT INTO ticks SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM ticks);",
            apply: .statement(sql: "UPDATE ticks SET n = n + 1") { _ in [] })
        let rig = try await Harness(root: root, projections: [Harness.orders, counter])
        try await rig.cache.register(QueryDefinition(id: "ticks", sql: "SELECT n FROM ticks"))
        print("hostile: ticks deps: \(String(describing: rig.cache.dependencies(of: "ticks")))")
        try await rig.running {
            #expect(try Harness.integer(try await rig.cache.result(for: "ticks")) == 0)
            _ = try await rig.cache.append([NewEvent(type: "Tick", payload: "{}")], to: AggregateID(type: "Clock", id: "c"), expectedVersion: .any)
            let after = try await rig.cache.result(for: "ticks")
            print("hostile: ticks after a Tick: n=\(try Harness.integer(after)) by \(after.servedBy)")
            #expect(try Harness.integer(after) == 1)
        }
        await rig.shutdown()
    }

    // MARK: 4. Freshness after a restart: wildcard key expressions and manual expressions

    @Test(.timeLimit(.minutes(1))) func aWildcardDependencyStoredBeforeARestartIsInvalidatedAfterIt() async throws {
        let root = try TestSupport.temporaryDirectory("hostile-wild")
        defer { TestSupport.remove(root) }
        let wildcard = QueryDefinition(id: "all-customers", sql: "SELECT count(*) AS n FROM orders", dependencies: .only(["events/Customer/*"]))
        do {
            let first = try await Harness(root: root)
            try await first.cache.register(wildcard)
            #expect(try Harness.integer(try await first.cache.result(for: "all-customers")) == 0)
            await first.shutdown()
        }
        let second = try await Harness(root: root)
        try await second.cache.register(wildcard)
        try await second.running {
            _ = try await second.cache.append([Harness.order(tenant: "t")], to: AggregateID(type: "Customer", id: "c1"), expectedVersion: .any)
            let after = try await second.cache.result(for: "all-customers")
            print("hostile: after restart + append: n=\(try Harness.integer(after)) by \(after.servedBy)")
            #expect(try Harness.integer(after) == 1, "a lookup after append returned must reflect the event")
        }
        await second.shutdown()
    }

    @Test(.timeLimit(.minutes(1))) func invalidationByExpressionAfterARestartReachesL2() async throws {
        let root = try TestSupport.temporaryDirectory("hostile-manual")
        defer { TestSupport.remove(root) }
        do {
            let first = try await Harness(root: root)
            try await first.cache.register(Self.customerCount)
            #expect(try Harness.integer(try await first.cache.result(for: "customer-count", parameters: ["customer": .text("c1")])) == 0)
            await first.shutdown()
        }
        let second = try await Harness(root: root)
        try await second.cache.register(Self.customerCount)
        // Data changed outside the log (a backfill), then an admin invalidates by expression.
        _ = try await second.writer.write { try $0.execute("INSERT INTO orders VALUES ('t', 'c1', 1, 0)") }
        try await second.cache.invalidate(.expression("events/Customer/c1"))
        let after = try await second.cache.result(for: "customer-count", parameters: ["customer": .text("c1")])
        print("hostile: after restart + manual .expression: n=\(try Harness.integer(after)) by \(after.servedBy)")
        #expect(try Harness.integer(after) == 1)
        await second.shutdown()
    }

    // MARK: 5. L1 and L2 disagree on tag equality (Unicode canonical equivalence)

    @Test(.timeLimit(.minutes(1))) func bothLayersCompareTagsByteForByte() async throws {
        let harness = try await Harness()
        defer { TestSupport.remove(harness.root) }
        try await harness.cache.register(Self.customerCount)
        let nfc = "\u{E9}", nfd = "e\u{301}"
        try await harness.running {
            #expect(try Harness.integer(try await harness.cache.result(for: "customer-count", parameters: ["customer": .text(nfc)])) == 0)
            // The payload names the customer in NFC; the aggregate id arrives in NFD.
            _ = try await harness.cache.append([Harness.order(tenant: "t", customer: nfc)], to: AggregateID(type: "Customer", id: nfd), expectedVersion: .any)
            // Aggregate ids compare byte for byte, as DuckDB compares strings: Customer/e\u{301} is
            // not the declared dependency Customer/\u{E9} — in both layers alike (before, L1 dropped
            // the entry and L2 kept it, so the answer depended on which layer served).
            let after = try await harness.cache.result(for: "customer-count", parameters: ["customer": .text(nfc)])
            #expect(after.servedBy == .l1)
            let key = try harness.cache.key(for: "customer-count", parameters: ["customer": .text(nfc)])
            #expect(try await harness.disk?.value(forKey: key.rawValue) != nil, "L2 agrees with L1")
            // The declared aggregate invalidates both.
            _ = try await harness.cache.append([Harness.order(tenant: "t", customer: nfc)], to: AggregateID(type: "Customer", id: nfc), expectedVersion: .any)
            let fresh = try await harness.cache.result(for: "customer-count", parameters: ["customer": .text(nfc)])
            // Computed after the invalidation (or joined the background refresh it started).
            #expect(fresh.servedBy == .computed || fresh.servedBy == .joined)
            #expect(try Harness.integer(fresh) == 2)
        }
        await harness.shutdown()
    }

    // MARK: 6. Warm start with a data-version probe

    @Test(.timeLimit(.minutes(1))) func aStableDataVersionProbeKeepsTheWarmStart() async throws {
        let root = try TestSupport.temporaryDirectory("hostile-probe")
        defer { TestSupport.remove(root) }
        do {
            let first = try await Harness(root: root, dataVersionProbe: { "v1" })
            try await first.cache.register(FreshnessTests.totals)
            try await first.cache.checkDataVersion()  // as run() does first
            _ = try await first.cache.result(for: "tenant-totals", scope: ScopeValue(tenant: "t0"))
            await first.shutdown()
        }
        let second = try await Harness(root: root, dataVersionProbe: { "v1" })
        try await second.cache.register(FreshnessTests.totals)
        let changed = try await second.cache.checkDataVersion()  // same probe value as before the restart
        let warm = try await second.cache.result(for: "tenant-totals", scope: ScopeValue(tenant: "t0"))
        print("hostile: restart with an unchanged probe: checkDataVersion changed=\(changed), served by \(warm.servedBy)")
        #expect(warm.servedBy == .l2, "warm start from L2")
        await second.shutdown()
    }

    // MARK: Attacks expected to hold

    @Test(.timeLimit(.minutes(1))) func slashPercentAndHugeParametersAreInvalidatedAndServed() async throws {
        let harness = try await Harness()
        defer { TestSupport.remove(harness.root) }
        try await harness.cache.register(Self.customerCount)
        try await harness.running {
            for id in ["a/b", "a%2Fb", "x%"] {
                #expect(try Harness.integer(try await harness.cache.result(for: "customer-count", parameters: ["customer": .text(id)])) == 0)
                _ = try await harness.cache.append([Harness.order(tenant: "t", customer: id)], to: AggregateID(type: "Customer", id: id), expectedVersion: .any)
                let after = try await harness.cache.result(for: "customer-count", parameters: ["customer": .text(id)])
                #expect(try Harness.integer(after) == 1, "\(id)")
            }
            // A tag longer than DiskCache's 4 096 bytes: not stored in L2, but served and kept in L1.
            let huge = String(repeating: "z", count: 5_000)
            let first = try await harness.cache.result(for: "customer-count", parameters: ["customer": .text(huge)])
            let second = try await harness.cache.result(for: "customer-count", parameters: ["customer": .text(huge)])
            print("hostile: huge tag: \(first.servedBy) then \(second.servedBy)")
            #expect(second.servedBy == .l1)
        }
        await harness.shutdown()
    }

    @Test(.timeLimit(.minutes(1))) func aWideBatchAndDaysBefore1970InvalidateRangedResults() async throws {
        let harness = try await Harness()
        defer { TestSupport.remove(harness.root) }
        try await harness.cache.register(QueryDefinition(
            id: "days", sql: "SELECT count(*) AS n FROM orders WHERE occurred_at >= epoch_us(?::DATE) AND occurred_at < epoch_us(?::DATE)",
            parameters: [ParameterSpec("from", .date), ParameterSpec("to", .date)], eventTime: EventTimeRange(from: "from", to: "to")))
        let day: Int64 = 86_400_000_000
        let request: [String: ParameterValue] = ["from": .date(10), "to": .date(12)]
        try await harness.running {
            #expect(try Harness.integer(try await harness.cache.result(for: "days", parameters: request)) == 0)
            _ = try await harness.cache.append([Harness.order(tenant: "t", at: 11 * day), Harness.order(tenant: "t", at: 1_000 * day)],
                                               to: AggregateID(type: "Customer", id: "c"), expectedVersion: .any)
            #expect(try Harness.integer(try await harness.cache.result(for: "days", parameters: request)) == 1)
            // Negative event times (before 1970) by day.
            let old: [String: ParameterValue] = ["from": .date(-3), "to": .date(-1)]
            #expect(try Harness.integer(try await harness.cache.result(for: "days", parameters: old)) == 0)
            _ = try await harness.cache.append([Harness.order(tenant: "t", at: -2 * day + 5)], to: AggregateID(type: "Customer", id: "c"), expectedVersion: .any)
            #expect(try Harness.integer(try await harness.cache.result(for: "days", parameters: old)) == 1)
        }
        await harness.shutdown()
    }

    @Test(.timeLimit(.minutes(1))) func aRedefinedQueryNeverGetsTheOldDefinitionsResults() async throws {
        let root = try TestSupport.temporaryDirectory("hostile-redefine")
        defer { TestSupport.remove(root) }
        do {
            let first = try await Harness(root: root)
            try await first.cache.register(QueryDefinition(id: "q", sql: "SELECT count(*) AS n FROM regions"))
            _ = try await first.cache.result(for: "q")
            await first.shutdown()
        }
        // The next deploy changes the query (same id, same default dataVersion "1").
        let second = try await Harness(root: root)
        try await second.cache.register(QueryDefinition(id: "q", sql: "SELECT count(*) + 42 AS n FROM orders"))
        try await second.running {
            _ = try await second.cache.append([Harness.order(tenant: "t")], to: AggregateID(type: "Customer", id: "c"), expectedVersion: .any)
            let served = try await second.cache.result(for: "q")
            print("hostile: redefined query after restart + append: n=\(try Harness.integer(served)) by \(served.servedBy)")
            #expect(try Harness.integer(served) == 43)
        }
        await second.shutdown()
    }

    @Test(.timeLimit(.minutes(1))) func errorsReachEveryWaiterAndAreNotCached() async throws {
        let harness = try await Harness()
        defer { TestSupport.remove(harness.root) }
        try await harness.cache.register(QueryDefinition(id: "boom", sql: "SELECT CAST(? AS INTEGER) AS n", parameters: [ParameterSpec("v", .text)]))
        let failures = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<50 {
                group.addTask { (try? await harness.cache.result(for: "boom", parameters: ["v": .text("nope")])) == nil }
            }
            var n = 0
            for try await failed in group where failed { n += 1 }
            return n
        }
        #expect(failures == 50)
        #expect((try? await harness.cache.result(for: "boom", parameters: ["v": .text("nope")])) == nil)
        await harness.shutdown()
    }

    @Test(.timeLimit(.minutes(1))) func aKeyNobodyReadsWithinTheWindowIsNotRefreshedAndRefreshesDoNotCountAsReads() async throws {
        let root = try TestSupport.temporaryDirectory("hostile-hot")
        defer { TestSupport.remove(root) }
        let clock = ManualCacheClock()
        let rig = try await Harness(root: root, clock: clock, refreshWindow: .seconds(60), refreshDelay: .milliseconds(1))
        try await rig.cache.register(FreshnessTests.totals)
        let bus = rig.cache.bus.subscribe(filter: BusFilter(queries: ["tenant-totals"]))
        try await rig.running {
            _ = try await rig.cache.result(for: "tenant-totals", scope: ScopeValue(tenant: "t0"))  // the only client read
            _ = try await rig.cache.append([Harness.order(tenant: "t0")], to: AggregateID(type: "Customer", id: "c"), expectedVersion: .any)
            #expect(rig.cache.statistics().refreshesQueued == 1, "read just now: hot")
            while let message = await bus.next() {
                if case .update(let update) = message, update.reason == .refreshed { break }
            }
            // The refresh ran; a minute later, with no client read since, the key is cold.
            clock.advance(by: .seconds(61))
            _ = try await rig.cache.append([Harness.order(tenant: "t0")], to: AggregateID(type: "Customer", id: "c"), expectedVersion: .any)
            #expect(rig.cache.statistics().refreshesQueued == 1, "the refresh is not a read")
        }
        await rig.shutdown()
    }

    @Test(.timeLimit(.minutes(3))) func resultsTooLargeToCacheAreNotRememberedForRefresh() async throws {
        let harness = try await Harness()
        defer { TestSupport.remove(harness.root) }
        try await harness.cache.register(QueryDefinition(
            id: "big", sql: "SELECT count(*) + ? AS n FROM regions", parameters: [ParameterSpec("k", .integer)], maxCachedBytes: 1))
        for k in 0..<200 {
            let result = try await harness.cache.result(for: "big", parameters: ["k": .integer(Int64(k))])
            #expect(result.uncached)
        }
        #expect(harness.cache.entries.matching(nil).isEmpty, "nothing in L1, nothing to refresh")
        await harness.shutdown()
    }
}

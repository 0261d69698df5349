import CacheTestSupport
import AnalyticsCache
import EventStore
import Foundation
import Testing
import TestSupport

/// L2 outlives the process; the projector's DuckDB commits and L2's invalidations are separate
/// transactions. A process that stops between the two (killed, or a projector that ran without
/// the cache) leaves L2 entries the applied events made stale: the next start must find them
/// before serving anything from L2.
@Suite(.timeLimit(.minutes(2))) struct DiskRecoveryTests {
    static let customerCount = HostileRequestAndRestartTests.customerCount
    static let totals = FreshnessTests.totals
    static let allCustomers = QueryDefinition(id: "all-customers", sql: "SELECT count(*) AS n FROM orders", dependencies: .only(["events/Customer/*"]))

    /// Reads c1, c2, tenant t0 and all customers through `harness` (filling L1 and L2).
    static func read(_ harness: Harness) async throws -> [Int64] {
        var values: [Int64] = []
        for customer in ["c1", "c2"] {
            values.append(try Harness.integer(try await harness.cache.result(for: "customer-count", parameters: ["customer": .text(customer)])))
        }
        values.append(try Harness.integer(try await harness.cache.result(for: "tenant-totals", scope: ScopeValue(tenant: "t0"))))
        values.append(try Harness.integer(try await harness.cache.result(for: "all-customers")))
        return values
    }

    /// A first process: one event through the cache (so L2 records its invalidation), then every
    /// query read into L1 and L2.
    static func firstRun(_ root: URL) async throws {
        let first = try await Harness(root: root)
        for query in [Self.customerCount, Self.totals, Self.allCustomers] { try await first.cache.register(query) }
        try await first.running {
            _ = try await first.cache.append([Harness.order(tenant: "t0", customer: "c1", amount: 5)], to: AggregateID(type: "Customer", id: "c1"), expectedVersion: .any)
        }
        #expect(try await Self.read(first) == [1, 0, 1, 1])
        await first.shutdown()
    }

    @Test func eventsAppliedButNeverInvalidatedInL2AreInvalidatedBeforeL2IsReadAgain() async throws {
        let root = try TestSupport.temporaryDirectory("recovery-replay")
        defer { TestSupport.remove(root) }
        try await Self.firstRun(root)
        do {
            // The window: an event committed and applied to DuckDB, its invalidation never run
            // (what a process killed between the projector's commit and the L2 removal leaves).
            let window = try await Harness(root: root)
            _ = try await window.log.append([Harness.order(tenant: "t0", customer: "c2", amount: 7)], to: AggregateID(type: "Customer", id: "c2"), expectedVersion: .any)
            #expect(try await window.projector.catchUp() == 2)
            await window.shutdown()
        }
        let restarted = try await Harness(root: root)
        // The wildcard query registers after the first L2 read: recovery cannot match its
        // expression, and must still remove its entry.
        for query in [Self.customerCount, Self.totals] { try await restarted.cache.register(query) }
        let untouched = try await restarted.cache.result(for: "customer-count", parameters: ["customer": .text("c1")])
        #expect(untouched.servedBy == .l2, "an entry no replayed event touches survives the recovery")
        #expect(try Harness.integer(untouched) == 1)
        let changed = try await restarted.cache.result(for: "customer-count", parameters: ["customer": .text("c2")])
        #expect(try Harness.integer(changed) == 1, "c2's entry was stale in L2 (n = 0)")
        #expect(changed.servedBy == .computed)
        let totals = try await restarted.cache.result(for: "tenant-totals", scope: ScopeValue(tenant: "t0"))
        #expect(try Harness.integer(totals) == 2)
        #expect(totals.servedBy == .computed)
        try await restarted.cache.register(Self.allCustomers)
        let all = try await restarted.cache.result(for: "all-customers")
        #expect(try Harness.integer(all) == 2)
        #expect(all.servedBy == .computed)
        await restarted.shutdown()
    }

    @Test func anL2FromAnotherLogIsEmptiedNotServed() async throws {
        let root = try TestSupport.temporaryDirectory("recovery-other-log")
        defer { TestSupport.remove(root) }
        try await Self.firstRun(root)
        // A new log and a new database beside the old L2 (a reset, a restore from backup).
        for name in ["events.sqlite", "events.sqlite-wal", "events.sqlite-shm", "data.duckdb", "data.duckdb.wal"] {
            try? FileManager.default.removeItem(at: root.appendingPathComponent(name))
        }
        let fresh = try await Harness(root: root)
        for query in [Self.customerCount, Self.totals, Self.allCustomers] { try await fresh.cache.register(query) }
        let c1 = try await fresh.cache.result(for: "customer-count", parameters: ["customer": .text("c1")])
        #expect(c1.servedBy == .computed)
        #expect(try Harness.integer(c1) == 0)
        #expect(try await Self.read(fresh) == [0, 0, 0, 0])
        await fresh.shutdown()
    }

    @Test func anL2WrittenWithoutAnyInvalidationRecordIsEmptied() async throws {
        let root = try TestSupport.temporaryDirectory("recovery-no-record")
        defer { TestSupport.remove(root) }
        do {
            // Filled but never run: no invalidation was ever recorded in L2 (as by a release
            // before the record existed), while events were applied to DuckDB meanwhile.
            let first = try await Harness(root: root)
            for query in [Self.customerCount, Self.totals, Self.allCustomers] { try await first.cache.register(query) }
            #expect(try await Self.read(first) == [0, 0, 0, 0])
            _ = try await first.log.append([Harness.order(tenant: "t0", customer: "c1", amount: 5)], to: AggregateID(type: "Customer", id: "c1"), expectedVersion: .any)
            #expect(try await first.projector.catchUp() == 1)
            await first.shutdown()
        }
        let restarted = try await Harness(root: root)
        for query in [Self.customerCount, Self.totals, Self.allCustomers] { try await restarted.cache.register(query) }
        #expect(try await Self.read(restarted) == [1, 0, 1, 1])
        await restarted.shutdown()
    }
}

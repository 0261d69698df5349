import CacheTestSupport
import AnalyticsCache
import DuckDBClient
import EventStore
import Foundation
import Synchronization
import Testing
import TestSupport

/// L1 → L2 → DuckDB: one load per key, warm starts from L2, conditional L2 writes, tenant isolation.
@Suite struct LayeredLookupTests {
    static let totals = FreshnessTests.totals

    @Test func aThousandConcurrentRequestsForOneColdKeyRunDuckDBOnce() async throws {
        let harness = try await Harness()
        defer { TestSupport.remove(harness.root) }
        try await harness.cache.register(Self.totals)
        let before = harness.pool.statistics.completed
        let served = try await withThrowingTaskGroup(of: ServedBy.self) { group in
            for _ in 0..<1_000 {
                group.addTask { try await harness.cache.result(for: "tenant-totals", scope: ScopeValue(tenant: "t0")).servedBy }
            }
            var all: [ServedBy] = []
            for try await by in group { all.append(by) }
            return all
        }
        // DuckDB-side evidence: the pool ran exactly one job for the thousand requests.
        #expect(harness.pool.statistics.completed - before == 1)
        #expect(served.filter { $0 == .computed }.count == 1)
        #expect(served.allSatisfy { $0 == .computed || $0 == .joined || $0 == .l1 })
        await harness.shutdown()
    }

    @Test func aNewProcessOverTheSameL2ServesTheFirstRequestWithoutDuckDB() async throws {
        let root = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(root) }
        let computed: AnalyticsResult
        do {
            let first = try await Harness(root: root)
            try await first.cache.register(Self.totals)
            _ = try await first.running {
                _ = try await first.cache.append([Harness.order(tenant: "t0", amount: 5)], to: AggregateID(type: "Customer", id: "c"), expectedVersion: .any)
            }
            computed = try await first.cache.result(for: "tenant-totals", scope: ScopeValue(tenant: "t0"))
            #expect(computed.servedBy == .computed)
            await first.shutdown()
        }
        // A new cache over the same files (as after a restart: L1 empty).
        let second = try await Harness(root: root)
        try await second.cache.register(Self.totals)
        let before = second.pool.statistics.completed
        let warm = try await second.cache.result(for: "tenant-totals", scope: ScopeValue(tenant: "t0"))
        #expect(warm.servedBy == .l2)
        #expect(warm.arrow == computed.arrow && warm.etag == computed.etag)
        #expect(second.pool.statistics.completed == before, "no DuckDB job for a warm start")
        #expect(try await second.cache.result(for: "tenant-totals", scope: ScopeValue(tenant: "t0")).servedBy == .l1)
        await second.shutdown()
    }

    @Test func tenantsNeverShareAResult() async throws {
        let harness = try await Harness()
        defer { TestSupport.remove(harness.root) }
        try await harness.cache.register(Self.totals)
        try await harness.running {
            for (tenant, amount) in [("t0", 1), ("t1", 10), ("t1", 10)] {
                _ = try await harness.cache.append([Harness.order(tenant: tenant, amount: amount)], to: AggregateID(type: "Customer", id: "c"), expectedVersion: .any)
            }
        }
        let t0 = try await harness.cache.result(for: "tenant-totals", scope: ScopeValue(tenant: "t0"))
        let t1 = try await harness.cache.result(for: "tenant-totals", scope: ScopeValue(tenant: "t1"))
        #expect(try Harness.integer(t0, "total") == 1)
        #expect(try Harness.integer(t1, "total") == 20)
        await #expect(throws: ParameterError.self) { _ = try await harness.cache.result(for: "tenant-totals") }
        await harness.shutdown()
    }

    @Test func aLoadThatRacedAnInvalidationIsStoredInNeitherLayer() async throws {
        let harness = try await Harness()
        defer { TestSupport.remove(harness.root) }
        try await harness.cache.register(Self.totals)
        let disk = try #require(harness.disk)
        // The load reads L2's generation, then an invalidation commits, then the load stores.
        let generation = try await disk.generation()
        try await harness.cache.invalidate(.query("tenant-totals"))
        let stored = try await disk.put([1, 2, 3], forKey: "k", ifGenerationIs: generation)
        #expect(!stored)
        // Through the cache: a computation superseded by an invalidation is served to its caller
        // but kept nowhere; the next request computes again.
        let gate = Gate()
        harness.cache.beforeStoringForTesting { await gate.wait() }
        async let first = harness.cache.result(for: "tenant-totals", scope: ScopeValue(tenant: "t9"))
        await gate.arrived()
        try await harness.cache.invalidate(.everything)
        gate.open()
        let racing = try await first
        #expect(racing.superseded && racing.uncached)
        harness.cache.beforeStoringForTesting(nil)
        let key = try harness.cache.key(for: "tenant-totals", scope: ScopeValue(tenant: "t9"))
        #expect(try await disk.value(forKey: key.rawValue) == nil, "not in L2")
        #expect(try await harness.cache.result(for: "tenant-totals", scope: ScopeValue(tenant: "t9")).servedBy == .computed, "not in L1")
        await harness.shutdown()
    }
}

/// A one-shot rendezvous: a task waits at the gate until the test opens it.
final class Gate: Sendable {
    private struct State {
        var arrived = false
        var open = false
        var waiter: CheckedContinuation<Void, Never>?
        var watcher: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    /// Called by the task: signals arrival and waits until opened.
    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let (resumeNow, watcher) = state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
                state.arrived = true
                let watcher = state.watcher
                state.watcher = nil
                if state.open { return (true, watcher) }
                state.waiter = continuation
                return (false, watcher)
            }
            watcher?.resume()
            if resumeNow { continuation.resume() }
        }
    }

    /// Called by the test: returns once the task is waiting at the gate.
    func arrived() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.arrived { return true }
                state.watcher = continuation
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Lets the task through.
    func open() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.open = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }
}

import CacheTestSupport
import AnalyticsCache
import EventStore
import Foundation
import Synchronization
import Testing
import TestSupport

/// The freshness contract, checked: every read that starts after an append returned reflects it —
/// and the checker catches it when the fence is broken.
@Suite struct FreshnessTests {
    static let tenants = ["t0", "t1", "t2", "t3"]

    static let totals = QueryDefinition(
        id: "tenant-totals", sql: "SELECT count(*) AS n, coalesce(sum(amount), 0)::BIGINT AS total FROM orders WHERE tenant = ?",
        scope: .tenant)

    /// What the checker's tasks share: acknowledged appends per tenant (incremented only after an
    /// append returned), the violations found, and the operations handed out.
    final class Checker: Sendable {
        let counts = Mutex<[String: Int64]>([:])
        let violations = Mutex<[String]>([])
        let done = Atomic<Int>(0)
        let writersDone = Atomic<Bool>(false)
        func acknowledge(_ tenant: String) { counts.withLock { $0[tenant, default: 0] += 1 } }
        func acknowledged(_ tenant: String) -> Int64 { counts.withLock { $0[tenant] ?? 0 } }
        func record(_ violation: String) { violations.withLock { $0.append(violation) } }
    }

    /// Runs two writers (each append followed by a read of its tenant), three readers and a reader
    /// that also invalidates by hand, until the writers made `appends` appends; returns the
    /// violations found and the operations done.
    static func check(_ harness: Harness, appends: Int, seed: UInt64) async throws -> (violations: [String], operations: Int) {
        let checker = Checker()
        @Sendable func read(_ tenant: String) async throws {
            // A read that starts now must see every append acknowledged before it started.
            let floor = checker.acknowledged(tenant)
            let result = try await harness.cache.result(for: "tenant-totals", scope: ScopeValue(tenant: tenant))
            let seen = try Harness.integer(result)
            if seen < floor { checker.record("\(tenant): read \(seen) after \(floor) acknowledged (\(result.servedBy))") }
            checker.done.add(1, ordering: .relaxed)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for reader in 0..<4 {
                group.addTask {
                    var random = SeededRandom(seed: seed &+ 100 &+ UInt64(reader))
                    var reads = 0
                    // At least a quarter of 10 000 operations each: a loaded run that starves the
                    // readers while the appends go on must not shrink the check.
                    while !checker.writersDone.load(ordering: .relaxed) || reads < appends * 5 / 2 {
                        try await read(tenants[random.below(tenants.count)])
                        reads += 1
                        // The fourth reader also invalidates by hand now and then.
                        if reader == 3, reads % 50 == 0 {
                            try await harness.cache.invalidate(random.below(2) == 0 ? .query("tenant-totals") : .everything)
                            checker.done.add(1, ordering: .relaxed)
                        }
                        await Task.yield()
                    }
                }
            }
            try await withThrowingTaskGroup(of: Void.self) { writers in
                for writer in 0..<2 {
                    writers.addTask {
                        var random = SeededRandom(seed: seed &+ UInt64(writer))
                        for _ in 0..<(appends / 2) {
                            let tenant = tenants[random.below(tenants.count)]
                            _ = try await harness.cache.append(
                                [Harness.order(tenant: tenant)], to: AggregateID(type: "Customer", id: "c\(random.below(5))"), expectedVersion: .any)
                            checker.acknowledge(tenant)
                            checker.done.add(1, ordering: .relaxed)
                            try await read(tenant)
                        }
                    }
                }
                try await writers.waitForAll()
            }
            checker.writersDone.store(true, ordering: .relaxed)
            try await group.waitForAll()
        }
        return (checker.violations.withLock { $0 }, checker.done.load(ordering: .relaxed))
    }

    @Test(.timeLimit(.minutes(5))) func everyReadThatStartsAfterAnAppendReturnedReflectsIt() async throws {
        let harness = try await Harness()
        defer { TestSupport.remove(harness.root) }
        try await harness.cache.register(Self.totals)
        let appends = ProcessInfo.processInfo.environment["STALE_CHECK_APPENDS"].flatMap(Int.init) ?? 1_000
        let (violations, operations) = try await harness.running { try await Self.check(harness, appends: appends, seed: 1) }
        #expect(violations.isEmpty, "\(violations.count) stale reads: \(violations.prefix(5))")
        let appended = try await harness.log.lastPosition()
        print("stale-read checker: \(operations) operations, \(appended) appends, \(violations.count) violations")
        #expect(appended == Int64(appends))
        #expect(operations >= 10_000 || appends < 1_000, "\(operations) operations")
        await harness.shutdown()
    }

    @Test func theCheckerCatchesABrokenFence() async throws {
        let harness = try await Harness()
        defer { TestSupport.remove(harness.root) }
        try await harness.cache.register(Self.totals)
        harness.cache.breakFenceForTesting()
        let (violations, _) = try await harness.running { try await Self.check(harness, appends: 200, seed: 2) }
        #expect(!violations.isEmpty, "the checker must see stale reads when appends do not wait")
        print("stale-read checker with the fence broken: \(violations.count) violations")
        await harness.shutdown()
    }
}

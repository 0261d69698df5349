import CacheTestSupport
import AnalyticsCache
import DiskCache
import DuckDBClient
import EventLogCore
import EventProjection
import EventStore
import Foundation
import ResultFormat
import Synchronization
import Testing
import TestSupport

/// Found by an adversarial review of restart recovery and the projector's appliers (each failed
/// before its fix, or guards a guarantee the review attacked): read-your-writes for positions
/// applied before a restart, several appliers with one name, commit order, event-time-ranged
/// entries and view dependencies across a restart, and a recovery that cannot read the log.
@Suite(.timeLimit(.minutes(3))) struct ApplierAndRecoveryTests {
    static let customerCount = HostileRequestAndRestartTests.customerCount
    static let totals = FreshnessTests.totals

    /// The orders table's row count, read on the writer.
    static func orderRows(_ writer: DuckDBWriter) async throws -> Int64 {
        try await writer.write { connection -> Int64 in
            guard case .int(let n) = try connection.query("SELECT count(*) FROM orders").row(0)[0] else { return -1 }
            return n
        }
    }

    // MARK: waitUntilFresh after a restart

    /// After a restart L2 is reconciled through the projector's checkpoint, but the invalidation
    /// tracker is never advanced to it: read-your-writes for a position appended before the
    /// restart (`waitUntilFresh(through:)`) hangs until the append timeout when no new event comes.
    @Test func waitUntilFreshForAPositionAppliedBeforeARestartReturns() async throws {
        let root = try TestSupport.temporaryDirectory("applier-fresh-restart")
        defer { TestSupport.remove(root) }
        let position: Int64
        do {
            let first = try await Harness(root: root)
            try await first.cache.register(Self.customerCount)
            position = try await first.running {
                try await first.cache.append([Harness.order(tenant: "t0", customer: "c1")], to: AggregateID(type: "Customer", id: "c1"),
                                             expectedVersion: .any).last!.position
            }
            await first.shutdown()
        }
        let h = try await Harness(root: root)
        let cache = AnalyticsCache(configuration: AnalyticsCache.Configuration(
            pool: h.pool, log: h.log, projector: h.projector, projections: [Harness.orders], disk: h.disk, appendTimeout: .seconds(30)))
        try await cache.register(Self.customerCount)
        let outcome: String = try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask { try await h.projector.run(); return nil }
            group.addTask { try await cache.run(); return nil }
            try await h.projector.waitUntilApplied(position, timeout: .seconds(60))
            #expect(await cache.recoverDiskCache())
            let clock = ContinuousClock()
            let started = clock.now
            var outcome = "returned"
            do { try await cache.waitUntilFresh(through: position) } catch { outcome = "threw after \(clock.now - started): \(error)" }
            group.cancelAll()
            while try await group.next() != nil {}
            return outcome
        }
        #expect(outcome == "returned", "waitUntilFresh(through: \(position)) for an event applied and reconciled before this start \(outcome)")
        await h.shutdown()
    }

    // MARK: two appliers

    /// Two Projector instances with the same name on one DuckDB database, each with its own writer
    /// connection (two writer objects on one `Database`), catch up concurrently from scratch.
    @Test(arguments: [0, 1, 2])
    func twoProjectorsWithTheSameNameNeverDoubleApply(round: Int) async throws {
        let h = try await Harness(label: "applier-two-projectors-\(round)", disk: false)
        defer { TestSupport.remove(h.root) }
        for i in 0..<40 {
            let events = (0..<5).map { Harness.order(tenant: "t0", customer: "c\(i)", amount: $0) }
            _ = try await h.log.append(events, to: AggregateID(type: "Customer", id: "c\(i)"), expectedVersion: .any)
        }
        let writer2 = try DuckDBWriter(database: h.database)
        let a = Projector(name: "orders", log: h.log, writer: h.writer, projections: [Harness.orders], batchSize: 7 + round, eventTime: Harness.eventTime)
        let b = Projector(name: "orders", log: h.log, writer: writer2, projections: [Harness.orders], batchSize: 5, eventTime: Harness.eventTime)
        @Sendable func outcome(_ projector: Projector) async -> String {
            do { return "\(try await projector.catchUp())" } catch { return "error: \(error)" }
        }
        async let first = outcome(a)
        async let second = outcome(b)
        let outcomes = await [first, second]
        let rows = try await Self.orderRows(h.writer)
        #expect(rows == 200, "orders has \(rows) rows for 200 events; catchUp outcomes: \(outcomes)")
        await writer2.shutdown()
        await h.shutdown()
    }

    /// run() and catchUp() of one projector apply concurrently (allowed: "concurrent appliers"):
    /// each publishes its own commits after its transaction, outside the writer's order, so a
    /// subscriber (the cache's invalidation follower, whose tracker only moves forward) can see
    /// batch N+1 before batch N and report "invalidated through N+1" while N's stale entries are
    /// still there.
    @Test func runAndCatchUpTogetherPublishBatchesInLogOrder() async throws {
        let h = try await Harness(label: "applier-run-catchup", disk: false)
        defer { TestSupport.remove(h.root) }
        let feed = h.projector.commits(bufferLimit: 1_000_000)
        let total: Int64 = 300
        let problems: [String] = try await withThrowingTaskGroup(of: [String]?.self) { group in
            group.addTask { try await h.projector.run(); return nil }
            group.addTask {
                var problems: [String] = []
                var last: Int64 = 0
                for try await batch in feed {
                    if batch.positions.lowerBound != last + 1 {
                        problems.append("after \(last): batch \(batch.positions)")
                    }
                    last = max(last, batch.positions.upperBound)
                    if last >= total { break }
                }
                return problems
            }
            group.addTask {
                for i in 0..<Int(total) {
                    _ = try await h.log.append([Harness.order(tenant: "t0", customer: "c\(i % 9)")],
                                               to: AggregateID(type: "Customer", id: "c\(i % 9)"), expectedVersion: .any)
                    if i % 2 == 0 { _ = try? await h.projector.catchUp() }
                }
                return nil
            }
            var found: [String]?
            while let next = try await group.next() {
                if let next { found = next; break }
            }
            group.cancelAll()
            return found ?? ["the subscriber never finished"]
        }
        #expect(problems.isEmpty, "out-of-order or overlapping batches: \(problems.prefix(10))")
        #expect(try await Self.orderRows(h.writer) == total)
        await h.shutdown()
    }

    /// A second Projector with the cache's projector's name applies an event on the same DuckDB
    /// (allowed: "two Projector instances with the same name ... never double-apply"). The
    /// cache's projector then finds it applied (claim fails, nothing unapplied) and publishes
    /// nothing: the event's invalidation never happens, and a later append's fence
    /// ("invalidated through a later position") vouches for it anyway.
    @Test func anEventASecondApplierWithTheSameNameAppliesIsStillInvalidated() async throws {
        let root = try TestSupport.temporaryDirectory("applier-second-applier")
        defer { TestSupport.remove(root) }
        do {
            let h = try await Harness(root: root)
            try await h.cache.register(Self.customerCount)
            let writer2 = try DuckDBWriter(database: h.database)
            let other = Projector(name: "orders", log: h.log, writer: writer2, projections: [Harness.orders], eventTime: Harness.eventTime)
            let (stale, servedBy) = try await h.running { () -> (Int64, String) in
                let before = try await h.cache.result(for: "customer-count", parameters: ["customer": .text("c1")])
                #expect(try Harness.integer(before) == 0)
                // Hold the cache's projector's writer (a gate, not a sleep) so the second applier
                // goes first.
                let (entered, enteredSink) = AsyncStream.makeStream(of: Void.self)
                let release = DispatchSemaphore(value: 0)
                async let busy: Void = h.writer.write { _ in
                    enteredSink.yield()
                    release.wait()
                }
                var signals = entered.makeAsyncIterator()
                _ = await signals.next()
                _ = try await h.log.append([Harness.order(tenant: "t0", customer: "c1")], to: AggregateID(type: "Customer", id: "c1"), expectedVersion: .any)
                _ = try await other.catchUp()
                release.signal()
                try await busy
                // A later event through the cache's fenced append: invalidated through its position.
                _ = try await h.cache.append([Harness.order(tenant: "t0", customer: "c2")], to: AggregateID(type: "Customer", id: "c2"), expectedVersion: .any)
                let after = try await h.cache.result(for: "customer-count", parameters: ["customer": .text("c1")])
                return (try Harness.integer(after), "\(after.servedBy)")
            }
            #expect(stale == 1, "after a later fenced append returned, c1's count is \(stale) (served by \(servedBy)); DuckDB has the event")
            await writer2.shutdown()
            await h.shutdown()
        }
        // And across a restart: L2's note says "invalidated through 2", so recovery replays nothing.
        let restarted = try await Harness(root: root)
        try await restarted.cache.register(Self.customerCount)
        let after = try await restarted.cache.result(for: "customer-count", parameters: ["customer": .text("c1")])
        let count = try Harness.integer(after)
        #expect(count == 1, "after a restart c1's count is \(count) (served by \(after.servedBy))")
        await restarted.shutdown()
    }

    /// Event-time-ranged entries (day tags) across a restart: an event applied while no cache
    /// followed, inside the entry's day, must retire it; one outside must not.
    @Test func rangedEntriesAreRecoveredByDay() async throws {
        let root = try TestSupport.temporaryDirectory("applier-ranged-restart")
        defer { TestSupport.remove(root) }
        let day: Int64 = 86_400_000_000, d0: Int64 = 20_000 * 86_400_000_000
        let ranged = QueryDefinition(
            id: "ranged", sql: "SELECT count(*) AS n FROM orders WHERE occurred_at >= ? AND occurred_at < ?",
            parameters: [ParameterSpec("from", .integer), ParameterSpec("to", .integer)], eventTime: EventTimeRange(from: "from", to: "to"))
        let inside: [String: ParameterValue] = ["from": .integer(d0), "to": .integer(d0 + 2 * day)]
        let outside: [String: ParameterValue] = ["from": .integer(d0 + 10 * day), "to": .integer(d0 + 11 * day)]
        do {
            let first = try await Harness(root: root)
            try await first.cache.register(ranged)
            try await first.running {
                _ = try await first.cache.append([Harness.order(tenant: "t0", customer: "c1", at: d0 + 5)], to: AggregateID(type: "Customer", id: "c1"), expectedVersion: .any)
            }
            #expect(try Harness.integer(try await first.cache.result(for: "ranged", parameters: inside)) == 1)
            #expect(try Harness.integer(try await first.cache.result(for: "ranged", parameters: outside)) == 0)
            await first.shutdown()
        }
        do {
            let window = try await Harness(root: root)
            _ = try await window.log.append([Harness.order(tenant: "t0", customer: "c2", at: d0 + day + 7)], to: AggregateID(type: "Customer", id: "c2"), expectedVersion: .any)
            #expect(try await window.projector.catchUp() == 2)
            await window.shutdown()
        }
        let restarted = try await Harness(root: root)
        try await restarted.cache.register(ranged)
        let a = try await restarted.cache.result(for: "ranged", parameters: inside)
        #expect(try Harness.integer(a) == 2, "served by \(a.servedBy)")
        let b = try await restarted.cache.result(for: "ranged", parameters: outside)
        #expect(try Harness.integer(b) == 0)
        #expect(b.servedBy == .l2, "an entry of other days survives")
        await restarted.shutdown()
    }

    /// Statements over views (DuckDB 1.4.4's listing fails for views: the EXPLAIN fallback).
    @Test func viewDependenciesCoverEveryTableTheViewsRead() async throws {
        let h = try await Harness(label: "applier-views", disk: false)
        defer { TestSupport.remove(h.root) }
        try await h.writer.write { connection in
            for sql in [
                "CREATE MACRO om() AS TABLE SELECT * FROM orders",
                "CREATE VIEW v_macro AS SELECT * FROM om()",
                "CREATE SCHEMA s",
                "CREATE VIEW s.v_schema AS SELECT * FROM main.orders",
                "CREATE VIEW v_lateral AS SELECT r.name, x.n FROM regions r, LATERAL (SELECT count(*) AS n FROM orders o WHERE o.customer = r.name) x",
                "CREATE VIEW v_scalar AS SELECT (SELECT count(*) FROM orders) AS n, name FROM regions",
                "CREATE VIEW v_union AS SELECT customer AS c FROM orders UNION SELECT name FROM regions",
                "CREATE VIEW v_exists AS SELECT name FROM regions r WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer = r.name)",
                "CREATE VIEW v_limit0 AS SELECT * FROM orders LIMIT 0",
                "CREATE VIEW v_false AS SELECT * FROM orders WHERE false",
                "CREATE VIEW v_recursive AS WITH RECURSIVE t(n) AS (SELECT count(*) FROM orders UNION ALL SELECT n + 1 FROM t WHERE n < 3) SELECT * FROM t",
                "CREATE VIEW v_query_table AS SELECT * FROM query_table('orders')",
                "CREATE VIEW v_nested AS SELECT * FROM v_union, v_macro",
                "CREATE VIEW v_cols(a, b) AS SELECT tenant, amount FROM orders",
            ] { _ = try connection.execute(sql) }
        }
        let cases: [(String, Set<String>)] = [
            ("SELECT count(*) FROM v_macro", ["orders"]),
            ("SELECT count(*) FROM s.v_schema", ["orders"]),
            ("SELECT * FROM v_lateral", ["orders", "regions"]),
            ("SELECT * FROM v_scalar", ["orders", "regions"]),
            ("SELECT * FROM v_union", ["orders", "regions"]),
            ("SELECT * FROM v_exists", ["orders", "regions"]),
            ("SELECT count(*) FROM v_limit0", ["orders"]),
            ("SELECT count(*) FROM v_false", ["orders"]),
            ("SELECT * FROM v_recursive", ["orders"]),
            ("SELECT count(*) FROM v_query_table", ["orders"]),
            ("SELECT count(*) FROM v_nested", ["orders", "regions"]),
            ("SELECT sum(b) FROM v_cols WHERE a = ?", ["orders"]),
        ]
        var problems: [String] = []
        for (sql, expected) in cases {
            do {
                let names = Set(try await h.pool.tableNames(in: sql))
                if !expected.isSubset(of: names) { problems.append("\(sql): \(names.sorted())") }
            } catch {
                problems.append("\(sql): threw \(error)")
            }
        }
        #expect(problems.isEmpty, "\(problems)")
        await h.shutdown()
    }

    // MARK: recovery that cannot read the log

    /// A log whose reads fail (recovery's replay cannot read the events in between).
    final class FailingReadLog: EventLog {
        let base: SQLiteEventStore
        init(_ base: SQLiteEventStore) { self.base = base }
        func append(_ events: [NewEvent], to aggregate: AggregateID, expectedVersion: ExpectedVersion) async throws -> [RecordedEvent] {
            try await base.append(events, to: aggregate, expectedVersion: expectedVersion)
        }
        func read(from position: Int64, limit: Int) async throws -> [RecordedEvent] {
            throw HarnessError(description: "injected: the log cannot be read")
        }
        func read(aggregate: AggregateID) async throws -> [RecordedEvent] { try await base.read(aggregate: aggregate) }
        func lastPosition() async throws -> Int64 { try await base.lastPosition() }
        func identity() async throws -> String { try await base.identity() }
        func subscribe(from position: Int64, batchSize: Int?) -> EventSubscription { base.subscribe(from: position, batchSize: batchSize) }
    }

    @Test func recoveryThatCannotReadTheLogNeverServesL2() async throws {
        let root = try TestSupport.temporaryDirectory("applier-recovery-unreadable")
        defer { TestSupport.remove(root) }
        do {
            let first = try await Harness(root: root)
            for query in [Self.customerCount, Self.totals] { try await first.cache.register(query) }
            try await first.running {
                _ = try await first.cache.append([Harness.order(tenant: "t0", customer: "c1", amount: 5)], to: AggregateID(type: "Customer", id: "c1"), expectedVersion: .any)
            }
            _ = try await first.cache.result(for: "customer-count", parameters: ["customer": .text("c2")])
            _ = try await first.cache.result(for: "tenant-totals", scope: ScopeValue(tenant: "t0"))
            await first.shutdown()
        }
        do {
            let window = try await Harness(root: root)
            _ = try await window.log.append([Harness.order(tenant: "t0", customer: "c2", amount: 7)], to: AggregateID(type: "Customer", id: "c2"), expectedVersion: .any)
            #expect(try await window.projector.catchUp() == 2)
            await window.shutdown()
        }
        let h = try await Harness(root: root)
        let cache = AnalyticsCache(configuration: AnalyticsCache.Configuration(
            pool: h.pool, log: FailingReadLog(h.log), projector: h.projector, projections: [Harness.orders], disk: h.disk))
        for query in [Self.customerCount, Self.totals] { try await cache.register(query) }
        #expect(await cache.recoverDiskCache() == false)
        let c2 = try await cache.result(for: "customer-count", parameters: ["customer": .text("c2")])
        #expect(try Harness.integer(c2) == 1, "served by \(c2.servedBy)")
        #expect(c2.servedBy != .l2)
        let totals = try await cache.result(for: "tenant-totals", scope: ScopeValue(tenant: "t0"))
        #expect(try Harness.integer(totals) == 2, "served by \(totals.servedBy)")
        await h.shutdown()
    }
}

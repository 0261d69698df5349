import AnalyticsCache
import AnalyticsServer
import CacheTestSupport
import EventLogCore
import EventStore
import Foundation
import Testing
import TestSupport

/// Review (issue 16): causal read tokens (`X-Min-Position`, `?after=`) against a live server.
///
/// A node that lags the log is made without sleeps: events are appended to the same SQLite file
/// through a second store, which does not signal the rig's store — so the rig's projector (which
/// has no watcher in ServerRig) is never woken for them. `lastPosition()` still sees them.
@Suite(.timeLimit(.minutes(2))) struct ReviewCausalTokenTests {
    /// Appends one order behind the node's back; returns its position (never applied by the node).
    static func appendBehindTheNodesBack(_ rig: ServerRig) async throws -> Int64 {
        let other = try SQLiteEventStore(path: rig.harness.root.appendingPathComponent("events.sqlite").path)
        let recorded = try await other.append([Harness.order(tenant: "acme", customer: "hidden", amount: 1000)],
                                              to: AggregateID(type: "Customer", id: "hidden"), expectedVersion: .any)
        return try #require(recorded.last?.position)
    }

    static func count(_ body: [UInt8]) -> Int? { ServerRig.rows(body).first?["n"] as? Int }

    @Test func malformedTokensAreRefusedWith400() async throws {
        try await ServerRig.with({ $0.causalReadTimeout = .milliseconds(300) }) { rig in
            #expect(try await rig.postOrder(tenant: "acme").status == 201)
            for token in ["-1", "5.0", "abc", "0x1", "1e0", "99999999999999999999", "1 2"] {
                let response = try await rig.send(.GET, "/api/queries/all-orders", headers: [("X-Min-Position", token)])
                #expect(response.status == 400, "X-Min-Position: \(token) → \(response.status) \(String(decoding: response.body, as: UTF8.self))")
            }
            for token in ["-1", "5.0", "abc", "%2B%2B1"] {
                let response = try await rig.send(.GET, "/api/queries/all-orders?after=\(token)")
                #expect(response.status == 400, "?after=\(token) → \(response.status)")
            }
            // Beyond the log: 400, even Int64.max.
            let beyond = try await rig.send(.GET, "/api/queries/all-orders", headers: [("X-Min-Position", String(Int64.max))])
            #expect(beyond.status == 400)
            // Applied tokens (with harmless spelling) answer at once.
            for token in ["0", "1", " 1", "+1", "01"] {
                let response = try await rig.send(.GET, "/api/queries/all-orders", headers: [("X-Min-Position", token)])
                #expect(response.status == 200, "X-Min-Position: '\(token)' → \(response.status)")
            }
        }
    }

    @Test func aDuplicatedHeaderNeverAnswersForTheLowerToken() async throws {
        try await ServerRig.with({ $0.causalReadTimeout = .milliseconds(300) }) { rig in
            #expect(try await rig.postOrder(tenant: "acme").status == 201)
            let unapplied = try await Self.appendBehindTheNodesBack(rig)
            let response = try await rig.send(.GET, "/api/queries/all-orders",
                                              headers: [("X-Min-Position", "1"), ("X-Min-Position", String(unapplied))])
            #expect(response.status != 200, "answered \(Self.count(response.body).map(String.init) ?? "?") orders, not reflecting position \(unapplied)")
        }
    }

    /// The request carries two tokens; the node has applied only the smaller. Answering 200 breaks
    /// the promise made for the other ("the answer reflects every event through it").
    @Test func aHeaderAndAnAfterThatDisagreeNeverAnswerForTheLowerToken() async throws {
        try await ServerRig.with({ $0.causalReadTimeout = .milliseconds(300) }) { rig in
            #expect(try await rig.postOrder(tenant: "acme").status == 201)
            let unapplied = try await Self.appendBehindTheNodesBack(rig)
            let response = try await rig.send(.GET, "/api/queries/all-orders?after=\(unapplied)", headers: [("X-Min-Position", "1")])
            #expect(response.status != 200,
                    "?after=\(unapplied) with X-Min-Position: 1 → 200 with \(Self.count(response.body).map(String.init) ?? "?") order(s): the after token was ignored")
        }
    }

    /// A repeated `after` in the query string: the header's repetition is refused (400), this one
    /// silently takes the last value.
    @Test func aRepeatedAfterNeverAnswersForTheLowerToken() async throws {
        try await ServerRig.with({ $0.causalReadTimeout = .milliseconds(300) }) { rig in
            #expect(try await rig.postOrder(tenant: "acme").status == 201)
            let unapplied = try await Self.appendBehindTheNodesBack(rig)
            let response = try await rig.send(.GET, "/api/queries/all-orders?after=\(unapplied)&after=1")
            #expect(response.status != 200,
                    "?after=\(unapplied)&after=1 → 200 with \(Self.count(response.body).map(String.init) ?? "?") order(s)")
        }
    }

    @Test func aTokenTheNodeNeverAppliesIsABounded503WithRetryAfter() async throws {
        try await ServerRig.with({ $0.causalReadTimeout = .milliseconds(500) }) { rig in
            #expect(try await rig.postOrder(tenant: "acme").status == 201)
            let unapplied = try await Self.appendBehindTheNodesBack(rig)
            let started = ContinuousClock.now
            let response = try await rig.send(.GET, "/api/queries/all-orders", headers: [("X-Min-Position", String(unapplied))])
            let elapsed = ContinuousClock.now - started
            #expect(response.status == 503 && response.headers["Retry-After"].first == "1")
            // Bounded: a wait that never ended would hit the client's 30 s limit; the margin over
            // the 500 ms bound is for a loaded test run's scheduling.
            #expect(elapsed < .seconds(20), "took \(elapsed)")
            // Several at once: each bounded, the server still answers other requests.
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<8 {
                    group.addTask { try await rig.send(.GET, "/api/queries/all-orders?after=\(unapplied)").status }
                }
                for try await status in group { #expect(status == 503) }
            }
            #expect(try await rig.send(.GET, "/api/queries/all-orders").status == 200)
        }
    }

    @Test func aQueryDeclaringAfterKeepsItsParameterAndTheHeaderStillWorks() async throws {
        let since = QueryDefinition(
            id: "orders-after", sql: "SELECT count(*) AS n FROM orders WHERE amount > ?",
            parameters: [ParameterSpec("after", .integer, default: .integer(0))])
        try await ServerRig.with({ $0.causalReadTimeout = .milliseconds(300) }, queries: [ServerRig.all, since]) { rig in
            #expect(try await rig.postOrder(tenant: "acme", amount: 5).status == 201)
            #expect(try await rig.postOrder(tenant: "acme", amount: 50).status == 201)
            let response = try await rig.send(.GET, "/api/queries/orders-after?after=10")
            #expect(response.status == 200 && Self.count(response.body) == 1)
            let unapplied = try await Self.appendBehindTheNodesBack(rig)
            let header = try await rig.send(.GET, "/api/queries/orders-after?after=10", headers: [("X-Min-Position", String(unapplied))])
            #expect(header.status == 503)
        }
    }

    /// A tenant query without a tenant is refused with 401 — but only after the token is handled:
    /// an anonymous caller learns the log's length (400 "its last is N") or holds a request for the
    /// whole causal wait.
    @Test func aScopedQueryWithoutATenantIsRefusedBeforeTheTokenIsLookedAt() async throws {
        try await ServerRig.with({ $0.causalReadTimeout = .milliseconds(300) }) { rig in
            #expect(try await rig.postOrder(tenant: "acme").status == 201)
            let beyond = try await rig.send(.GET, "/api/queries/tenant-totals", headers: [("X-Min-Position", "1000000")])
            #expect(beyond.status == 401, "→ \(beyond.status) \(String(decoding: beyond.body, as: UTF8.self))")
            let unapplied = try await Self.appendBehindTheNodesBack(rig)
            let waiting = try await rig.send(.GET, "/api/queries/tenant-totals", headers: [("X-Min-Position", String(unapplied))])
            #expect(waiting.status == 401, "→ \(waiting.status) \(String(decoding: waiting.body, as: UTF8.self))")
        }
    }
}

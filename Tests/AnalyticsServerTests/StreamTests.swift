import AnalyticsCache
import AnalyticsServer
import CacheTestSupport
import Foundation
import Testing

/// `GET /api/analytics/stream`: current results first, pushed updates after an append, heartbeats
/// (paced by a test trigger), resume with `Last-Event-ID`, resync for lagging or unknown clients,
/// and a graceful shutdown that ends 100 open streams.
@Suite(.timeLimit(.minutes(2))) struct StreamTests {
    @Test func aStreamStartsWithTheCurrentResultsThenPushesTheRefreshedOnes() async throws {
        let trigger = HeartbeatTrigger()
        try await ServerRig.with({ $0.heartbeat = .manual(trigger) }) { rig in
            let stream = try await SSEReader(rig, "/api/analytics/stream?queries=all-orders,customer-count&customer-count.customer=c7")
            #expect(stream.status == 200)
            #expect(stream.headers["Content-Type"].first?.hasPrefix("text/event-stream") == true)
            var initial: [String: [String: Any]] = [:]
            for _ in 0..<2 {
                let frame = try #require(try await stream.nextEvent())
                #expect(frame.event == "result" && frame.id != nil)
                initial[frame.object["query"] as? String ?? "?"] = frame.object
            }
            #expect(((initial["all-orders"]?["rows"] as? [[String: Any]])?.first?["n"] as? Int) == 0)
            #expect(((initial["customer-count"]?["rows"] as? [[String: Any]])?.first?["n"] as? Int) == 0)

            #expect(try await rig.postOrder(tenant: "t", customer: "c7", amount: 3).status == 201)
            var refreshed: Set<String> = []
            var invalidated: Set<String> = []
            while refreshed.count < 2, let frame = try await stream.nextEvent() {
                let query = frame.object["query"] as? String ?? "?"
                if frame.event == "invalidated" { invalidated.insert(query) }
                if frame.event == "result" {
                    #expect((frame.object["rows"] as? [[String: Any]])?.first?["n"] as? Int == 1, "\(query)")
                    refreshed.insert(query)
                }
            }
            #expect(invalidated == ["all-orders", "customer-count"])
            #expect(refreshed == ["all-orders", "customer-count"])

            // A heartbeat is a comment, sent when the clock says so.
            while trigger.listenerCount == 0 { await Task.yield() }
            trigger.beat()
            let beat = try #require(try await stream.next())
            #expect(beat.isComment)
        }
    }

    @Test func aReconnectingClientIsGivenWhatItMissedOrAResync() async throws {
        try await ServerRig.with({ $0.heartbeat = .manual(HeartbeatTrigger()) }) { rig in
            let stream = try await SSEReader(rig, "/api/analytics/stream?queries=all-orders")
            let first = try #require(try await stream.nextEvent())
            let lastSeen = try #require(first.id)
            // Two appends happen while the client is away.
            #expect(try await rig.postOrder(tenant: "t").status == 201)
            #expect(try await rig.postOrder(tenant: "t").status == 201)
            let resumed = try await SSEReader(rig, "/api/analytics/stream?queries=all-orders", headers: [("Last-Event-ID", lastSeen)])
            var reasons: [String] = []
            var newest = 0
            while newest < 2, let frame = try await resumed.nextEvent() {
                #expect(frame.event != "resync")
                reasons.append(frame.event ?? "?")
                if frame.event == "result" { newest = max(newest, (frame.object["rows"] as? [[String: Any]])?.first?["n"] as? Int ?? 0) }
            }
            #expect(reasons.first == "invalidated", "replayed from the bus, not the current state first: \(reasons)")
            // Another process's id: nothing can be replayed, the client resyncs.
            let stranger = try await SSEReader(rig, "/api/analytics/stream?queries=all-orders", headers: [("Last-Event-ID", "otherepoch-3")])
            #expect(try await stranger.nextEvent()?.event == "resync")
            let state = try #require(try await stranger.nextEvent())
            #expect(state.event == "result" && (state.object["rows"] as? [[String: Any]])?.first?["n"] as? Int == 2)
        }
    }

    @Test func aClientThatFallsBehindGetsAResyncNotAnUnboundedBuffer() async throws {
        try await ServerRig.with({ $0.streamBuffer = 2; $0.heartbeat = .manual(HeartbeatTrigger()) }) { rig in
            let gate = Gate()
            rig.server.beforeStreamMessageForTesting { await gate.wait() }
            let stream = try await SSEReader(rig, "/api/analytics/stream?queries=all-orders")
            _ = try #require(try await stream.nextEvent())
            // The stream is held while 50 updates are published: its buffer holds 2.
            for n in 0..<50 {
                rig.harness.cache.bus.publish(AnalyticsUpdate(
                    query: "all-orders", key: nil, parameters: nil, scope: nil, reason: .manual, position: Int64(n),
                    eventTypes: [], aggregates: [], result: nil))
            }
            rig.server.beforeStreamMessageForTesting(nil)
            await gate.open()
            let resync = try #require(try await stream.nextEvent())
            #expect(resync.event == "resync")
            #expect((resync.object["missed"] as? Int ?? 0) >= 48)
            let state = try #require(try await stream.nextEvent())
            #expect(state.event == "result")
        }
    }

    @Test func aGracefulShutdownEndsAHundredOpenStreams() async throws {
        try await ServerRig.with({ $0.heartbeat = .manual(HeartbeatTrigger()) }) { rig in
            let ended = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<100 {
                    let stream = try await SSEReader(rig, "/api/analytics/stream?queries=all-orders")
                    _ = try #require(try await stream.nextEvent())
                    group.addTask {
                        while try await stream.next() != nil {}
                        return 1
                    }
                }
                #expect(rig.server.openStreams == 100)
                await rig.shutDown()
                return try await group.reduce(0, +)
            }
            #expect(ended == 100)
        }
    }
}

/// A gate tests open explicitly (never a sleep).
actor Gate {
    private var opened = false
    private var waiters: [CheckedContinuation<Void, Never>] = []
    func wait() async {
        if opened { return }
        await withCheckedContinuation { waiters.append($0) }
    }
    func open() {
        opened = true
        for waiter in waiters { waiter.resume() }
        waiters.removeAll()
    }
}

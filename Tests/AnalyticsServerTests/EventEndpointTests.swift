import AnalyticsCache
import AnalyticsServer
import CacheTestSupport
import Foundation
import Testing

/// `POST /api/events`: 201 once results are fresh, and every refusal with its status.
@Suite(.timeLimit(.minutes(2))) struct EventEndpointTests {
    @Test func anAcceptedAppendIsReflectedByTheNextRead() async throws {
        try await ServerRig.with { rig in
            #expect(ServerRig.rows(try await rig.send(.GET, "/api/queries/all-orders").body).first?["n"] as? Int == 0)
            for expected in 1...5 {
                let posted = try await rig.postOrder(tenant: "t", amount: 2)
                #expect(posted.status == 201)
                let body = ServerRig.object(posted.body)
                #expect(body["position"] as? Int == expected)
                #expect(posted.headers["X-Event-Position"].first == String(expected))
                // The freshness contract over HTTP: a read after the 201 reflects the append.
                let read = try await rig.send(.GET, "/api/queries/all-orders")
                #expect(ServerRig.rows(read.body).first?["n"] as? Int == expected)
                #expect(ServerRig.rows(read.body).first?["total"] as? Int == 2 * expected)
            }
        }
    }

    @Test func refusedAppendsSayWhyAndWriteNothing() async throws {
        try await ServerRig.with({ $0.maxEventBodyBytes = 2_000 }) { rig in
            let json = [("Content-Type", "application/json")]
            let first = try await rig.send(.POST, "/api/events", headers: json, body: """
                {"aggregateType":"Customer","aggregateId":"c","expectedVersion":"none","events":[{"type":"OrderPlaced","payload":{"tenant":"t"}}]}
                """)
            #expect(first.status == 201)
            let conflict = try await rig.send(.POST, "/api/events", headers: json, body: """
                {"aggregateType":"Customer","aggregateId":"c","expectedVersion":"none","events":[{"type":"OrderPlaced","payload":{}}]}
                """)
            #expect(conflict.status == 409)
            #expect(ServerRig.object(conflict.body)["actualVersion"] as? String == "1")
            #expect(try await rig.send(.POST, "/api/events", headers: json, body: "{not json").status == 400)
            let missing = try await rig.send(.POST, "/api/events", headers: json, body: #"{"aggregateType":"Customer","events":[{"type":"X"}]}"#)
            #expect(missing.status == 400 && ServerRig.object(missing.body)["field"] as? String == "aggregateId")
            let badVersion = try await rig.send(.POST, "/api/events", headers: json, body: """
                {"aggregateType":"C","aggregateId":"c","expectedVersion":true,"events":[{"type":"X"}]}
                """)
            #expect(badVersion.status == 400 && ServerRig.object(badVersion.body)["field"] as? String == "expectedVersion")
            let badPayload = try await rig.send(.POST, "/api/events", headers: json, body: """
                {"aggregateType":"C","aggregateId":"c","events":[{"type":"X","payload":[1,2]}]}
                """)
            #expect(badPayload.status == 400 && ServerRig.object(badPayload.body)["field"] as? String == "events[0].payload")
            let text = try await rig.send(.POST, "/api/events", headers: [("Content-Type", "text/plain")], body: "{}")
            #expect(text.status == 415)
            let huge = try await rig.send(.POST, "/api/events", headers: json, body: """
                {"aggregateType":"C","aggregateId":"c","events":[{"type":"X","payload":{"x":"\(String(repeating: "y", count: 5_000))"}}]}
                """)
            #expect(huge.status == 413)
            // Only the first append was written.
            #expect(try await rig.harness.log.lastPosition() == 1)
        }
    }
}

import AnalyticsCache
import AnalyticsServer
import CacheTestSupport
import Foundation
import ResultFormat
import Testing

/// `GET /api/queries` and `GET /api/queries/{id}` over a real socket: formats, cache headers,
/// conditional requests, bypass, and every error path.
@Suite(.timeLimit(.minutes(2))) struct QueryEndpointTests {
    @Test func headRequestsAnswerWithTheGETsStatusAndHeadersAndNoBody() async throws {
        try await ServerRig.with { rig in
            let get = try await rig.send(.GET, "/api/queries/all-orders")
            let head = try await rig.send(.HEAD, "/api/queries/all-orders")
            #expect(head.status == 200 && head.body.isEmpty)
            #expect(head.headers["X-Cache"].first == "l1")
            #expect(head.headers["ETag"].first != nil && head.headers["ETag"].first == get.headers["ETag"].first)
            #expect(head.headers["Content-Type"] == get.headers["Content-Type"])
            #expect(try await rig.send(.HEAD, "/api/queries/no-such-query").status == 404)
            #expect(try await rig.send(.HEAD, "/health").status == 200)
            // A stream's HEAD: its headers, and no subscriber left behind on the bus.
            let subscribers = rig.harness.cache.bus.subscriberCount
            let stream = try await rig.send(.HEAD, "/api/analytics/stream?queries=all-orders")
            #expect(stream.status == 200 && stream.body.isEmpty)
            #expect(stream.headers["Content-Type"].first?.hasPrefix("text/event-stream") == true)
            #expect(try await rig.send(.HEAD, "/api/analytics/stream?queries=no-such-query").status == 404)
            #expect(rig.harness.cache.bus.subscriberCount == subscribers)
        }
    }

    @Test func resultsAreServedAsJSONArrowOrCSVWithTheirCacheHeaders() async throws {
        try await ServerRig.with { rig in
            let list = ServerRig.object(try await rig.send(.GET, "/api/queries").body)["queries"] as? [[String: Any]] ?? []
            #expect(list.map { $0["id"] as? String } == ["all-orders", "customer-count", "tenant-totals"])
            let customer = list.first { $0["id"] as? String == "customer-count" }
            let parameter = (customer?["parameters"] as? [[String: Any]])?.first
            #expect(parameter?["name"] as? String == "customer" && parameter?["maxLength"] as? Int == 16 && parameter?["required"] as? Bool == false)

            let first = try await rig.send(.GET, "/api/queries/all-orders")
            #expect(first.status == 200)
            #expect(first.headers["X-Cache"].first == "computed")
            #expect(first.headers["Content-Type"].first?.hasPrefix("application/json") == true)
            let timing = try #require(first.headers["Server-Timing"].first)
            #expect(timing.wholeMatch(of: /compute;dur=[0-9]+\.[0-9]{3}, cache;desc=computed/) != nil, "\(timing)")
            #expect(first.headers["Age"].first == "0")
            let etag = try #require(first.headers["ETag"].first)
            #expect(ServerRig.rows(first.body).first?["n"] as? Int == 0)
            let second = try await rig.send(.GET, "/api/queries/all-orders")
            #expect(second.headers["X-Cache"].first == "l1" && second.headers["ETag"].first == etag)
            let notModified = try await rig.send(.GET, "/api/queries/all-orders", headers: [("If-None-Match", etag)])
            #expect(notModified.status == 304 && notModified.body.isEmpty)

            let arrow = try await rig.send(.GET, "/api/queries/all-orders", headers: [("Accept", "application/vnd.apache.arrow.stream")])
            #expect(arrow.headers["Content-Type"].first == "application/vnd.apache.arrow.stream")
            let archive = try ArchivedResult(bytes: arrow.body)
            #expect(try archive.column(named: "n")?.value(at: 0) == .int(0))
            let csv = try await rig.send(.GET, "/api/queries/all-orders", headers: [("Accept", "text/csv")])
            #expect(String(decoding: csv.body, as: UTF8.self).hasPrefix("n,total\r\n0,0"))

            let bypass = try await rig.send(.GET, "/api/queries/all-orders", headers: [("Cache-Control", "no-cache")])
            #expect(bypass.headers["X-Cache"].first == "computed")
            let parameterised = try await rig.send(.GET, "/api/queries/customer-count?customer=zed")
            #expect(parameterised.status == 200 && ServerRig.rows(parameterised.body).first?["n"] as? Int == 0)
        }
    }

    @Test func badRequestsGetAClearErrorAndNeverASQLText() async throws {
        try await ServerRig.with { rig in
            let unknown = try await rig.send(.GET, "/api/queries/nope")
            #expect(unknown.status == 404)
            #expect((ServerRig.object(unknown.body)["error"] as? String)?.contains("nope") == true)
            let tooLong = try await rig.send(.GET, "/api/queries/customer-count?customer=" + String(repeating: "x", count: 40))
            #expect(tooLong.status == 400)
            #expect(ServerRig.object(tooLong.body)["parameter"] as? String == "customer")
            #expect(ServerRig.object(tooLong.body)["rule"] != nil)
            let undeclared = try await rig.send(.GET, "/api/queries/customer-count?limit=3")
            #expect(undeclared.status == 400 && ServerRig.object(undeclared.body)["parameter"] as? String == "limit")
            let many = (0..<100).map { "p\($0)=1" }.joined(separator: "&")
            #expect(try await rig.send(.GET, "/api/queries/all-orders?" + many).status == 400)
            let scopedWithoutTenant = try await rig.send(.GET, "/api/queries/tenant-totals")
            #expect(scopedWithoutTenant.status == 401)
            let unacceptable = try await rig.send(.GET, "/api/queries/all-orders", headers: [("Accept", "image/png")])
            #expect(unacceptable.status == 406)
            let invalidUTF8 = try await rig.send(.GET, "/api/queries/customer-count?customer=%FF%FE")
            #expect([200, 400].contains(invalidUTF8.status))
            for response in [unknown, tooLong, undeclared, scopedWithoutTenant, unacceptable] {
                #expect(!String(decoding: response.body, as: UTF8.self).uppercased().contains("SELECT"))
            }
        }
    }

    @Test func aBypassCanRequireTheAdminToken() async throws {
        try await ServerRig.with({ $0.bypassRequiresAdmin = true }) { rig in
            #expect(try await rig.send(.GET, "/api/queries/all-orders", headers: [("Cache-Control", "no-cache")]).status == 401)
            let wrong = try await rig.send(.GET, "/api/queries/all-orders", headers: [("Cache-Control", "no-cache"), ("Authorization", "Bearer nope")])
            #expect(wrong.status == 403)
            let admin = try await rig.send(.GET, "/api/queries/all-orders", headers: [("Cache-Control", "no-cache"), ("Authorization", "Bearer secret-admin")])
            #expect(admin.status == 200 && admin.headers["X-Cache"].first == "computed")
        }
    }

    @Test func tenantsNeverSeeEachOthersResults() async throws {
        try await ServerRig.with { rig in
            #expect(try await rig.postOrder(tenant: "acme", amount: 5).status == 201)
            #expect(try await rig.postOrder(tenant: "globex", amount: 7).status == 201)
            #expect(try await rig.postOrder(tenant: "globex", amount: 1).status == 201)
            for _ in 0..<2 {  // computed, then from L1: both isolated
                let acme = ServerRig.rows(try await rig.send(.GET, "/api/queries/tenant-totals", headers: [("X-Tenant", "acme")]).body)
                let globex = ServerRig.rows(try await rig.send(.GET, "/api/queries/tenant-totals", headers: [("X-Tenant", "globex")]).body)
                #expect(acme.first?["total"] as? Int == 5 && acme.first?["n"] as? Int == 1)
                #expect(globex.first?["total"] as? Int == 8 && globex.first?["n"] as? Int == 2)
            }
            let scoped = try await rig.send(.GET, "/api/queries/tenant-totals", headers: [("X-Tenant", "acme")])
            #expect(scoped.headers["Cache-Control"].first == "private, no-cache")
        }
    }

    @Test func aFailingQueryIsA500WithARequestIdAndNoDetailAndOverloadIsA503() async throws {
        // Not constant, so DuckDB cannot fold it at registration: it fails when it runs.
        let failing = QueryDefinition(id: "failing", sql: "SELECT error('secret detail ' || count(*)) AS x FROM orders")
        try await ServerRig.with(queries: [ServerRig.all, failing]) { rig in
            for _ in 0..<2 {  // never cached: the second request fails the same way
                let failed = try await rig.send(.GET, "/api/queries/failing")
                #expect(failed.status == 500)
                #expect((ServerRig.object(failed.body)["requestId"] as? String)?.isEmpty == false)
                #expect(!String(decoding: failed.body, as: UTF8.self).contains("secret"))
            }
            #expect(try await rig.send(.GET, "/api/queries/all-orders").status == 200)
        }
        try await ServerRig.with({ $0.maxConcurrentRequests = 0 }) { rig in
            let busy = try await rig.send(.GET, "/api/queries/all-orders")
            #expect(busy.status == 503)
            #expect(busy.headers["Retry-After"].first == "1")
            #expect(try await rig.send(.GET, "/health").status == 200, "only computing requests are shed")
        }
    }
}

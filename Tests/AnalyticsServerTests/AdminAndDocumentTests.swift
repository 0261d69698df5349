import AnalyticsCache
import AnalyticsServer
import CacheTestSupport
import Foundation
import JWTKit
import Metrics
import Prometheus
import Testing

/// Invalidation with the admin token, health, readiness, metrics, the OpenAPI document, and JWT
/// tenancy.
@Suite(.timeLimit(.minutes(2))) struct AdminAndDocumentTests {
    @Test func invalidationNeedsTheAdminTokenAndThenRemovesResults() async throws {
        try await ServerRig.with { rig in
            _ = try await rig.send(.GET, "/api/queries/all-orders")
            #expect(try await rig.send(.GET, "/api/queries/all-orders").headers["X-Cache"].first == "l1")
            let json = ("Content-Type", "application/json")
            #expect(try await rig.send(.POST, "/api/cache/invalidate", headers: [json], body: #"{"query":"all-orders"}"#).status == 401)
            #expect(try await rig.send(.POST, "/api/cache/invalidate", headers: [json, ("Authorization", "Bearer wrong")],
                                       body: #"{"query":"all-orders"}"#).status == 403)
            let admin = ("Authorization", "Bearer secret-admin")
            // Data changed outside the log (a backfill): unseen until invalidated by hand.
            _ = try await rig.harness.writer.write { try $0.execute("INSERT INTO orders VALUES ('t', 'c', 9, 0)") }
            #expect(ServerRig.rows(try await rig.send(.GET, "/api/queries/all-orders").body).first?["n"] as? Int == 0)
            #expect(try await rig.send(.POST, "/api/cache/invalidate", headers: [json, admin], body: #"{"query":"all-orders"}"#).status == 200)
            // Computed again (or already refreshed in the background: it was read just now).
            #expect(ServerRig.rows(try await rig.send(.GET, "/api/queries/all-orders").body).first?["n"] as? Int == 1)
            #expect(try await rig.send(.POST, "/api/cache/invalidate", headers: [json, admin], body: #"{"query":"nope"}"#).status == 404)
            #expect(try await rig.send(.POST, "/api/cache/invalidate", headers: [json, admin], body: #"{"expression":"events//x"}"#).status == 400)
            #expect(try await rig.send(.POST, "/api/cache/invalidate", headers: [json, admin],
                                       body: #"{"query":"customer-count","parameters":{"customer":"c"}}"#).status == 200)
            #expect(try await rig.send(.POST, "/api/cache/invalidate", headers: [json, admin], body: #"{"everything":true}"#).status == 200)
            #expect(try await rig.send(.POST, "/api/cache/invalidate", headers: [json, admin], body: "[]").status == 400)
        }
    }

    @Test func healthReadinessAndMetricsAnswer() async throws {
        let registry = PrometheusCollectorRegistry()
        try await ServerRig.with({ $0.metricsRegistry = registry }) { rig in
            #expect(try await rig.send(.GET, "/health").status == 200)
            #expect(try await rig.postOrder(tenant: "t").status == 201)
            let ready = try await rig.send(.GET, "/ready")
            #expect(ready.status == 200 && ServerRig.object(ready.body)["ready"] as? Bool == true)
            _ = registry.makeCounter(name: "analytics_test_probe_total").increment()
            let metrics = try await rig.send(.GET, "/metrics")
            #expect(metrics.status == 200)
            #expect(String(decoding: metrics.body, as: UTF8.self).contains("analytics_test_probe_total 1"))
        }
    }

    @Test func theOpenAPIDocumentDescribesEveryRouteAndItsStatuses() async throws {
        try await ServerRig.with { rig in
            let document = ServerRig.object(try await rig.send(.GET, "/openapi.json").body)
            #expect(document["openapi"] as? String == "3.1.0")
            let paths = try #require(document["paths"] as? [String: [String: Any]])
            // Every documented operation is routed (the router's own 404 has no JSON body)…
            for (path, operations) in paths {
                for method in operations.keys {
                    let concrete = path.replacingOccurrences(of: "{id}", with: "all-orders")
                        + (path == "/api/analytics/stream" ? "?queries=nope" : "")
                    let answer = try await rig.send(method == "post" ? .POST : .GET, concrete,
                                                    headers: [("Content-Type", "application/json")], body: method == "post" ? "{}" : nil)
                    #expect(answer.status != 404 || ServerRig.object(answer.body)["error"] != nil, "\(method) \(path) is not routed")
                }
            }
            // …and nothing undocumented is.
            #expect(try await rig.send(.GET, "/api/undocumented").status == 404)
            #expect(try await rig.send(.DELETE, "/api/queries/all-orders").status >= 404)
            // Statuses the live server answers are documented.
            let query = try #require(paths["/api/queries/{id}"]?["get"] as? [String: Any])
            let statuses = Set((query["responses"] as? [String: Any])?.keys.map { $0 } ?? [])
            #expect(statuses.isSuperset(of: ["200", "304", "400", "401", "404", "406", "500", "503"]))
            let events = try #require(paths["/api/events"]?["post"] as? [String: Any])
            let eventStatuses = Set((events["responses"] as? [String: Any])?.keys.map { $0 } ?? [])
            #expect(eventStatuses.isSuperset(of: ["201", "400", "409", "413", "415"]))
        }
    }

    @Test func aJWTClaimIsTheTenantAndABadTokenIsRefused() async throws {
        await #expect(throws: JWTConfigurationError.self) { try await JWTVerifier.hs256(secret: "too-short") }
        let secret = "jwt-secret-of-at-least-thirty-two-bytes"
        let verifier = try await JWTVerifier.hs256(secret: secret)
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        struct Claims: JWTPayload {
            var tenant: String
            var exp: ExpirationClaim
            func verify(using algorithm: some JWTAlgorithm) async throws { try exp.verifyNotExpired() }
        }
        let acme = try await keys.sign(Claims(tenant: "acme", exp: .init(value: Date().addingTimeInterval(3600))))
        let expired = try await keys.sign(Claims(tenant: "acme", exp: .init(value: Date().addingTimeInterval(-3600))))
        let otherKeys = JWTKeyCollection()
        await otherKeys.add(hmac: HMACKey(from: "not-the-secret-but-thirty-two-bytes-long"), digestAlgorithm: .sha256)
        let forged = try await otherKeys.sign(Claims(tenant: "globex", exp: .init(value: Date().addingTimeInterval(3600))))
        try await ServerRig.with({ $0.tenancy = .jwt(claim: "tenant", keys: verifier) }) { rig in
            #expect(try await rig.postOrder(tenant: "acme", amount: 4).status == 201)
            let ok = try await rig.send(.GET, "/api/queries/tenant-totals", headers: [("Authorization", "Bearer \(acme)")])
            #expect(ok.status == 200 && ServerRig.rows(ok.body).first?["total"] as? Int == 4)
            #expect(try await rig.send(.GET, "/api/queries/tenant-totals", headers: [("Authorization", "Bearer \(expired)")]).status == 401)
            #expect(try await rig.send(.GET, "/api/queries/tenant-totals", headers: [("Authorization", "Bearer \(forged)")]).status == 401)
            #expect(try await rig.send(.GET, "/api/queries/tenant-totals", headers: [("Authorization", "Bearer x.y.z")]).status == 401)
            #expect(try await rig.send(.GET, "/api/queries/tenant-totals").status == 401)
        }
    }

    @Test func anES256TokenNamesTheTenantAndAnotherKeysTokenDoesNot() async throws {
        struct Claims: JWTPayload {
            var tenant: String
            var exp: ExpirationClaim
            func verify(using algorithm: some JWTAlgorithm) async throws { try exp.verifyNotExpired() }
        }
        let signer = ES256PrivateKey(), stranger = ES256PrivateKey()
        let verifier = try await JWTVerifier.es256(publicKeyPEM: signer.publicKey.pemRepresentation)
        await #expect(throws: (any Error).self) { try await JWTVerifier.es256(publicKeyPEM: "not a key") }
        let keys = JWTKeyCollection(), otherKeys = JWTKeyCollection()
        await keys.add(ecdsa: signer)
        await otherKeys.add(ecdsa: stranger)
        let expiry = ExpirationClaim(value: Date().addingTimeInterval(3600))
        let good = try await keys.sign(Claims(tenant: "globex", exp: expiry))
        let forged = try await otherKeys.sign(Claims(tenant: "globex", exp: expiry))
        try await ServerRig.with({ $0.tenancy = .jwt(claim: "tenant", keys: verifier) }) { rig in
            #expect(try await rig.postOrder(tenant: "globex", amount: 6).status == 201)
            let ok = try await rig.send(.GET, "/api/queries/tenant-totals", headers: [("Authorization", "Bearer \(good)")])
            #expect(ok.status == 200 && ServerRig.rows(ok.body).first?["total"] as? Int == 6)
            #expect(try await rig.send(.GET, "/api/queries/tenant-totals", headers: [("Authorization", "Bearer \(forged)")]).status == 401)
        }
    }
}

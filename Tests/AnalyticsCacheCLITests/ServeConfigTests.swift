import Crypto
import Foundation
import Testing
import TestSupport

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `serve --config FILE` as a deployment runs it: queries, server settings and JWT tenancy from one
/// YAML file, the command line over the file, and a bad file refused before anything starts.
@Suite(.timeLimit(.minutes(4))) struct ServeConfigTests {
    /// An HS256 token with these claims (what an identity provider would issue).
    static func token(_ claims: [String: Any], secret: String) throws -> String {
        func base64URL(_ data: Data) -> String {
            data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
        }
        let header = base64URL(Data(#"{"alg":"HS256","typ":"JWT"}"#.utf8))
        let payload = base64URL(try JSONSerialization.data(withJSONObject: claims))
        let signature = HMAC<SHA256>.authenticationCode(for: Data((header + "." + payload).utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return header + "." + payload + "." + base64URL(Data(signature))
    }

    static func get(_ url: String, token: String? = nil) async throws -> (status: Int, body: String) {
        var request = URLRequest(url: try #require(URL(string: url)))
        if let token { request.setValue("Bearer " + token, forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    @Test func aConfigFileSetsTheQueriesTheTenancyAndTheAdminToken() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let secret = "a-shared-secret-of-at-least-32-bytes!"
        try Data((secret + "\n").utf8).write(to: dir.appendingPathComponent("jwt.secret"))
        let config = dir.appendingPathComponent("deploy.yaml")
        try Data("""
            queries:
              - id: greeting
                sql: SELECT ? AS tenant, 42 AS answer
                scope: tenant
            server:
              port: 0
              adminToken: from-the-file
              maxParameters: 4
            tenancy:
              jwt: { claim: org, hs256SecretFile: jwt.secret }
            cache:
              memoryMB: 16
              diskMB: 64
            """.utf8).write(to: config)
        let server = try ServeCommandTests.Server.start(dataDir: dir.appendingPathComponent("data").path, arguments: ["--config", config.path])

        let anonymous = try await Self.get(server.url + "/api/queries/greeting")
        #expect(anonymous.status == 401, "a scoped query without a token: \(anonymous.body)")
        let forged = try await Self.get(server.url + "/api/queries/greeting", token: try Self.token(["org": "acme"], secret: String(secret.reversed())))
        #expect(forged.status == 401, "a token signed with another secret")
        let acme = try await Self.get(server.url + "/api/queries/greeting", token: try Self.token(["org": "acme"], secret: secret))
        #expect(acme.status == 200 && acme.body.contains(#""tenant":"acme""#), "\(acme.body)")
        let globex = try await Self.get(server.url + "/api/queries/greeting", token: try Self.token(["org": "globex"], secret: secret))
        #expect(globex.status == 200 && globex.body.contains(#""tenant":"globex""#) && !globex.body.contains("acme"), "\(globex.body)")
        let many = try await Self.get(server.url + "/api/queries/greeting?a=1&b=2&c=3&d=4&e=5", token: try Self.token(["org": "acme"], secret: secret))
        #expect(many.status == 400, "server.maxParameters: 4")
        let dashboard = try await Self.get(server.url + "/")
        #expect(dashboard.status == 404, "a config with queries serves them, not the demo's dashboard")

        let refused = try CLI.run(["invalidate", "--everything", "--server", server.url, "--token", "cli-secret"])
        #expect(refused.status != 0 && refused.text.hasPrefix("403"), "the file's admin token, not another: \(refused.text)")
        let invalidated = try CLI.run(["invalidate", "--everything", "--server", server.url, "--token", "from-the-file"])
        #expect(invalidated.status == 0, "\(invalidated.text)")
        #expect(server.stop() == 0)
    }

    @Test func theCommandLineOverridesTheFile() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let config = dir.appendingPathComponent("deploy.json")
        try Data(#"{"queries": [{"id": "who", "sql": "SELECT ? AS tenant", "scope": "tenant"}], "server": {"port": 0, "adminToken": "file"}, "tenancy": {"header": "X-From-File"}}"#.utf8)
            .write(to: config)
        let server = try ServeCommandTests.Server.start(
            dataDir: dir.appendingPathComponent("data").path,
            arguments: ["--config", config.path, "--admin-token", "flag", "--tenant-header", "X-From-Flag"])
        var request = URLRequest(url: try #require(URL(string: server.url + "/api/queries/who")))
        request.setValue("initech", forHTTPHeaderField: "X-From-Flag")
        let (data, response) = try await URLSession.shared.data(for: request)
        #expect((response as? HTTPURLResponse)?.statusCode == 200 && String(decoding: data, as: UTF8.self).contains("initech"))
        let ok = try CLI.run(["invalidate", "--everything", "--server", server.url, "--token", "flag"])
        #expect(ok.status == 0, "\(ok.text)")
        #expect(server.stop() == 0)
    }

    @Test(arguments: [
        ("server:\n  prot: 8080\n", "server.prot: unknown key"),
        ("servers:\n  port: 8080\n", "servers: unknown key"),
        ("server:\n  port: eighty\n", "server.port: expected an integer"),
        ("server:\n  port: 70000\n", "server.port: 70000 is outside"),
        ("tenancy:\n  header: X-T\n  jwt: { claim: org, hs256Secret: 0123456789abcdef0123456789abcdef }\n", "not both"),
        ("tenancy:\n  jwt: { claim: org, hs256Secret: short }\n", "at least 32 bytes"),
        ("tenancy:\n  jwt: { claim: org, hs256SecretFile: missing.secret }\n", "tenancy.jwt.hs256SecretFile: cannot read"),
        ("cache:\n  memoryMB: -1\n", "cache.memoryMB: -1 is outside"),
        ("queries:\n  - id: bad\n", "query"),
    ])
    func aBadConfigFileIsRefusedNamingTheKey(text: String, message: String) throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let config = dir.appendingPathComponent("bad.yaml")
        try Data(text.utf8).write(to: config)
        let run = try CLI.run(["serve", "--config", config.path, "--port", "0", "--data-dir", dir.appendingPathComponent("data").path])
        #expect(run.status != 0, "refused before serving")
        #expect(run.stderr.contains(message), "\(run.stderr)")
        #expect(!run.text.contains("serving"))
    }
}

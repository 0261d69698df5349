import AnalyticsServer
import Foundation
import Testing

/// The deployment sections of a config file, key by key (the README's table is this list).
@Suite struct ServeSettingsTests {
    @Test func everyDocumentedKeyIsReadIntoItsSetting() throws {
        let settings = try ServeSettings(text: """
            server:
              host: 0.0.0.0
              port: 9090
              adminToken: t0ken
              bypassRequiresAdmin: true
              maxConcurrentRequests: 12
              maxEventBodyBytes: 4096
              maxParameters: 7
              streamBuffer: 33
              heartbeatSeconds: 2.5
              idleTimeoutSeconds: 45
            tenancy:
              jwt: { claim: org, hs256Secret: 0123456789abcdef0123456789abcdef }
            cache:
              memoryMB: 64
              diskMB: 512
            """, directory: URL(fileURLWithPath: "/"))
        var server = ServeSettings.Server()
        server.host = "0.0.0.0"
        server.port = 9090
        server.adminToken = "t0ken"
        server.bypassRequiresAdmin = true
        server.maxConcurrentRequests = 12
        server.maxEventBodyBytes = 4096
        server.maxParameters = 7
        server.streamBuffer = 33
        server.heartbeatSeconds = 2.5
        server.idleTimeoutSeconds = 45
        #expect(settings.server == server)
        #expect(settings.tenancy == .jwt(claim: "org", hs256Secret: "0123456789abcdef0123456789abcdef", es256PublicKeyPEM: nil))
        #expect(settings.memoryMB == 64 && settings.diskMB == 512)
        #expect(!settings.declaresQueries)
    }

    @Test func jsonAndAnEmptyFileWork() throws {
        let json = try ServeSettings(text: #"{"queries": [], "tenancy": {"header": "X-Tenant"}}"#, directory: URL(fileURLWithPath: "/"))
        #expect(json.tenancy == .header("X-Tenant") && json.declaresQueries)
        let empty = try ServeSettings(text: "{}", directory: URL(fileURLWithPath: "/"))
        #expect(empty == ServeSettings())
    }

    @Test func keyFilesAreReadRelativeToTheConfigFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("serve-settings-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data("-----BEGIN PUBLIC KEY-----\nxyz\n-----END PUBLIC KEY-----\n".utf8).write(to: dir.appendingPathComponent("key.pem"))
        try Data("0123456789abcdef0123456789abcdef\n".utf8).write(to: dir.appendingPathComponent("s"))
        let es = try ServeSettings(text: "tenancy: { jwt: { claim: sub, es256PublicKeyFile: key.pem } }", directory: dir)
        #expect(es.tenancy == .jwt(claim: "sub", hs256Secret: nil, es256PublicKeyPEM: "-----BEGIN PUBLIC KEY-----\nxyz\n-----END PUBLIC KEY-----\n"))
        let hs = try ServeSettings(text: "tenancy: { jwt: { claim: sub, hs256SecretFile: s } }", directory: dir)
        #expect(hs.tenancy == .jwt(claim: "sub", hs256Secret: "0123456789abcdef0123456789abcdef", es256PublicKeyPEM: nil), "without the newline")
        #expect(throws: ServeSettingsError.self) {
            try ServeSettings(text: "tenancy: { jwt: { claim: sub, hs256SecretFile: s, es256PublicKeyFile: key.pem } }", directory: dir)
        }
    }

    @Test(arguments: [
        "[1, 2]", "server: 3", "server: { bypassRequiresAdmin: 1 }", "server: { heartbeatSeconds: 0 }", "server: { maxParameters: true }",
        "tenancy: {}", "tenancy: { header: '' }", "tenancy: { jwt: { hs256Secret: 0123456789abcdef0123456789abcdef } }", "cache: { diskMB: 0 }",
        "server: { port: [1] }", "{ unbalanced",
    ])
    func malformedSettingsAreRefused(text: String) {
        #expect(throws: ServeSettingsError.self) { try ServeSettings(text: text, directory: URL(fileURLWithPath: "/")) }
    }
}

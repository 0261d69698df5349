import AnalyticsServer
import Foundation
import Testing

/// Review: ServeSettings against YAML oddities (in process: only inputs that cannot trap).
@Suite struct ReviewServeSettingsTests {
    static let root = URL(fileURLWithPath: "/")

    static func message(_ text: String) -> String? {
        do { _ = try ServeSettings(text: text, directory: root); return nil } catch let error as ServeSettingsError { return error.description } catch {
            return "not a ServeSettingsError: \(error)"
        }
    }

    /// Every one refused, the message naming the key.
    @Test(arguments: [
        ("server: { port: \"8080\" }", "server.port"),
        ("server: { port: 99999999999999999999999 }", "server.port"),
        ("server: { port: 8080.0 }", "server.port"),
        ("server: { port: true }", "server.port"),
        ("server: { port: on }", "server.port"),
        ("server: { host: no }", "server.host"),
        ("server: { adminToken: 12345 }", "server.adminToken"),
        ("server: { bypassRequiresAdmin: \"true\" }", "server.bypassRequiresAdmin"),
        ("server: { heartbeatSeconds: .nan }", "server.heartbeatSeconds"),
        ("server: { heartbeatSeconds: .inf }", "server.heartbeatSeconds"),
        ("server: { idleTimeoutSeconds: -1 }", "server.idleTimeoutSeconds"),
        ("server: { maxParameters: 0 }", "server.maxParameters"),
        ("cache: { diskMB: 99999999999 }", "cache.diskMB"),
        ("cache: { memoryMB: [1] }", "cache.memoryMB"),
        ("base: &b { port: 1 }\nserver: *b\n", "base"),
        ("server: &b { port: 1 }\ncache: *b\n", "cache.port"),
        ("server: { <<: { prot: 1 }, port: 2 }", "server.prot"),
        ("1: x", "1"),
        ("yes: x", "yes"),
        ("server: { 8080: port }", "server.8080"),
        ("tenancy: { jwt: { claim: org, hs256Secret: \"0123456789abcdef0123456789abcde\" } }", "32 bytes"),
        ("tenancy: { jwt: { claim: org, hs256Secret: \"ééééééééééééééé\" } }", "32 bytes"),
        ("tenancy: { jwt: { claim: ~, hs256Secret: \"0123456789abcdef0123456789abcdef\" } }", "tenancy.jwt.claim"),
        ("tenancy: { jwt: { claim: org, hs256Secret: 0123456789abcdef0123456789abcdef, extra: ~ } }", "tenancy.jwt.extra"),
        ("server: { port: 1, port: 2 }", "port"),
        ("{\"server\": {\"port\": 1}, \"server\": {\"prot\": 2}}", "server"),
        ("{\"server\": {\"prot\": 8080}}", "server.prot"),
        ("42", "mapping"),
        ("- server\n- cache\n", "mapping"),
        ("", "mapping"),
        ("server: ~", "server"),
    ])
    func oddDocumentsAreRefusedNamingTheKey(text: String, fragment: String) {
        let message = Self.message(text)
        #expect(message?.contains(fragment) == true, "\(text) -> \(message ?? "accepted")")
    }

    /// Accepted, with the meaning YAML gives them.
    @Test func yamlBooleansAnchorsAndNestedNullsAreRead() throws {
        let settings = try ServeSettings(text: "server: { bypassRequiresAdmin: yes, port: ~, host: ~ }\ncache: { memoryMB: ~ }", directory: Self.root)
        #expect(settings.server.bypassRequiresAdmin == true)
        #expect(settings.server.port == nil && settings.memoryMB == nil)
        let merged = try ServeSettings(text: "server: { <<: { port: 1, maxParameters: 3 }, port: 2 }", directory: Self.root)
        #expect(merged.server.port == 2 && merged.server.maxParameters == 3)
    }

    /// A heartbeat or idle timeout that the command turns into 0 ms (it truncates to whole
    /// milliseconds, ServeCommand.swift) is as out of range as 0, which is refused.
    @Test(arguments: ["server: { heartbeatSeconds: 0.0001 }", "server: { idleTimeoutSeconds: 0.0004 }"])
    func aSubMillisecondDurationIsRefusedLikeZero(text: String) {
        #expect(Self.message(text) != nil, "\(text) accepted: the server gets a 0 ms duration")
    }
}

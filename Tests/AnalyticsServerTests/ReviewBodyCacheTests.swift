import Crypto
import AnalyticsCache
@testable import AnalyticsServer
import CacheTestSupport
import Foundation
import ResultFormat
import Testing

/// Review: the server's response-body cache (format prefix + result ETag) and Accept parsing.
@Suite(.timeLimit(.minutes(2))) struct ReviewBodyCacheTests {
    /// The 64-bit FNV-style ETag the cache used to compute, step by step: a collision against it is
    /// forged below, and must not make two results share a tag (or a cached body) any more.
    static let seed: UInt64 = 0xCBF2_9CE4_8422_2325
    static func step(_ hash: UInt64, _ word: UInt64) -> UInt64 {
        var h = (hash ^ word) &* 0x0000_0100_0000_01B3
        h ^= h >> 29
        return h
    }
    static func word(_ bytes: [UInt8], _ at: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) }
    }
    static func put(_ value: UInt64, into bytes: inout [UInt8], at: Int) {
        for i in 0..<8 { bytes[at + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
    }
    /// The hash state before the 8-byte word at `end` (a multiple of 8).
    static func state(_ bytes: [UInt8], before end: Int) -> UInt64 {
        var hash = seed ^ UInt64(bytes.count)
        var index = 0
        while index < end { hash = step(hash, word(bytes, index)); index += 8 }
        return hash
    }
    static func etag(_ bytes: [UInt8]) -> String {
        var hash = state(bytes, before: bytes.count / 8 * 8)
        for index in bytes.count / 8 * 8..<bytes.count { hash = (hash ^ UInt64(bytes[index])) &* 0x0000_0100_0000_01B3 }
        hash ^= hash >> 33
        hash &*= 0xFF51_AFD7_ED55_8CCD
        hash ^= hash >> 33
        return "\"" + String(hash, radix: 16) + "\""
    }
    static func offset(of value: Int64, in bytes: [UInt8]) -> Int? {
        var pattern = [UInt8](repeating: 0, count: 8)
        put(UInt64(bitPattern: value), into: &pattern, at: 0)
        return (0...(bytes.count - 8)).first { Array(bytes[$0..<$0 + 8]) == pattern }
    }

    static let pair = QueryDefinition(
        id: "pair", sql: "SELECT a, b FROM (SELECT ?::VARCHAR AS t, ?::BIGINT AS a, ?::BIGINT AS b)",
        parameters: [ParameterSpec("a", .integer), ParameterSpec("b", .integer)], scope: .tenant)

    /// Tenant alice asks for a=42, b=7. Tenant mallory first asks for values whose Arrow bytes have the
    /// same 64-bit ETag (the ETag is not a cryptographic hash: one free 8-byte word reaches any state).
    /// alice must still get a=42, b=7 in each format.
    @Test(arguments: ["application/json", "application/vnd.apache.arrow.stream", "text/csv"])
    func anotherTenantsBodyIsNeverServedEvenForAForgedWeakHashCollision(accept: String) async throws {
        try await ServerRig.with(queries: [Self.pair]) { rig in
            // The layout, learnt from mallory's own request with marker values.
            let markerA: Int64 = 0x0102_0304_0506_0708, markerB: Int64 = 0x1112_1314_1516_1718
            let template = try await rig.send(.GET, "/api/queries/pair?a=\(markerA)&b=\(markerB)",
                                              headers: [("X-Tenant", "mallory"), ("Accept", "application/vnd.apache.arrow.stream")])
            #expect(template.status == 200)
            #expect(template.headers["ETag"].first == Self.sha256Tag(template.body), "the ETag is the first 128 bits of the bytes' SHA-256")
            let offA = try #require(Self.offset(of: markerA, in: template.body))
            let offB = try #require(Self.offset(of: markerB, in: template.body))
            try #require(offA % 8 == 0 && offB % 8 == 0 && offA < offB, "\(offA) \(offB)")
            // alice's result, computed locally; mallory's colliding values.
            var victim = template.body
            Self.put(42, into: &victim, at: offA)
            Self.put(7, into: &victim, at: offB)
            var forged = victim
            Self.put(1, into: &forged, at: offA)
            let forgedB = 7 ^ Self.state(victim, before: offB) ^ Self.state(forged, before: offB)
            Self.put(forgedB, into: &forged, at: offB)
            #expect(Self.etag(forged) == Self.etag(victim))
            let malloryB = Int64(bitPattern: forgedB)

            let mallory = try await rig.send(.GET, "/api/queries/pair?a=1&b=\(malloryB)", headers: [("X-Tenant", "mallory"), ("Accept", accept)])
            #expect(mallory.status == 200)
            let alice = try await rig.send(.GET, "/api/queries/pair?a=42&b=7", headers: [("X-Tenant", "alice"), ("Accept", accept)])
            #expect(alice.status == 200)
            #expect(alice.headers["ETag"].first != mallory.headers["ETag"].first, "a collision forged for the old 64-bit hash shares no tag now")
            let body = String(decoding: alice.body, as: UTF8.self)
            if accept.hasSuffix("arrow.stream") {
                let archive = try ArchivedResult(bytes: alice.body)
                let a = try archive.column(named: "a")?.value(at: 0), b = try archive.column(named: "b")?.value(at: 0)
                #expect(a == .int(42) && b == .int(7), "alice got mallory's Arrow body: a=\(String(describing: a)) b=\(String(describing: b))")
            } else {
                #expect(body.contains("42") && body.contains("7") && !body.contains(String(malloryB)), "alice got mallory's body: \(body)")
            }
        }
    }

    /// The server's ETag of Arrow bytes: the first 128 bits of their SHA-256, hex, quoted.
    static func sha256Tag(_ bytes: [UInt8]) -> String {
        "\"" + SHA256.hash(data: bytes).prefix(16).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() + "\""
    }

    /// Formats never mixed: the same result asked for in every format, in turns.
    @Test func theSameResultInEveryFormatKeepsItsOwnBody() async throws {
        try await ServerRig.with { rig in
            for _ in 0..<3 {
                for accept in ["text/csv", "application/vnd.apache.arrow.stream", "application/json", "TEXT/CSV; q=0.5", "Application/JSON"] {
                    let response = try await rig.send(.GET, "/api/queries/all-orders", headers: [("Accept", accept)])
                    let type = response.headers["Content-Type"].first ?? ""
                    let text = String(decoding: response.body, as: UTF8.self)
                    if accept.lowercased().hasPrefix("text/csv") {
                        #expect(type.hasPrefix("text/csv") && text.hasPrefix("n,total"), "\(accept): \(type) \(text)")
                    } else if accept.hasSuffix("arrow.stream") {
                        #expect(type == "application/vnd.apache.arrow.stream" && (try? ArchivedResult(bytes: response.body)) != nil)
                    } else {
                        #expect(type.hasPrefix("application/json") && text.hasPrefix("["), "\(accept): \(type) \(text)")
                    }
                }
            }
        }
    }

    /// The general path of `ResultEncoding(accept:)` as it was before the fast path.
    static func general(_ accept: String?) -> ResultEncoding? {
        guard let accept, !accept.isEmpty else { return .json }
        let types = accept.split(separator: ",").map { $0.split(separator: ";")[0].trimmingCharacters(in: .whitespaces).lowercased() }
        if types.contains("application/vnd.apache.arrow.stream") { return .arrow }
        if types.contains("text/csv") { return .csv }
        if types.contains(where: { $0 == "application/json" || $0 == "*/*" || $0 == "application/*" }) { return .json }
        return nil
    }

    @Test func theAcceptFastPathChoosesWhatTheGeneralPathChooses() {
        var inputs: [String?] = [nil, "", " ", ",", "text/html", "application/*", "*/*;q=0.1"]
        let bases = ["application/vnd.apache.arrow.stream", "application/json", "*/*", "text/csv", "application/xml", "text/*"]
        for base in bases {
            for variant in [base, base.uppercased(), base.capitalized, " " + base, base + " ", base + ";q=0.9", base + "; q=0.9",
                            base + "; charset=utf-8", base + ",text/html", "text/html, " + base, base + "\t"] {
                inputs.append(variant)
            }
        }
        for x in bases { for y in bases { inputs.append(x + ", " + y); inputs.append(x + ";q=0," + y) } }
        for input in inputs {
            #expect(ResultEncoding(accept: input) == Self.general(input), "\(String(describing: input))")
        }
    }
}

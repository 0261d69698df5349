import AnalyticsCache
import CacheTestSupport
import Foundation
import Synchronization
import Testing
import TestSupport

/// Review: data-version part of keys (SHA-256 suffix, memoised per query in ProbedVersions).
@Suite(.timeLimit(.minutes(3))) struct ReviewKeyVersionTests {
    final class Box: Sendable {
        let value: Mutex<String>
        init(_ value: String) { self.value = Mutex(value) }
        func get() -> String { value.withLock { $0 } }
        func set(_ new: String) { value.withLock { $0 = new } }
    }

    /// Lookups racing `checkDataVersion()` never leave a memo of the versions it replaced: after each
    /// probe, the key is the one a quiet probe of the same versions gives.
    @Test func theKeySuffixMemoNeverOutlivesTheVersionsItWasComputedFrom() async throws {
        let global = Box("g0"), eu = Box("e0")
        let harness = try await Harness(disk: false, dataVersionProbe: { await Task.yield(); return global.get() }, datasets: ["eu": { await Task.yield(); return eu.get() }])
        defer { TestSupport.remove(harness.root) }
        let cache = harness.cache
        try await cache.register(QueryDefinition(id: "plain", sql: "SELECT 1 AS n", datasets: []))
        try await cache.register(QueryDefinition(id: "eu", sql: "SELECT 2 AS n", datasets: ["eu"]))
        let states = [("g0", "e0"), ("g1", "e0"), ("g1", "e1"), ("g0", "e1")]
        // Reference keys, each state probed with nothing concurrent.
        var reference: [String: (String, String)] = [:]
        for (g, e) in states {
            global.set(g); eu.set(e)
            _ = try await cache.checkDataVersion()
            reference[g + e] = (try cache.key(for: "plain").rawValue, try cache.key(for: "eu").rawValue)
        }
        #expect(Set(reference.values.map(\.0)).count == 2 && Set(reference.values.map(\.1)).count == 4)
        // Bounded work per round (no reader spins until the probe ends): a spinning reader took the
        // cooperative pool from every test running beside this one in `swift test`.
        for round in 0..<600 {
            let (g, e) = states[round % states.count]
            global.set(g); eu.set(e)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<3 {
                    group.addTask {
                        for _ in 0..<6 {
                            _ = try cache.key(for: "plain")
                            _ = try cache.key(for: "eu")
                            await Task.yield()
                        }
                    }
                }
                group.addTask { _ = try await cache.checkDataVersion() }
                try await group.waitForAll()
            }
            let expected = try #require(reference[g + e])
            let plain = try cache.key(for: "plain").rawValue, euKey = try cache.key(for: "eu").rawValue
            #expect(plain == expected.0, "round \(round): a stale memo for 'plain'")
            #expect(euKey == expected.1, "round \(round): a stale memo for 'eu'")
            if plain != expected.0 || euKey != expected.1 { break }
        }
        await harness.shutdown()
    }

    /// Two different sets of dataset versions must never give one key. The digest's input joins the
    /// tokens with `|` and `=` unescaped (CacheKey.byteExact leaves printable ASCII as is).
    @Test func datasetVersionsContainingTheSeparatorsNeverShareAKey() async throws {
        let a = Box("X|b=Y"), b = Box("Z")
        let harness = try await Harness(disk: false, datasets: ["a": { a.get() }, "b": { b.get() }])
        defer { TestSupport.remove(harness.root) }
        try await harness.cache.register(QueryDefinition(id: "both", sql: "SELECT 1 AS n", datasets: ["a", "b"]))
        _ = try await harness.cache.checkDataVersion()
        let before = try harness.cache.key(for: "both")
        a.set("X"); b.set("Y|b=Z")
        #expect(try await harness.cache.checkDataVersion(), "both datasets changed")
        let after = try harness.cache.key(for: "both")
        #expect(before != after, "versions (a: X|b=Y, b: Z) and (a: X, b: Y|b=Z) share the key \(after)")
        await harness.shutdown()
    }

    /// The consequence across a restart: the first probe of the new process only sets the versions,
    /// so an L2 entry under a colliding key is served although the data and the versions changed.
    @Test func aCollidingDataVersionServesAnOlderProcessesResultAfterARestart() async throws {
        let root = try TestSupport.temporaryDirectory("review-collide")
        defer { TestSupport.remove(root) }
        let a = Box("X|b=Y"), b = Box("Z")
        let datasets: [String: @Sendable () async throws -> String] = ["a": { a.get() }, "b": { b.get() }]
        let definition = QueryDefinition(id: "regions", sql: "SELECT count(*) AS n FROM regions", datasets: ["a", "b"])
        do {
            let first = try await Harness(root: root, datasets: datasets)
            try await first.cache.register(definition)
            _ = try await first.cache.checkDataVersion()
            #expect(try Harness.integer(try await first.cache.result(for: "regions")) == 0)
            // The data changes, and so do both datasets' versions.
            _ = try await first.writer.write { try $0.execute("INSERT INTO regions VALUES ('eu')") }
            a.set("X"); b.set("Y|b=Z")
            await first.shutdown()
        }
        let second = try await Harness(root: root, datasets: datasets)
        try await second.cache.register(definition)
        _ = try await second.cache.checkDataVersion()
        let served = try await second.cache.result(for: "regions")
        #expect(served.servedBy != .l2, "served the previous process's result under other dataset versions")
        #expect(try Harness.integer(served) == 1, "stale count")
        await second.shutdown()
    }
}

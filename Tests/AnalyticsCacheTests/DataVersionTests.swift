import CacheTestSupport
import AnalyticsCache
import DuckDBClient
import Foundation
import RemoteData
import Synchronization
import Testing
import TestSupport

/// Data outside the event log: a new data version makes older results unreachable and removes them.
@Suite struct DataVersionTests {
    final class Version: Sendable {
        let value = Mutex("v1")
    }

    @Test func aNewDataVersionRetiresEveryOlderResultInBothLayers() async throws {
        let version = Version()
        let harness = try await Harness(dataVersionProbe: { version.value.withLock { $0 } })
        defer { TestSupport.remove(harness.root) }
        try await harness.cache.register(QueryDefinition(id: "regions", sql: "SELECT count(*) AS n FROM regions"))
        #expect(try await !harness.cache.checkDataVersion(), "the first probe only sets the version")
        let before = try harness.cache.key(for: "regions")
        #expect(try Harness.integer(try await harness.cache.result(for: "regions")) == 0)
        // The data changes outside the log (a file, a remote dataset): unseen until its version moves.
        _ = try await harness.writer.write { try $0.execute("INSERT INTO regions VALUES ('eu')") }
        #expect(try await harness.cache.result(for: "regions").servedBy == .l1)
        #expect(try await !harness.cache.checkDataVersion(), "same version: nothing happens")
        version.value.withLock { $0 = "v2" }
        #expect(try await harness.cache.checkDataVersion())
        let after = try harness.cache.key(for: "regions")
        #expect(before != after)
        let fresh = try await harness.cache.result(for: "regions")
        #expect(fresh.servedBy == .computed)
        #expect(try Harness.integer(fresh) == 1)
        // The old entry is gone from L2 too, not only unreachable.
        #expect(try await harness.disk?.value(forKey: before.rawValue) == nil)
        await harness.shutdown()
    }

    @Test func keysCarryTheResultSettingsOfTheDatabase() async throws {
        // The time zone (UTC by default) is one of them: another setting, another key; the same
        // settings in another database (another process), the same key.
        var keys: [String] = []
        for (label, timeZone) in [("utc", "UTC"), ("utc-again", "UTC"), ("paris", "Europe/Paris")] {
            let harness = try await Harness(label: label, disk: false, timeZone: timeZone)
            defer { TestSupport.remove(harness.root) }
            try await harness.cache.register(QueryDefinition(id: "one", sql: "SELECT 1 AS n"))
            #expect(harness.database.resultSettings["TimeZone"] == timeZone)
            keys.append(try harness.cache.key(for: "one").rawValue)
            await harness.shutdown()
        }
        #expect(keys[0] == keys[1])
        #expect(keys[0] != keys[2])
    }

    @Test func aDatasetFileThatChangesIsANewDataVersion() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let file = dir.appendingPathComponent("regions.csv")
        try Data("name\neu\n".utf8).write(to: file)
        let probe = AnalyticsCache.Configuration.dataVersion(of: [LocalFileVersionProbe(patterns: [dir.path + "/*.csv"])])
        let harness = try await Harness(dataVersionProbe: probe)
        defer { TestSupport.remove(harness.root) }
        try await harness.cache.register(QueryDefinition(id: "regions", sql: "SELECT count(*) AS n FROM regions"))
        _ = try await harness.cache.result(for: "regions")
        #expect(try await !harness.cache.checkDataVersion(), "unchanged file")
        try Data("name\neu\nus\n".utf8).write(to: file)  // another size: another version
        #expect(try await harness.cache.checkDataVersion())
        #expect(try await harness.cache.result(for: "regions").servedBy == .computed)
        await harness.shutdown()
    }

    @Test func aChangedDatasetRetiresOnlyTheResultsComputedFromIt() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let eu = dir.appendingPathComponent("eu.csv"), us = dir.appendingPathComponent("us.csv")
        try Data("name\nparis\n".utf8).write(to: eu)
        try Data("name\nboston\n".utf8).write(to: us)
        let harness = try await Harness(datasets: [
            "eu": AnalyticsCache.Configuration.dataVersion(of: [LocalFileVersionProbe(patterns: [eu.path])]),
            "us": AnalyticsCache.Configuration.dataVersion(of: [LocalFileVersionProbe(patterns: [us.path])]),
        ], readableDirectory: dir.path)
        defer { TestSupport.remove(harness.root) }
        let count = { (path: URL) in "SELECT count(*) AS n FROM read_csv('\(path.path)')" }
        try await harness.cache.register(QueryDefinition(id: "eu", sql: count(eu), datasets: ["eu"]))
        try await harness.cache.register(QueryDefinition(id: "us", sql: count(us), datasets: ["us"]))
        try await harness.cache.register(QueryDefinition(
            id: "both", sql: "SELECT (\(count(eu))) + (\(count(us))) AS n"))  // no declaration: every dataset
        await #expect(throws: AnalyticsCacheError.self) {
            try await harness.cache.register(QueryDefinition(id: "asia", sql: "SELECT 1 AS n", datasets: ["asia"]))
        }
        for id in ["eu", "us", "both"] { #expect(try await harness.cache.result(for: id).servedBy == .computed) }
        let oldUS = try harness.cache.key(for: "us"), oldEU = try harness.cache.key(for: "eu")
        #expect(try await !harness.cache.checkDataVersion(), "unchanged files")
        try Data("name\nboston\nchicago\n".utf8).write(to: us)
        #expect(try await harness.cache.checkDataVersion())
        #expect(try harness.cache.key(for: "eu") == oldEU, "eu's keys do not carry us's version")
        #expect(try harness.cache.key(for: "us") != oldUS)
        let euAfter = try await harness.cache.result(for: "eu")
        #expect(euAfter.servedBy == .l1)
        let usAfter = try await harness.cache.result(for: "us")
        #expect(usAfter.servedBy == .computed)
        #expect(try Harness.integer(usAfter) == 2)
        let bothAfter = try await harness.cache.result(for: "both")
        #expect(bothAfter.servedBy == .computed)
        #expect(try Harness.integer(bothAfter) == 3)
        // us's old entry is gone from L2, eu's is still there.
        #expect(try await harness.disk?.value(forKey: oldUS.rawValue) == nil)
        #expect(try await harness.disk?.value(forKey: oldEU.rawValue) != nil)
        await harness.shutdown()
    }

    @Test(.timeLimit(.minutes(1))) func aHotResultIsRefreshedUnderItsNewKeyAfterADataVersionChange() async throws {
        let version = Version()
        let harness = try await Harness(dataVersionProbe: { version.value.withLock { $0 } }, refreshDelay: .milliseconds(1))
        defer { TestSupport.remove(harness.root) }
        try await harness.cache.register(QueryDefinition(id: "regions", sql: "SELECT count(*) AS n FROM regions"))
        try await harness.running {
            let bus = harness.cache.bus.subscribe(filter: BusFilter(queries: ["regions"]), capacity: 100)
            #expect(try Harness.integer(try await harness.cache.result(for: "regions")) == 0)  // hot
            let old = try harness.cache.key(for: "regions")
            _ = try await harness.writer.write { try $0.execute("INSERT INTO regions VALUES ('eu')") }
            version.value.withLock { $0 = "v2" }
            // Whichever probe sees the change first (this one, or run()'s), it is seen once.
            _ = try await harness.cache.checkDataVersion()
            let new = try harness.cache.key(for: "regions")
            #expect(new != old)
            var retired = false
            while let message = await bus.next() {
                guard case .update(let update) = message else { continue }
                if update.reason == .dataVersion {
                    #expect(update.key == old.rawValue)
                    retired = true
                } else if update.reason == .refreshed, let result = update.result {
                    #expect(update.key == new.rawValue, "the refreshed result is announced under the key readers now use")
                    #expect(try Harness.integer(result) == 1)
                    break
                }
            }
            #expect(retired)
            #expect(try await harness.cache.result(for: "regions").servedBy == .l1)
        }
        await harness.shutdown()
    }
}

import Foundation
import Testing
import TestSupport
@testable import DiskCache

/// A full 4 MiB map of entries with many tags (event-time-ranged results carry a tag per day):
/// puts keep evicting within each transaction's page budget instead of failing, and one removal of
/// hundreds of tags empties it exactly (found by an adversarial review: puts failed for good).
@Suite(.timeLimit(.minutes(3))) struct ManyTagsFullMapTests {
    /// A full 4 MiB map of ranged entries (each with ~60 day tags, as event-time-ranged results
    /// carry) must still be invalidated by a batch whose days cover them all.
    @Test func aFullTinyMapOfEntriesWithManyTagsKeepsAcceptingPutsAndIsInvalidatedExactly() throws {
        let dir = try CacheDirectory()
        // No sync at commit: the test is about pages and eviction, and thousands of synced commits
        // would starve the timing-bounded tests running beside it of the disk.
        let cache = try DiskCache(configuration: .init(path: dir.path, mapSize: 4 << 20, durability: .none, clock: ManualDiskClock()))
        let budget = try cache.statistics().byteBudget
        var putFailures: [String] = []
        for i in 0..<(budget / 1000) {
            let day = i % 400
            let tags = ["query:q\(i % 3)", "type:OrderPlaced@ranged"] + (0..<60).map { "type:OrderPlaced@d:\(20000 + (day + $0) % 400)" }
            do {
                try cache.store([UInt8](repeating: 1, count: 200), forKey: "k\(i)", tags: tags)
            } catch {
                putFailures.append("\(error)")
                if putFailures.count > 3 { break }
            }
        }
        #expect(putFailures.isEmpty, "puts failed: \(putFailures)")
        let entries = try cache.statistics().entries
        let tags = (0..<400).map { "type:OrderPlaced@d:\(20000 + $0)" } + ["type:OrderPlaced", "dep:**"]
        let before = try cache.generation()
        var removed = -1
        do {
            removed = try cache.removeAll(taggedWithAnyOf: tags, note: DiskCacheNote(name: "n", value: [1]))
        } catch {
            Issue.record("removal failed on a full 4 MiB map (L2 would be distrusted): \(error)")
        }
        #expect(removed == entries, "entries \(entries), removed \(removed)")
        #expect(try cache.generation() == before + 1)
        #expect(try cache.statistics().entries == 0)
        let problems = try cache.consistencyProblems()
        #expect(problems == [], "\(problems.prefix(5))")
        #expect(try cache.note(named: "n") == [1])
    }
}

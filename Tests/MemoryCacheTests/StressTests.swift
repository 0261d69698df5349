import Synchronization
import TestSupport
import Testing

@testable import MemoryCache

/// Issue 11: 8 tasks × random operations (reads, loads with random cancellation and failures,
/// weighted inserts, key/tag/all invalidation, expiry on a test clock), checking after every
/// operation that the bound holds, that no caller that never cancelled got `CancellationError`,
/// and that no call that started after an invalidation returned a value computed before it.
@Suite struct StressTests {
    /// A value stamped with the tick at which its computation started.
    struct Stamped: Sendable {
        var tick: Int
    }

    /// The global order of loads and invalidations. Invalidations run one at a time (under the
    /// history's lock, which no loader takes), so their start and end ticks are both increasing.
    final class History: Sendable {
        let tick = Atomic<Int>(0)
        private struct Scopes {
            var keys: [Int: [(start: Int, end: Int)]] = [:]
            var tags: [String: [(start: Int, end: Int)]] = [:]
            var all: [(start: Int, end: Int)] = []
        }
        private let scopes = Mutex(Scopes())

        func now() -> Int { tick.load(ordering: .sequentiallyConsistent) }
        func advance() -> Int { tick.add(1, ordering: .sequentiallyConsistent).newValue }

        /// Runs an invalidation and records its start and end ticks.
        func invalidate(key: Int? = nil, tags: [String] = [], all: Bool = false, _ body: () -> Void) {
            scopes.withLock { s in
                let start = advance()
                body()
                let end = advance()
                if let key { s.keys[key, default: []].append((start, end)) }
                for tag in tags { s.tags[tag, default: []].append((start, end)) }
                if all { s.all.append((start, end)) }
            }
        }

        /// The latest start of an invalidation covering `key` (or its tags) that had returned by `tick`.
        func latestInvalidationStart(of key: Int, tags: [String], completedBy tick: Int) -> Int {
            func latest(_ list: [(start: Int, end: Int)]?) -> Int {
                guard let list else { return 0 }
                var low = 0
                var high = list.count
                while low < high {
                    let mid = (low + high) / 2
                    if list[mid].end <= tick { low = mid + 1 } else { high = mid }
                }
                return low == 0 ? 0 : list[low - 1].start
            }
            return scopes.withLock { s in
                tags.reduce(max(latest(s.keys[key]), latest(s.all))) { max($0, latest(s.tags[$1])) }
            }
        }
    }

    final class Failures: Sendable {
        let spuriousCancellations = Atomic<Int>(0)
        let staleValues = Atomic<Int>(0)
        let boundViolations = Atomic<Int>(0)
        let supersededAfterInvalidation = Atomic<Int>(0)
        let operations = Atomic<Int>(0)
    }

    private struct Boom: Error {}

    static func tags(of key: Int) -> [String] { ["t\(key % 3)", "k\(key % 7)"] }

    @Test func randomOperationsKeepEveryGuarantee() async throws {
        let bound = 1_000
        let clock = ManualCacheClock()
        let cache = MemoryCache<Int, Stamped>(configuration: .init(
            bound: .weight(bound, weigher: { _, _ in 10 }), timeToLive: .seconds(5), clock: clock, shardCount: 8, seed: 4))
        let history = History()
        let failures = Failures()
        let operationsPerTask = 12_500
        await withTaskGroup(of: Void.self) { group in
            for t in 0..<8 {
                group.addTask {
                    var random = SeededRandom(seed: UInt64(t) &* 7919 &+ 1)
                    for _ in 0..<operationsPerTask {
                        await Self.randomOperation(&random, cache: cache, clock: clock, history: history, failures: failures)
                        failures.operations.add(1, ordering: .relaxed)
                        if cache.weightedSize > bound { failures.boundViolations.add(1, ordering: .relaxed) }
                    }
                }
            }
        }
        #expect(failures.operations.load(ordering: .relaxed) == 8 * operationsPerTask)
        #expect(failures.boundViolations.load(ordering: .relaxed) == 0)
        #expect(failures.spuriousCancellations.load(ordering: .relaxed) == 0)
        #expect(failures.staleValues.load(ordering: .relaxed) == 0)
        #expect(failures.supersededAfterInvalidation.load(ordering: .relaxed) == 0)
        cache.cleanUp()
        #expect(cache.weightedSize <= bound)
    }

    static func randomOperation(
        _ random: inout SeededRandom, cache: MemoryCache<Int, Stamped>, clock: ManualCacheClock, history: History,
        failures: Failures
    ) async {
        let key = Int(random.next() % 200)
        let tags = Self.tags(of: key)
        let roll = random.next() % 100
        let start = history.now()
        /// A value computed before an invalidation started, which returned before this call
        /// started, is stale.
        func check(_ value: Stamped, outcome: LookupOutcome?) {
            if value.tick < history.latestInvalidationStart(of: key, tags: tags, completedBy: start) {
                failures.staleValues.add(1, ordering: .relaxed)
                if outcome == .superseded { failures.supersededAfterInvalidation.add(1, ordering: .relaxed) }
            }
        }
        let weight = Int(random.next() % 120)  // includes 0; some entries weigh 10 % of the bound
        let fails = random.next() % 20 == 0
        let loader: @Sendable () async throws -> Loaded<Stamped> = {
            let stamp = Stamped(tick: history.advance())
            for _ in 0..<3 {
                await Task.yield()
                try Task.checkCancellation()
            }
            if fails { throw Boom() }
            return Loaded(stamp, weight: weight)
        }
        switch roll {
        case 0..<30:
            if let value = cache.value(forKey: key) { check(value, outcome: .hit) }
        case 30..<60:
            do {
                let result = try await cache.lookup(key, tags: Set(tags), orLoad: loader)
                check(result.value, outcome: result.outcome)
            } catch is CancellationError {
                failures.spuriousCancellations.add(1, ordering: .relaxed)
            } catch {}
        case 60..<70:
            // Cancelled at a random point: may get CancellationError, must not disturb others.
            let task = Task { try await cache.lookup(key, tags: Set(tags), orLoad: loader) }
            if random.next() % 2 == 0 { await Task.yield() }
            task.cancel()
            if let result = try? await task.value { check(result.value, outcome: result.outcome) }
        case 70..<76:
            // A value computed elsewhere: stored only if nothing newer happened since the token.
            let token = cache.currentGeneration
            cache.insert(Stamped(tick: history.advance()), forKey: key, tags: Set(tags), weight: weight, ifUnchangedSince: token)
        case 76..<82:
            // An unconditional insert is as fresh as its caller says: never judged stale.
            cache.insert(Stamped(tick: Int.max), forKey: key, tags: Set(tags), weight: weight)
        case 82..<88:
            history.invalidate(key: key) { cache.removeValue(forKey: key) }
        case 88..<94:
            let tag = tags[Int(random.next() % 2)]
            history.invalidate(tags: [tag]) { cache.removeAll(taggedWith: tag) }
        case 94..<95:
            history.invalidate(all: true) { cache.removeAll() }
        case 95..<97:
            cache.cleanUp()
        default:
            clock.advance(by: .milliseconds(Int64(random.next() % 1_000)))
        }
    }
}

import ArgumentParser
import CMalloc
import Dispatch
import Foundation
import MemoryCache
import Synchronization

/// `analytics-cache-bench cache`: MemoryCache throughput against NSCache and a Mutex-guarded
/// dictionary with an LRU list, measured in the same run; and its memory per entry.
struct CacheBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "MemoryCache throughput (vs NSCache and a Mutex LRU) and bytes per entry."
    )

    @Option(help: "Cache capacity in entries (the cache is full before timing).")
    var capacity = 1 << 14

    @Option(help: "Operations per thread per measurement.")
    var operations = 2_000_000

    @Option(help: "Entries for the memory measurement (0 skips it).")
    var memoryEntries = 1_000_000

    @Option(help: "Thread counts to measure, comma-separated.")
    var threads = "1,2"

    @Option(help: "Read percentages to measure, comma-separated (100, 75, 0).")
    var reads = "100,75,0"

    func run() throws {
        let keys = ZipfKeys(count: 1 << 20, universe: capacity * 4, skew: 1.0, seed: 7)
        print("throughput: \(capacity)-entry cache, zipf(1.0) keys over \(capacity * 4), \(operations) ops/thread, median of 3")
        let threadCounts = threads.split(separator: ",").compactMap { Int($0) }
        let readPercents = reads.split(separator: ",").compactMap { Int($0) }
        for (name, readPercent) in [("100% reads", 100), ("75% reads / 25% writes", 75), ("100% writes", 0)]
        where readPercents.contains(readPercent) {
            for threads in threadCounts {
                let memory = measure(threads: threads, readPercent: readPercent, keys: keys, MemoryCacheAdapter(capacity: capacity))
                let nscache = measure(threads: threads, readPercent: readPercent, keys: keys, NSCacheAdapter(capacity: capacity))
                let locked = measure(threads: threads, readPercent: readPercent, keys: keys, LockedLRUAdapter(capacity: capacity))
                print("  \(name), \(threads) thread\(threads == 1 ? "" : "s"): MemoryCache \(mops(memory)) Mops/s, "
                      + "NSCache \(mops(nscache)) (x\(fmt(memory / nscache, 2))), Mutex+LRU \(mops(locked)) (x\(fmt(memory / locked, 2)))")
            }
        }
        if memoryEntries > 0 { measureMemory() }
    }

    func mops(_ opsPerSecond: Double) -> String { fmt(opsPerSecond / 1e6, 2) }

    /// Operations per second, median of three runs, on a cache filled beforehand.
    func measure<C: BenchCache>(threads: Int, readPercent: Int, keys: ZipfKeys, _ cache: C) -> Double {
        for key in 0..<(capacity * 4) { cache.put(key) }
        var results: [Double] = []
        for round in 0..<3 {
            let start = ContinuousClock.now
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                var i = (t * 7919 + round * 104_729) & keys.mask
                var sink = 0
                for n in 0..<operations {
                    let key = keys.keys[i]
                    i = (i + 1) & keys.mask
                    if readPercent == 100 || (readPercent > 0 && n & 3 != 0) {
                        sink &+= cache.get(key)
                    } else {
                        cache.put(key)
                    }
                }
                if sink == 42 { print("") }
            }
            results.append(Double(threads * operations) / seconds(start.duration(to: .now)))
        }
        return results.sorted()[1]
    }

    func measureMemory() {
        let n = memoryEntries
        func allocated() -> Int { let m = mallinfo2(); return Int(m.uordblks) + Int(m.hblkhd) }
        let before = allocated()
        var cache: MemoryCache<Int, Int>? = MemoryCache(configuration: .init(bound: .entries(n), shardCount: 16))
        for key in 0..<n { cache?.insert(key, forKey: key) }
        let after = allocated()
        let perEntry = Double(after - before) / Double(n)
        var dictionary: [Int: Int]? = [:]
        let beforeDict = allocated()
        for key in 0..<n { dictionary?[key] = key }
        let afterDict = allocated()
        let dictPerEntry = Double(afterDict - beforeDict) / Double(n)
        print("memory: \(n) entries of Int -> Int: MemoryCache \(fmt(perEntry, 1)) bytes/entry, "
              + "overhead beyond key and value \(fmt(perEntry - 16, 1)) bytes (goal <= 150; moka: 152); "
              + "a plain [Int: Int] for comparison \(fmt(dictPerEntry, 1)) bytes/entry")
        _ = cache?.count
        cache = nil
        dictionary = nil
    }
}

/// A precomputed zipf-distributed key sequence (inverse-CDF sampling; rank 0 is the most popular).
struct ZipfKeys: Sendable {
    let keys: [Int]
    let mask: Int

    init(count: Int, universe: Int, skew: Double, seed: UInt64) {
        var cdf: [Double] = []
        cdf.reserveCapacity(universe)
        var total = 0.0
        for rank in 1...universe {
            total += 1 / pow(Double(rank), skew)
            cdf.append(total)
        }
        var rng = BenchRandom(seed: seed)
        // Ranks are scattered over the key space so popular keys do not share a shard or bucket.
        var permutation = Array(0..<universe)
        permutation.shuffle(using: &rng)
        keys = (0..<count).map { _ in
            let u = Double(rng.next() >> 11) / Double(1 << 53) * total
            var lo = 0
            var hi = universe - 1
            while lo < hi {
                let mid = (lo + hi) / 2
                if cdf[mid] < u { lo = mid + 1 } else { hi = mid }
            }
            return permutation[lo]
        }
        mask = count - 1
    }
}

protocol BenchCache: Sendable {
    func get(_ key: Int) -> Int
    func put(_ key: Int)
}

struct MemoryCacheAdapter: BenchCache {
    let cache: MemoryCache<Int, Int>
    init(capacity: Int) { cache = MemoryCache(configuration: .init(bound: .entries(capacity))) }
    func get(_ key: Int) -> Int { cache.value(forKey: key) ?? 0 }
    func put(_ key: Int) { cache.insert(key, forKey: key) }
}

/// Foundation's NSCache with boxed keys and values (what it requires).
final class NSCacheAdapter: BenchCache, @unchecked Sendable {
    // @unchecked Sendable: NSCache is documented as thread-safe; `boxes` is immutable after init.
    let cache = NSCache<NSNumber, NSNumber>()
    let boxes: [NSNumber]
    init(capacity: Int) {
        cache.countLimit = capacity
        boxes = (0..<(capacity * 4)).map { NSNumber(value: $0) }
    }
    func get(_ key: Int) -> Int { cache.object(forKey: boxes[key])?.intValue ?? 0 }
    func put(_ key: Int) { cache.setObject(boxes[key], forKey: boxes[key]) }
}

/// The usual hand-rolled cache: one Mutex around a dictionary and an LRU list (index-linked).
final class LockedLRUAdapter: BenchCache, Sendable {
    struct State {
        var index: [Int: Int32] = [:]
        var keys: [Int] = []
        var values: [Int] = []
        var prev: [Int32] = []
        var next: [Int32] = []
        var head: Int32 = -1  // most recent
        var tail: Int32 = -1  // least recent
        let capacity: Int

        mutating func unlink(_ i: Int32) {
            let p = prev[Int(i)], n = next[Int(i)]
            if p != -1 { next[Int(p)] = n } else { head = n }
            if n != -1 { prev[Int(n)] = p } else { tail = p }
        }

        mutating func pushFront(_ i: Int32) {
            prev[Int(i)] = -1
            next[Int(i)] = head
            if head != -1 { prev[Int(head)] = i }
            head = i
            if tail == -1 { tail = i }
        }
    }
    let state: Mutex<State>

    init(capacity: Int) { state = Mutex(State(capacity: capacity)) }

    func get(_ key: Int) -> Int {
        state.withLock { s in
            guard let i = s.index[key] else { return 0 }
            s.unlink(i)
            s.pushFront(i)
            return s.values[Int(i)]
        }
    }

    func put(_ key: Int) {
        state.withLock { s in
            if let i = s.index[key] {
                s.values[Int(i)] = key
                s.unlink(i)
                s.pushFront(i)
                return
            }
            let i: Int32
            if s.keys.count < s.capacity {
                i = Int32(s.keys.count)
                s.keys.append(key)
                s.values.append(key)
                s.prev.append(-1)
                s.next.append(-1)
            } else {
                i = s.tail
                s.unlink(i)
                s.index.removeValue(forKey: s.keys[Int(i)])
                s.keys[Int(i)] = key
                s.values[Int(i)] = key
            }
            s.index[key] = i
            s.pushFront(i)
        }
    }
}

import Testing

@testable import MemoryCache

/// A deliberately naive W-TinyLFU (arrays, linear searches) with the same rules as the policy,
/// to check the optimised slab-and-links implementation decision by decision.
struct ReferenceWTinyLFU {
    var window: [Int] = []  // LRU first
    var probation: [Int] = []
    var protected: [Int] = []
    var weights: [Int: Int] = [:]
    let maximum: Int
    let windowMaximum: Int
    let protectedMaximum: Int
    var sketch: FrequencySketch
    var random: SplitMix64

    init(maximum: Int, seed: UInt64) {
        self.maximum = maximum
        windowMaximum = maximum - Int(0.99 * Double(maximum))
        protectedMaximum = Int(0.8 * Double(maximum - windowMaximum))
        sketch = FrequencySketch(capacity: maximum)
        random = SplitMix64(seed: seed)
    }

    func total(_ q: [Int]) -> Int { q.reduce(0) { $0 + weights[$1, default: 0] } }
    var weightedSize: Int { total(window) + total(probation) + total(protected) }

    mutating func insert(_ key: Int, weight: Int) -> [Int] {
        weights[key] = weight
        windowReads[key] = 0
        window.append(key)
        sketch.increment(UInt64(key))
        return evict()
    }

    /// Reads counted during each window entry's current stay (at most 2 count).
    var windowReads: [Int: Int] = [:]

    mutating func access(_ key: Int) {
        if window.contains(key) {
            if windowReads[key, default: 0] < 2 {
                sketch.increment(UInt64(key))
                windowReads[key, default: 0] += 1
            }
        } else {
            sketch.increment(UInt64(key))
        }
        if let i = window.firstIndex(of: key) {
            window.remove(at: i); window.append(key)
        } else if let i = protected.firstIndex(of: key) {
            protected.remove(at: i); protected.append(key)
        } else if let i = probation.firstIndex(of: key) {
            probation.remove(at: i); protected.append(key)
            while total(protected) > protectedMaximum, !protected.isEmpty { probation.append(protected.removeFirst()) }
        }
    }

    mutating func remove(_ key: Int) {
        window.removeAll { $0 == key }
        probation.removeAll { $0 == key }
        protected.removeAll { $0 == key }
        weights[key] = nil
    }

    /// The weight `candidate` may displace from `victim` on in probation (up to 64 looked at):
    /// 0 if one it would need is at least as popular.
    func outranks(_ candidate: Int, from victim: Int) -> Int {
        let frequency = sketch.frequency(UInt64(candidate))
        let needed = min(weights[candidate, default: 0], weightedSize - maximum)
        guard let start = probation.firstIndex(of: victim) else { return 1 }
        var freed = 0
        for k in probation[start...].prefix(64) {
            if freed >= needed { break }
            if k == candidate { continue }
            if sketch.frequency(UInt64(k)) >= frequency { return 0 }
            freed += weights[k, default: 0]
        }
        return max(freed, 1)
    }

    mutating func evict() -> [Int] {
        guard weightedSize > maximum || total(window) > windowMaximum else { return [] }
        var candidates = 0
        while total(window) > windowMaximum, !window.isEmpty {
            probation.append(window.removeFirst())
            candidates += 1
        }
        var evicted: [Int] = []
        // Candidates: the last `candidates` of probation, newest first; victims from its front.
        var candidateList = Array(probation.suffix(candidates).reversed())
        var victimRegion = 0
        var preApproved = 0
        while weightedSize > maximum {
            var victim: Int? = nil
            while victim == nil {
                switch victimRegion {
                case 0: victim = probation.first(where: { !evicted.contains($0) })
                case 1: victim = protected.first
                case 2: victim = window.first
                default: break
                }
                if victim == nil && candidateList.isEmpty {
                    victimRegion += 1
                    if victimRegion > 2 { return evicted }
                } else {
                    break
                }
            }
            candidateList.removeAll { evicted.contains($0) }
            let candidate = candidateList.first
            func drop(_ k: Int) { remove(k); evicted.append(k) }
            switch (candidate, victim) {
            case (nil, let v?): drop(v)
            case (let c?, nil): candidateList.removeFirst(); drop(c)
            case (let c?, let v?) where c == v: candidateList.removeAll(); drop(c)
            case (let c?, let v?):
                let admitted: Bool
                if preApproved > 0 {
                    admitted = true
                } else {
                    let vf = sketch.frequency(UInt64(v)), cf = sketch.frequency(UInt64(c))
                    if cf > vf || (cf >= 6 && random.next() & 127 == 0) {
                        // A heavier candidate must outrank every victim it would displace.
                        if weights[c, default: 0] > weights[v, default: 0] {
                            preApproved = outranks(c, from: v)
                            admitted = preApproved > 0
                        } else {
                            admitted = true
                        }
                    } else {
                        admitted = false
                    }
                }
                if admitted {
                    preApproved = max(0, preApproved - weights[v, default: 0])
                    drop(v)
                    if preApproved == 0 || probation.isEmpty || victimRegion != 0 {
                        preApproved = 0
                        candidateList.removeFirst()
                    }
                } else {
                    candidateList.removeFirst(); drop(c)
                }
            case (nil, nil): return evicted
            }
        }
        return evicted
    }
}

/// Drives a policy with integer keys, keeping the slot-to-key map a cache would keep.
struct PolicyDriver {
    var policy: WTinyLFUPolicy
    var slots: [Int: Int32] = [:]
    var keys: [Int32: Int] = [:]

    init(maximum: Int) { policy = WTinyLFUPolicy(maximum: maximum) }

    /// Reads `key`, inserting it on a miss; returns whether it hit.
    @discardableResult
    mutating func access(_ key: Int, countLookups: Bool = false) -> Bool {
        if let slot = slots[key] {
            policy.recordAccess(slot)
            if countLookups { policy.recordLookups(hits: 1, misses: 0) }
            return true
        }
        if countLookups { policy.recordLookups(hits: 0, misses: 1) }
        let (slot, evicted) = policy.insert(hash: UInt64(key), weight: 1)
        slots[key] = slot
        keys[slot] = key
        forget(evicted)
        return false
    }

    mutating func forget(_ evicted: [WTinyLFUPolicy.Eviction]) {
        for e in evicted {
            if let k = keys.removeValue(forKey: e.slot) { slots[k] = nil }
        }
    }

    mutating func climb() { forget(policy.climb()) }
}

@Suite struct PolicyTests {
    @Test(arguments: [UInt64(1), 7, 99])
    func policyMakesTheSameDecisionsAsTheReferenceModel(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let maximum = 50
        var policy = WTinyLFUPolicy(maximum: maximum, seed: 42)
        var model = ReferenceWTinyLFU(maximum: maximum, seed: 42)
        var slots: [Int: Int32] = [:]
        var keyOf: [Int32: Int] = [:]
        for step in 0..<4000 {
            let key = Int(rng.next() % 120) * (rng.next() % 4 == 0 ? 1 : 1)
            let roll = rng.next() % 10
            if let slot = slots[key] {
                if roll == 0 {
                    policy.remove(slot)
                    model.remove(key)
                    slots[key] = nil
                    keyOf[slot] = nil
                } else {
                    policy.recordAccess(slot)
                    model.access(key)
                }
            } else {
                let weight = Int(1 + rng.next() % 3)
                let (slot, evicted) = policy.insert(hash: UInt64(key), weight: weight)
                slots[key] = slot
                keyOf[slot] = key
                let modelEvicted = model.insert(key, weight: weight)
                let evictedKeys = evicted.compactMap { keyOf[$0.slot] }
                #expect(evictedKeys == modelEvicted, "step \(step)")
                for e in evicted {
                    if let k = keyOf.removeValue(forKey: e.slot) { slots[k] = nil }
                }
            }
            #expect(policy.weightedSize <= maximum)
            #expect(policy.weightedSize == model.weightedSize, "step \(step)")
            let queues = [WTinyLFUPolicy.Region.window, .probation, .protected].map { region in
                policy.slots(in: region).compactMap { keyOf[$0] }
            }
            #expect(queues == [model.window, model.probation, model.protected], "step \(step)")
            if queues != [model.window, model.probation, model.protected] { return }
        }
    }

    @Test func frequentEntriesSurviveAScan() throws {
        var driver = PolicyDriver(maximum: 100)
        for _ in 0..<20 {
            for key in 0..<50 { driver.access(key) }
        }
        for key in 1000..<11_000 { driver.access(key) }  // a scan of one-time keys
        let hot = (0..<50).filter { driver.slots[$0] != nil }.count
        #expect(hot >= 48, "only \(hot) of 50 hot keys survived the scan")
        #expect(driver.policy.count == 100)
    }

    @Test func hillClimberGrowsTheWindowWhenPopularityShiftsFast() throws {
        // Phases of short-lived hot sets: the sketch remembers the previous phases' keys, so a
        // small window keeps rejecting the new hot keys; recency pays, and the window should grow.
        var driver = PolicyDriver(maximum: 200)
        var rng = SplitMix64(seed: 5)
        let initialWindow = driver.policy.windowMaximum
        for i in 0..<300_000 {
            driver.access((i / 3000) * 1000 + Int(rng.next() % 150), countLookups: true)
            if i % 100 == 0 { driver.climb() }
            #expect(driver.policy.weightedSize <= 200)
        }
        #expect(driver.policy.windowMaximum > initialWindow, "window stayed at \(driver.policy.windowMaximum)")
        #expect(driver.policy.windowMaximum + driver.policy.protectedMaximum <= 200)
    }

    @Test func hillClimberKeepsTheWindowSmallForALoopLargerThanTheCache() throws {
        // A loop over more keys than fit: recency (LRU) gets nothing, frequency keeps a fixed subset.
        var driver = PolicyDriver(maximum: 200)
        var hits = 0
        for i in 0..<100_000 {
            if driver.access(i % 250, countLookups: true) { hits += 1 }
            if i % 100 == 0 { driver.climb() }
        }
        #expect(driver.policy.windowMaximum <= 10)
        #expect(Double(hits) / 100_000 > 0.6, "hit ratio \(Double(hits) / 100_000)")
    }
}

@Suite struct FrequencySketchTests {
    @Test func countsSaturateAtFifteenAndAgingHalvesThem() throws {
        var sketch = FrequencySketch(capacity: 64)
        for _ in 0..<20 { sketch.increment(42) }
        #expect(sketch.frequency(42) == 15)
        #expect(sketch.frequency(43) <= 1)
        sketch.age()
        #expect(sketch.frequency(42) == 7)
    }

    @Test func agingHappensAfterTheSampleSize() throws {
        var sketch = FrequencySketch(capacity: 16)
        for _ in 0..<10 { sketch.increment(7) }
        #expect(sketch.frequency(7) == 10)
        var key: UInt64 = 1000
        while sketch.size > 0 && sketch.size < sketch.sampleSize - 1 {
            sketch.increment(key)
            key += 1
        }
        sketch.increment(key + 1)
        let aged = sketch.frequency(7)
        #expect(aged >= 5 && aged < 10, "aging should have halved the count (collisions may add a little): \(aged)")
    }

    @Test func distinctKeysRarelyCollide() throws {
        var sketch = FrequencySketch(capacity: 1024)
        for key in UInt64(0)..<512 { sketch.increment(key) }
        let overestimated = (UInt64(10_000)..<11_000).filter { sketch.frequency($0) > 0 }.count
        #expect(overestimated < 50)
    }
}

/// Chooses the admission window of ``WTinyLFUPolicy`` by simulation ("mini-sim") rather than by
/// hill climbing on the real cache's hit rate.
///
/// The climber runs ten small *shadow* caches side by side. Each is a complete, non-adaptive
/// ``WTinyLFUPolicy`` (window, probation, protected, its own sketch, the same admission rules and
/// weights) with a FIXED window share between 1 % and 99.9 %. They see only a hashed sample of the
/// key space: a key is sampled when the top `sampleBits` bits of a mix of its hash are clear
/// (1 key in `2^sampleBits`), and each shadow's bound is the real bound divided by the same
/// factor, so every shadow models the whole cache at its window share (spatial sampling). The
/// factor is chosen so a shadow holds 257…512 entries; a cache of at most 512 entries is
/// simulated in full. (Shadows of 513…1024 entries were measured one goal cell better on the
/// shared traces but cost 15–25 % of write throughput at 16 K entries; 129…256 lost three cells.)
///
/// Every period (2 × a shadow's entries in sampled requests) each shadow's hits are folded into
/// a score decaying by 0.95 per period (a memory of about 20 periods), and ``targetShare``
/// moves to the best shadow when it wins by more than 1 % of a period's requests after a
/// switching charge of 20 % of a period per unit of window share moved (a far move empties
/// main-space entries that took long to earn their place, so it must pay for itself). Since all
/// shadows see the same requests, their differences are far less noisy than the hit rate of the
/// single real configuration compared across time, and a distant optimum (a 99.9 % window for
/// LRU-friendly traffic) is reached in one period instead of dozens of small steps.
///
/// Cost: only sampled keys touch the shadows, O(number of shadows) each; shadow memory is fixed
/// by the shadow size (at most 10 × 512 nodes, indexes and sketches, about 0.3 MiB), whatever the
/// real size.
struct ShadowClimber: Sendable {
    /// The window shares simulated, ascending.
    static let shares: [Double] = [0.01, 0.03, 0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95, 0.999]
    /// A shadow holds `shadowEntries + 1 … 2 × shadowEntries` entries (fewer for small caches).
    static var shadowEntries: Int { 256 }
    /// A period, in sampled requests, per shadow entry.
    static var periodPerEntry: Double { 2 }
    /// The scores' decay per period.
    static var decay: Double { 0.95 }
    /// The lead (a share of a period's requests) the best shadow needs over the current one.
    static var margin: Double { 0.01 }
    /// The charge (a share of a period's requests) per unit of window share moved.
    static var switchCost: Double { 0.2 }

    /// A sampled key's mixed hash has its top `sampleBits` bits clear.
    let sampleBits: Int
    /// The entry count this climber was sized for (the cache's estimated entries when full).
    let sizedForEntries: Int
    /// The fixed-window policies simulated, one per share.
    private var shadows: [WTinyLFUPolicy]
    /// The shadows' indexes, one after another: for shadow `i`, positions `i × (indexMask + 1)`
    /// onward hold an open-addressed (linear probing) table of its slots, slot + 1 (0 = empty),
    /// probed from `key & indexMask`; each is kept at most half full.
    private var index: [Int32]
    /// Each index's size - 1 (a power of two - 1).
    private var indexMask: Int
    /// A reused buffer for the shadows' evictions.
    private var evictedBuffer: [WTinyLFUPolicy.Eviction] = []
    /// Per shadow: hits in the current period.
    private var hitCounts: [Int]
    /// Per shadow: decayed hits of past periods.
    private var scores: [Double]
    /// Sampled requests in the current period.
    private var periodRequests = 0
    /// Sampled requests per period.
    private let periodLength: Int
    /// The index in ``shares`` of the current choice.
    private(set) var choice: Int
    /// Whether the shadows have filled (scoring starts then: cold shadows favour whatever fills
    /// fastest).
    private var warm = false

    /// Creates a climber for a cache expected to hold `entries` entries when full.
    /// - Parameters:
    ///   - entries: the estimated number of entries at the bound
    ///   - maximum: the real cache's bound (weight units)
    ///   - initial: the window share to report until the shadows have an opinion
    ///   - seed: seeds the shadows' admission randomness
    init(entries: Int, maximum: Int, initial: Double, seed: UInt64) {
        let entries = max(1, entries)
        var bits = 0
        while bits < 40, (entries >> bits) > 2 * Self.shadowEntries { bits += 1 }
        sampleBits = bits
        sizedForEntries = entries
        let bound = max(1, maximum >> bits)
        shadows = Self.shares.map { WTinyLFUPolicy(shadowMaximum: bound, windowShare: $0, seed: seed) }
        let slots = FrequencySketch.ceilingPowerOfTwo(max(16, 2 * max(1, entries >> bits) + 4))
        index = Array(repeating: 0, count: slots * Self.shares.count)
        indexMask = slots - 1
        hitCounts = Array(repeating: 0, count: Self.shares.count)
        scores = Array(repeating: 0, count: Self.shares.count)
        periodLength = max(64, Int(Self.periodPerEntry * Double(max(1, entries >> bits))))
        var best = 0
        for i in Self.shares.indices where abs(Self.shares[i] - initial) < abs(Self.shares[best] - initial) { best = i }
        choice = best
    }

    /// The window share the shadows currently favour.
    var targetShare: Double { Self.shares[choice] }

    /// Feeds one request (a hit or a miss of the real cache) for the key with this hash.
    /// - Parameters:
    ///   - hash: the key's hash
    ///   - weight: the entry's weight
    /// - Complexity: O(1); O(number of shadows) for a sampled key
    @inline(__always)
    mutating func record(_ hash: UInt64, weight: Int) {
        let key = Self.mix(hash)
        if sampleBits > 0, key >> UInt64(64 - sampleBits) != 0 { return }
        recordSampled(key, weight: weight)
    }

    /// Replays a sampled request on every shadow; at the end of a period, re-chooses.
    private mutating func recordSampled(_ key: UInt64, weight: Int) {
        var evicted = evictedBuffer
        for i in shadows.indices {
            let (found, position) = find(key, in: i)
            if found >= 0 {
                shadows[i].recordAccess(found)
                hitCounts[i] += 1
            } else {
                evicted.removeAll(keepingCapacity: true)
                let slot = shadows[i].insertShadow(hash: key, weight: weight, evicted: &evicted)
                index[position] = slot + 1
                for e in evicted { remove(e.hash, slot: e.slot, from: i) }
                if 2 * shadows[i].count > indexMask { grow() }
            }
        }
        evictedBuffer = evicted
        if !warm {
            guard shadows[0].hasEvicted else { return }
            warm = true
            for i in shadows.indices { hitCounts[i] = 0 }
            periodRequests = 0
            return
        }
        periodRequests += 1
        guard periodRequests >= periodLength else { return }
        periodRequests = 0
        for i in shadows.indices {
            scores[i] = Self.decay * scores[i] + Double(hitCounts[i])
            hitCounts[i] = 0
        }
        let period = Double(periodLength)
        let current = choice
        func charged(_ i: Int) -> Double {
            scores[i] - Self.switchCost * period * abs(Self.shares[i] - Self.shares[current])
        }
        var best = current
        for i in shadows.indices where charged(i) > charged(best) { best = i }
        if charged(best) > scores[current] + Self.margin * period { choice = best }
    }

    /// The slot of `key` in shadow `i` (or -1), and the position in ``index`` where the probe
    /// ended.
    @inline(__always)
    private func find(_ key: UInt64, in i: Int) -> (WTinyLFUPolicy.Slot, Int) {
        let base = i * (indexMask + 1)
        var p = Int(truncatingIfNeeded: key) & indexMask
        while true {
            let s = index[base + p]
            if s == 0 { return (-1, base + p) }
            if shadows[i].hash(of: s - 1) == key { return (s - 1, base + p) }
            p = (p + 1) & indexMask
        }
    }

    /// Drops an evicted slot from shadow `i`'s index (backward-shift deletion, no tombstones).
    /// The slot is already free in the shadow (which keeps its hash), so its key is given.
    private mutating func remove(_ key: UInt64, slot: WTinyLFUPolicy.Slot, from i: Int) {
        let mask = indexMask
        let base = i * (mask + 1)
        var hole = Int(truncatingIfNeeded: key) & mask
        while index[base + hole] != slot + 1 { hole = (hole + 1) & mask }
        var j = hole
        while true {
            j = (j + 1) & mask
            let s = index[base + j]
            if s == 0 { break }
            let home = Int(truncatingIfNeeded: shadows[i].hash(of: s - 1)) & mask
            // s may fill the hole unless its home lies cyclically in (hole, j].
            let stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j)
            if !stays {
                index[base + hole] = s
                hole = j
            }
        }
        index[base + hole] = 0
    }

    /// Doubles every shadow's index (a weighted shadow may hold more entries than estimated).
    private mutating func grow() {
        let oldSize = indexMask + 1
        let size = 2 * oldSize
        var table = [Int32](repeating: 0, count: size * shadows.count)
        for i in shadows.indices {
            for q in 0..<oldSize {
                let s = index[i * oldSize + q]
                guard s != 0 else { continue }
                var p = Int(truncatingIfNeeded: shadows[i].hash(of: s - 1)) & (size - 1)
                while table[i * size + p] != 0 { p = (p + 1) & (size - 1) }
                table[i * size + p] = s
            }
        }
        index = table
        indexMask = size - 1
    }

    /// A mix of the hash independent of the sketch's (whose `spread` multiplies first), so the
    /// sampled keys are spread evenly over the sketch and the slab.
    @inline(__always)
    static func mix(_ x: UInt64) -> UInt64 {
        var z = (x ^ 0xD6E8_FEB8_6659_FD93) &* 0xFF51_AFD7_ED55_8CCD
        z = (z ^ (z >> 33)) &* 0xC4CE_B9FE_1A85_EC53
        return z ^ (z >> 33)
    }
}


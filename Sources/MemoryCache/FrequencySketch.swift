/// A 4-bit count-min sketch of how often keys were seen: TinyLFU's popularity estimate.
///
/// Each key maps to four 4-bit counters (one per hash function) packed sixteen to a `UInt64`; its
/// frequency is the smallest of the four, so collisions can only over-estimate. Every `sampleSize`
/// increments all counters are halved ("aging"), so the sketch forgets the past and follows
/// shifts in popularity. Counters saturate at 15.
///
/// The table starts small and doubles with the number of live entries (``ensureCapacity(_:)``),
/// never with the cache's weight bound: one `UInt64` per entry, rounded up to a power of two,
/// at most 2^24 words (128 MiB).
@usableFromInline package struct FrequencySketch: Sendable {
    private var table: [UInt64]
    private var tableMask: Int
    /// Increments between two agings: 10 × the table's words (entries), as in TinyLFU's paper.
    @usableFromInline package private(set) var sampleSize: Int
    /// The most entries the sketch has been sized for (the high-water mark given to `ensureCapacity`).
    @usableFromInline package private(set) var sizedFor: Int
    /// Increments since the last aging.
    @usableFromInline package private(set) var size: Int

    private static let resetMask: UInt64 = 0x7777_7777_7777_7777
    private static let oneMask: UInt64 = 0x1111_1111_1111_1111
    private static let seeds: (UInt64, UInt64, UInt64, UInt64) = (
        0x97CB_3127_97CB_3127, 0xC2B2_AE3D_27D4_EB4F, 0x1656_67B1_9E37_79F9, 0x9E37_79B9_7F4A_7C15
    )

    /// The most words the table grows to (2^24 words = 128 MiB, enough for ~16 M entries).
    @usableFromInline package static let maximumWords = 1 << 24

    /// Creates a sketch sized for about `capacity` entries; it grows later with ``ensureCapacity(_:)``.
    /// - Parameter capacity: the number of entries expected at first (clamped to 16…2^24 words)
    @usableFromInline package init(capacity: Int) {
        let words = Self.ceilingPowerOfTwo(max(16, min(capacity, Self.maximumWords)))
        table = Array(repeating: 0, count: words)
        tableMask = words - 1
        sizedFor = max(16, min(capacity, Self.maximumWords))
        sampleSize = 10 * sizedFor
        size = 0
    }

    /// The number of 64-bit words in the table (the number of entries it is sized for).
    @usableFromInline package var capacity: Int { table.count }

    /// Grows the table (doubling) until it has at least `entries` words, capped at ``maximumWords``.
    ///
    /// Growing keeps every estimate: a key's counter in the doubled table is at its old index or
    /// at the old index plus the old size, and both halves start as copies of the old table. Only
    /// new collisions are avoided; old ones fade with aging. ``sampleSize`` becomes 10 × words.
    /// - Parameter entries: the number of entries the cache now holds
    /// - Complexity: O(new size), amortised O(1) per entry when called as the cache grows
    @usableFromInline package mutating func ensureCapacity(_ entries: Int) {
        guard entries > sizedFor else { return }
        sizedFor = min(entries, Self.maximumWords)
        sampleSize = 10 * max(16, sizedFor)
        let target = Self.ceilingPowerOfTwo(max(16, min(entries, Self.maximumWords)))
        guard target > table.count else { return }
        var grown = [UInt64](repeating: 0, count: target)
        let old = table.count
        grown.withUnsafeMutableBufferPointer { g in
            table.withUnsafeBufferPointer { t in
                var base = 0
                while base < target {
                    for i in 0..<old { g[base + i] = t[i] }
                    base += old
                }
            }
        }
        table = grown
        tableMask = target - 1
    }

    /// The estimated number of recent occurrences of the key with this hash, 0…15.
    /// - Parameter hash: the key's 64-bit hash
    /// - Returns: the frequency estimate
    /// - Complexity: O(1)
    @usableFromInline package func frequency(_ hash: UInt64) -> Int {
        let h = Self.spread(hash)
        let start = Int(h & 3) << 2
        var minimum = 15
        for i in 0..<4 {
            let index = indexOf(h, i)
            let count = Int((table[index] >> UInt64((start + i) << 2)) & 0xF)
            minimum = min(minimum, count)
        }
        return minimum
    }

    /// Records one occurrence of the key with this hash; ages the sketch every `sampleSize` calls.
    /// - Parameter hash: the key's 64-bit hash
    /// - Complexity: O(1) amortised (aging is O(capacity) once per `sampleSize` increments)
    @usableFromInline package mutating func increment(_ hash: UInt64) {
        let h = Self.spread(hash)
        let start = Int(h & 3) << 2
        var added = false
        for i in 0..<4 {
            let index = indexOf(h, i)
            let offset = UInt64((start + i) << 2)
            if (table[index] >> offset) & 0xF != 0xF {
                table[index] &+= 1 << offset
                added = true
            }
        }
        if added {
            size += 1
            if size >= sampleSize { age() }
        }
    }

    /// Halves every counter.
    mutating func age() {
        var odd = 0
        for i in table.indices {
            odd += (table[i] & Self.oneMask).nonzeroBitCount
            table[i] = (table[i] >> 1) & Self.resetMask
        }
        size = max(0, (size - (odd >> 2)) >> 1)
    }

    private func indexOf(_ h: UInt64, _ i: Int) -> Int {
        let seed: UInt64
        switch i {
        case 0: seed = Self.seeds.0
        case 1: seed = Self.seeds.1
        case 2: seed = Self.seeds.2
        default: seed = Self.seeds.3
        }
        var x = (h &+ seed) &* seed
        x &+= x >> 32
        return Int(truncatingIfNeeded: x) & tableMask
    }

    /// A stronger mix of the key's hash (keys with poor low bits still spread over the table).
    @inlinable
    static func spread(_ x: UInt64) -> UInt64 {
        var z = x &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The smallest power of two ≥ `x` (1 for `x` ≤ 1).
    static func ceilingPowerOfTwo(_ x: Int) -> Int {
        x <= 1 ? 1 : 1 << (Int.bitWidth - (x - 1).leadingZeroBitCount)
    }
}

/// SplitMix64: a small, fast, seedable generator (deterministic runs of `simulate` and tests).
@usableFromInline package struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// Creates a generator.
    /// - Parameter seed: the starting state; equal seeds give equal sequences
    @usableFromInline package init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    @usableFromInline package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

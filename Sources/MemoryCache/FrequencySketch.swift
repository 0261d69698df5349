/// A 4-bit count-min sketch of how often keys were seen: TinyLFU's popularity estimate.
///
/// Each key maps to four 4-bit counters (one per hash function) packed sixteen to a `UInt64`; its
/// frequency is the smallest of the four, so collisions can only over-estimate. Every `sampleSize`
/// increments all counters are halved ("aging"), so the sketch forgets the past and follows
/// shifts in popularity. Counters saturate at 15.
///
/// Memory: one `UInt64` per expected entry (8 bytes per entry of capacity).
public struct FrequencySketch: Sendable {
    private var table: [UInt64]
    private var tableMask: Int
    /// Increments between two agings (10 × the capacity, as in TinyLFU's paper and Caffeine).
    public private(set) var sampleSize: Int
    /// Increments since the last aging.
    public private(set) var size: Int

    private static let resetMask: UInt64 = 0x7777_7777_7777_7777
    private static let oneMask: UInt64 = 0x1111_1111_1111_1111
    private static let seeds: (UInt64, UInt64, UInt64, UInt64) = (
        0x97CB_3127_97CB_3127, 0xC2B2_AE3D_27D4_EB4F, 0x1656_67B1_9E37_79F9, 0x9E37_79B9_7F4A_7C15
    )

    /// Creates a sketch sized for `capacity` entries.
    /// - Parameter capacity: the cache's maximum number of entries (or an estimate for weighted caches)
    public init(capacity: Int) {
        let words = Self.ceilingPowerOfTwo(max(16, min(capacity, 1 << 30)))
        table = Array(repeating: 0, count: words)
        tableMask = words - 1
        sampleSize = max(10, 10 * max(1, capacity))
        size = 0
    }

    /// The estimated number of recent occurrences of the key with this hash, 0…15.
    /// - Parameter hash: the key's 64-bit hash
    /// - Returns: the frequency estimate
    /// - Complexity: O(1)
    public func frequency(_ hash: UInt64) -> Int {
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
    public mutating func increment(_ hash: UInt64) {
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

    static func ceilingPowerOfTwo(_ x: Int) -> Int {
        x <= 1 ? 1 : 1 << (Int.bitWidth - (x - 1).leadingZeroBitCount)
    }
}

/// SplitMix64: a small, fast, seedable generator (deterministic runs of `simulate` and tests).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// Creates a generator.
    /// - Parameter seed: the starting state; equal seeds give equal sequences
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

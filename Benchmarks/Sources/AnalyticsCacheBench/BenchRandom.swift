/// xorshift64*: a seedable generator for reproducible benchmark inputs (equal seeds, equal runs).
struct BenchRandom: RandomNumberGenerator {
    private var state: UInt64

    /// - Parameter seed: any value (zero is replaced, as xorshift needs a non-zero state)
    init(seed: UInt64) { state = seed == 0 ? 0x2545_F491_4F6C_DD1D : seed }

    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
}

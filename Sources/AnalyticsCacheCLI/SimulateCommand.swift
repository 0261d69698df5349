import ArgumentParser
import Foundation
import MemoryCache

/// `analytics-cache simulate --capacity N TRACE…`: replays traces through `MemoryCache`.
struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Replay cache traces (one key per line) through MemoryCache (default shard count).",
        discussion: """
            Prints one line per trace: <file> capacity=N hit_ratio=0.xxxxxx. Runs are deterministic.
            With --weights lognormal every key weighs a deterministic log-normal 1 KiB–1 MiB (median
            16 KiB) and the cache is bounded by weight: capacity × the mean weight of the trace's keys.
            """
    )

    /// How keys are weighed.
    enum Weights: String, ExpressibleByArgument {
        case unit, lognormal
    }

    @Option(help: "The cache's capacity in entries.")
    var capacity: Int

    @Option(help: "unit (entry-bounded) or lognormal (byte-weighted, bounded by capacity × mean weight).")
    var weights: Weights = .unit

    @Argument(help: "Trace files, one key per line.")
    var traces: [String]

    func validate() throws {
        guard capacity >= 1 else { throw ValidationError("--capacity must be at least 1") }
        guard !traces.isEmpty else { throw ValidationError("give at least one trace file") }
    }

    func run() throws {
        for path in traces {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("cannot read \(path)")
            }
            let keys = Self.keys(in: data)
            let ratio = weights == .unit ? Self.replay(keys, capacity: capacity) : Self.replayWeighted(keys, capacity: capacity)
            print("\(path) capacity=\(capacity) hit_ratio=\(Self.format(ratio))")
        }
    }

    /// Each line's key: its integer value when it is one, else a 64-bit FNV-1a hash of its bytes.
    static func keys(in data: Data) -> [UInt64] {
        var keys: [UInt64] = []
        keys.reserveCapacity(data.count / 4)
        data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            var number: UInt64 = 0
            var fnv: UInt64 = 0xCBF2_9CE4_8422_2325
            var digitsOnly = true
            var length = 0
            func finish() {
                if length > 0 { keys.append(digitsOnly && length <= 18 ? number : fnv) }
                number = 0
                fnv = 0xCBF2_9CE4_8422_2325
                digitsOnly = true
                length = 0
            }
            for byte in bytes {
                if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
                    finish()
                    continue
                }
                length += 1
                fnv = (fnv ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
                if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                    number = number &* 10 &+ UInt64(byte - UInt8(ascii: "0"))
                } else {
                    digitsOnly = false
                }
            }
            finish()
        }
        return keys
    }

    /// The hit ratio of `keys` through a `MemoryCache` of `capacity` entries: a miss inserts.
    static func replay(_ keys: [UInt64], capacity: Int) -> Double {
        replay(keys, through: MemoryCache<UInt64, Bool>(configuration: .init(
            bound: .entries(capacity), keyHash: { $0 }, name: "simulate", seed: 0x5EED)))
    }

    /// The hit ratio of `keys` through `cache`: a miss inserts.
    static func replay(_ keys: [UInt64], through cache: MemoryCache<UInt64, Bool>) -> Double {
        var hits = 0
        for key in keys {
            if cache.value(forKey: key) != nil {
                hits += 1
            } else {
                cache.insert(true, forKey: key)
            }
        }
        return keys.isEmpty ? 0 : Double(hits) / Double(keys.count)
    }

    /// The hit ratio of `keys` through a byte-weighted cache holding about `capacity` average keys.
    static func replayWeighted(_ keys: [UInt64], capacity: Int) -> Double {
        var seen = Set<UInt64>()
        var total = 0.0
        for key in keys where seen.insert(key).inserted { total += Double(logNormalWeight(key)) }
        let bound = Int(Double(capacity) * total / Double(max(1, seen.count)))
        return replay(keys, through: MemoryCache<UInt64, Bool>(configuration: .init(
            bound: .weight(bound, weigher: { key, _ in logNormalWeight(key) }), keyHash: { $0 }, name: "simulate",
            seed: 0x5EED)))
    }

    /// A key's deterministic weight: log-normal (median 16 KiB, σ 1.5), clamped to 1 KiB…1 MiB.
    static func logNormalWeight(_ key: UInt64) -> Int {
        var random = SplitMix64(seed: key ^ 0xA5A5_5A5A_1234_5678)
        let u1 = max(Double(random.next() >> 11) / Double(1 << 53), 1e-12)
        let u2 = Double(random.next() >> 11) / Double(1 << 53)
        let z = (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
        let w = exp(log(16_384.0) + 1.5 * z)
        return Int(min(max(w, 1_024), Double(1 << 20)))
    }

    static func format(_ ratio: Double) -> String {
        let micros = Int((ratio * 1_000_000).rounded())
        let digits = String(micros % 1_000_000)
        return "\(micros / 1_000_000)." + String(repeating: "0", count: 6 - digits.count) + digits
    }
}

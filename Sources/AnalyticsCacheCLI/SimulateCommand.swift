import ArgumentParser
import Foundation
import MemoryCache

/// `analytics-cache simulate --capacity N TRACE…`: replays traces through `MemoryCache`.
struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Replay cache traces (one key per line) through MemoryCache with unit weights.",
        discussion: "Prints one line per trace: <file> capacity=N hit_ratio=0.xxxxxx. Runs are deterministic."
    )

    @Option(help: "The cache's capacity in entries.")
    var capacity: Int

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
            let ratio = Self.replay(keys, capacity: capacity)
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
        let cache = MemoryCache<UInt64, Bool>(configuration: .init(
            bound: .entries(capacity), keyHash: { $0 }, name: "simulate", seed: 0x5EED))
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

    static func format(_ ratio: Double) -> String {
        let micros = Int((ratio * 1_000_000).rounded())
        let digits = String(micros % 1_000_000)
        return "\(micros / 1_000_000)." + String(repeating: "0", count: 6 - digits.count) + digits
    }
}

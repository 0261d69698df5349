#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The operation sequence of the crash test, shared by the child (which applies it) and the test
/// (which replays it as the model). Operation `i` depends on `i` and the profile alone.
public enum CrashWorkload {
    public enum Operation: Equatable {
        /// `expired`: stored with an expiry time already past (a write of the expiry index whose
        /// entry is never returned).
        case put(key: String, value: [UInt8], tags: [String], expired: Bool)
        case remove(key: String)
        case removeTag(String)
        /// `removeExpired`: the expiry sweep.
        case sweep
    }

    /// Two workloads: `roomy` never evicts (so every committed value must be found again);
    /// `tight` stores five times what its small map holds, with already-expired puts and sweeps,
    /// so kills land inside evictions, page-limit evictions and expiry writes.
    public enum Profile: String, Sendable {
        case roomy, tight

        public var keyCount: Int { self == .roomy ? 48 : 320 }
        /// The LMDB map size the child and the test open the cache with.
        public var mapSize: Int { self == .roomy ? 256 << 20 : 2 << 20 }
        /// Tight: the largest budget the map allows (the map less its eviction headroom of
        /// max(map/8, 64 pages)), so the page limit, not the byte budget, binds first.
        public var byteBudget: Int {
            self == .roomy ? 64 << 20 : mapSize - max(mapSize / 8, 64 * Int(sysconf(Int32(_SC_PAGESIZE))))
        }
    }

    public static let keyCount = Profile.roomy.keyCount

    public static func key(_ i: Int, _ profile: Profile = .roomy) -> String { "key-\(i % profile.keyCount)" }

    public static func operation(_ i: Int, _ profile: Profile = .roomy) -> Operation {
        var state = UInt64(truncatingIfNeeded: i) &* 0x9E37_79B9_7F4A_7C15 &+ (profile == .roomy ? 0x1234_5678 : 0x8765_4321)
        func next() -> UInt64 {
            state ^= state >> 30
            state = state &* 0xBF58_476D_1CE4_E5B9
            state ^= state >> 27
            state = state &* 0x94D0_49BB_1331_11EB
            state ^= state >> 31
            return state
        }
        let kind = next() % 20
        if kind == 0 { return .removeTag("tag-\(next() % 4)") }
        if kind < 3 { return .remove(key: key(Int(next() % UInt64(profile.keyCount)), profile)) }
        if profile == .tight, kind == 3 { return .sweep }
        let k = Int(next() % UInt64(profile.keyCount))
        // Tight: many small values too (page overhead, not bytes, fills a map of small records).
        let length = profile == .tight && kind < 10 ? Int(next() % 300) + 1 : Int(next() % 20_000) + 1
        var value = [UInt8](repeating: 0, count: length)
        var word = next()
        for j in 0..<length {
            if j % 8 == 0 { word = next() }
            value[j] = UInt8(truncatingIfNeeded: word >> UInt64((j % 8) * 8))
        }
        let expired = profile == .tight && kind == 4
        return .put(key: key(k, profile), value: value, tags: ["tag-\(k % 4)", "all"], expired: expired)
    }
}

/// The operation sequence of the crash test, shared by the child (which applies it) and the test
/// (which replays it as the model). Operation `i` depends on `i` alone.
public enum CrashWorkload {
    public enum Operation: Equatable {
        case put(key: String, value: [UInt8], tags: [String])
        case remove(key: String)
        case removeTag(String)
    }

    public static let keyCount = 48

    public static func key(_ i: Int) -> String { "key-\(i % keyCount)" }

    public static func operation(_ i: Int) -> Operation {
        var state = UInt64(truncatingIfNeeded: i) &* 0x9E37_79B9_7F4A_7C15 &+ 0x1234_5678
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
        if kind < 3 { return .remove(key: key(Int(next() % UInt64(keyCount)))) }
        let k = Int(next() % UInt64(keyCount))
        let length = Int(next() % 20_000) + 1
        var value = [UInt8](repeating: 0, count: length)
        var word = next()
        for j in 0..<length {
            if j % 8 == 0 { word = next() }
            value[j] = UInt8(truncatingIfNeeded: word >> UInt64((j % 8) * 8))
        }
        return .put(key: key(k), value: value, tags: ["tag-\(k % 4)", "all"])
    }
}

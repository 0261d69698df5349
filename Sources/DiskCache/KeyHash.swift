/// The 64-bit hash under which an entry is stored in LMDB (whose keys are limited to 511 bytes).
///
/// Stable across processes and versions (FNV-1a over the UTF-8 bytes, then a 64-bit finaliser), as
/// it is stored. Two keys with the same hash share a slot: the full key in the record tells them
/// apart, and the later `put` replaces the earlier entry.
enum KeyHash {
    static func of(_ key: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in key.utf8 {
            h ^= UInt64(byte)
            h = h &* 0x0000_0100_0000_01B3
        }
        h ^= h >> 33
        h = h &* 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 33
        h = h &* 0xC4CE_B9FE_1A85_EC53
        h ^= h >> 33
        return h
    }

    /// The hash as LMDB key bytes, big-endian so index keys that embed it sort by it.
    static func bytes(_ hash: UInt64) -> [UInt8] {
        withUnsafeBytes(of: hash.bigEndian) { Array($0) }
    }

    /// A big-endian time followed by a hash: keys of the expiry and access-order indexes, which
    /// sort by time first. Times are non-negative in practice; the sign bit is flipped so that
    /// negative times would still sort first.
    static func timeKey(_ time: Int64, _ hash: UInt64) -> [UInt8] {
        var bytes = withUnsafeBytes(of: (UInt64(bitPattern: time) ^ (1 << 63)).bigEndian) { Array($0) }
        bytes.append(contentsOf: self.bytes(hash))
        return bytes
    }

    /// The time and hash of a ``timeKey(_:_:)``, or `nil` for a key of another shape.
    static func parseTimeKey(_ key: UnsafeRawBufferPointer) -> (time: Int64, hash: UInt64)? {
        guard key.count == 16 else { return nil }
        let time = UInt64(bigEndian: key.loadUnaligned(fromByteOffset: 0, as: UInt64.self)) ^ (1 << 63)
        let hash = UInt64(bigEndian: key.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        return (Int64(bitPattern: time), hash)
    }

    /// The index key of a tag: its UTF-8, or for a tag too long for LMDB a hash of it.
    static func tagKey(_ tag: String) -> [UInt8] {
        let utf8 = Array(tag.utf8)
        if utf8.count <= 400 && !utf8.isEmpty { return utf8 }
        return Array("#".utf8) + bytes(of(tag))
    }
}

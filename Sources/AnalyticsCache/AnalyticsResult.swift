import Crypto
/// How a result was served.
public enum ServedBy: String, Sendable, Hashable, CaseIterable {
    /// From the in-memory cache.
    case l1
    /// From the disk cache (and promoted to L1).
    case l2
    /// Computed by DuckDB for this request.
    case computed
    /// Joined a computation (or L2 read) another request had started.
    case joined
}

/// A served result: the Arrow IPC stream and what a response needs to describe it.
public struct AnalyticsResult: Sendable {
    /// The result as an Arrow IPC stream (what both cache layers store).
    public var arrow: [UInt8]
    /// How it was served.
    public var servedBy: ServedBy
    /// How long DuckDB took to compute it (when it was computed).
    public var computeTime: Duration
    /// How old it is: time since it was computed.
    public var age: Duration
    /// A strong validator of the content (quoted, for an HTTP `ETag`).
    public var etag: String
    /// True when an invalidation arrived while it was being computed: the request began before the
    /// change and the value was not stored; the layer above may count it, label it or ask again.
    public var superseded: Bool
    /// True when it was not cached (too large, bypassed, or superseded).
    public var uncached: Bool
}

/// What the layers store: the Arrow bytes with their validator and times.
struct CachedResult: Sendable {
    var arrow: [UInt8]
    var etag: String
    /// When it was computed, µs since the Unix epoch.
    var computedAt: Int64
    var computeNanos: Int64
    var origin: ServedBy

    /// The L2 record: computation time (8 bytes, little endian), then the Arrow stream.
    func encodedForDisk() -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(arrow.count + 8)
        withUnsafeBytes(of: computeNanos.littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: arrow)
        return bytes
    }

    /// Reads an L2 record; nil when it is too short to be one.
    static func decoded(fromDisk bytes: [UInt8], storedAt: Int64) -> CachedResult? {
        guard bytes.count >= 8 else { return nil }
        let nanos = bytes.withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(as: Int64.self)) }
        let arrow = Array(bytes[8...])
        return CachedResult(arrow: arrow, etag: etag(of: arrow), computedAt: storedAt, computeNanos: nanos, origin: .l2)
    }

    /// A content hash (quoted): the first 128 bits of the bytes' SHA-256, so the same bytes always
    /// give the same tag and nobody can make two results share one (the server keeps encoded bodies
    /// by it, and a client's `If-None-Match` is answered by it).
    static func etag(of bytes: [UInt8]) -> String {
        "\"" + CacheKey.hex(SHA256.hash(data: bytes).prefix(16)) + "\""
    }
}

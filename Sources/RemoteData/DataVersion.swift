#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Crypto

/// The version of a dataset at one moment: equal versions mean the same data, a new version means
/// the data may have changed. The analytics cache puts ``token`` into the keys of results computed
/// over the dataset, so new data means new keys and an old result is never served for it.
public struct DataVersion: Sendable, Hashable, CustomStringConvertible {
    /// A short, stable text for cache keys, e.g. `snapshot:42` or `etag:3f9a…`.
    public let token: String

    /// Creates a version from its token.
    /// - Parameter token: the text that identifies this version
    public init(token: String) { self.token = token }

    /// A version from a list of parts (file names with their ETags, sizes, …): the hex of the first
    /// 16 bytes of the SHA-256 of the parts in order, each length-prefixed so no two lists collide
    /// by concatenation.
    /// - Parameters:
    ///   - kind: a prefix naming the probe (`http`, `s3`)
    ///   - parts: the parts, in a canonical order
    /// - Returns: `kind:` followed by 32 hex digits
    public static func digest(kind: String, parts: [String]) -> DataVersion {
        var hasher = SHA256()
        for part in parts {
            let bytes = Array(part.utf8)
            var length = UInt64(bytes.count).littleEndian
            withUnsafeBytes(of: &length) { hasher.update(bufferPointer: $0) }
            hasher.update(data: bytes)
        }
        let hex = hasher.finalize().prefix(16).map { byte in
            let digits = Array("0123456789abcdef".utf8)
            return String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 15)]], as: UTF8.self)
        }.joined()
        return DataVersion(token: "\(kind):\(hex)")
    }

    /// The token.
    public var description: String { token }
}

/// Something that can tell a dataset's current ``DataVersion`` cheaply — far cheaper than the
/// queries over the dataset, so it can run before a cached result is served.
public protocol DataVersionProbe: Sendable {
    /// Asks the source for its current version.
    /// - Returns: the version now
    /// - Throws: ``DataVersionError`` when the source cannot be reached or cannot be versioned
    func currentVersion() async throws -> DataVersion
}

/// Why a data version could not be had.
public struct DataVersionError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What failed.
    public enum Kind: String, Sendable, Equatable {
        /// The server could not be reached (refused, reset, DNS, TLS).
        case unreachable
        /// No answer within the probe's timeout.
        case timedOut
        /// The server answered with an error status.
        case httpStatus
        /// The answer carried nothing to version the data by (no `ETag`, no `Last-Modified`).
        case unversionable
        /// The answer could not be read (malformed listing, unexpected content).
        case malformedResponse
        /// The probe's own configuration is wrong (a URL it cannot use).
        case configuration
        /// The query that reads a catalog's version failed.
        case query
    }

    /// What failed.
    public var kind: Kind
    /// What was asked, and what happened.
    public var message: String

    /// Creates an error.
    /// - Parameters:
    ///   - kind: what failed
    ///   - message: the explanation, naming the source
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// `data version <kind>: <message>`.
    public var description: String { "data version \(kind.rawValue): \(message)" }
}

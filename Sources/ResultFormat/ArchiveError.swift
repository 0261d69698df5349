/// Why bytes could not be read as an Arrow IPC stream, or a value could not be read from them.
///
/// Every malformed input ends in this error: reading never traps, never reads outside the bytes it
/// was given, and never loops on lying lengths.
public struct ArchiveError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of problem.
    public enum Kind: Sendable, Equatable {
        /// The bytes end inside a message, a table or a buffer.
        case truncated
        /// The FlatBuffers metadata or the message framing is not what the format allows.
        case malformedMetadata
        /// Valid Arrow, but a feature this reader does not implement (compression, dictionaries,
        /// nested types, big-endian data, other time units).
        case unsupported
        /// Buffer sizes, offsets or counts contradict each other or the row counts.
        case inconsistent
        /// Values that break the type's rules: non-monotonic offsets, invalid UTF-8.
        case invalidData
        /// A typed accessor was asked for a column of another type.
        case typeMismatch
        /// A value cannot be represented in the target form (e.g. an interval beyond ±292 years of
        /// nanoseconds).
        case outOfRange
    }

    /// The kind of problem.
    public var kind: Kind
    /// What is wrong, and where.
    public var message: String

    /// Creates an error.
    /// - Parameters:
    ///   - kind: the kind of problem
    ///   - message: what is wrong, and where
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "Arrow IPC: \(message)" }
}

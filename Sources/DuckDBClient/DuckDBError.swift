/// An error reported by DuckDB or by this package's use of it. ``message`` carries DuckDB's own text.
public struct DuckDBError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What failed.
    public enum Kind: String, Sendable, Equatable {
        /// The database could not be opened or configured.
        case open
        /// A connection could not be made.
        case connect
        /// The SQL did not parse or bind.
        case prepare
        /// A parameter could not be bound.
        case bind
        /// The statement failed while running.
        case execute
        /// The statement was interrupted (cancellation or timeout).
        case interrupted
        /// A result column has a type this package cannot represent yet.
        case unsupportedType
        /// The appender rejected a value, a row or a flush.
        case appender
        /// An extension could not be found or loaded (missing, built for another DuckDB version or
        /// platform, damaged, or unsigned).
        case extensionUnavailable
        /// A statement other than SELECT on a select-only (read-only pool) connection.
        case readOnly
        /// A result passed the configured byte cap.
        case resultTooLarge
    }

    /// What failed.
    public var kind: Kind
    /// DuckDB's message, or ours where DuckDB gave none.
    public var message: String

    /// Creates an error.
    /// - Parameters:
    ///   - kind: what failed
    ///   - message: the explanation
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// `"<kind>: <message>"`.
    public var description: String { "DuckDB \(kind.rawValue) error: \(message)" }
}

/// Errors of ``DuckDBPool`` itself, as opposed to errors of the SQL it runs.
public enum DuckDBPoolError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Every connection was busy and the wait queue already held `queueLimit` requests.
    case overloaded(queueLimit: Int)
    /// The request did not finish within its timeout (it was interrupted or never started).
    case timedOut(Duration)
    /// The pool was shut down before the request ran, or while it ran (it was interrupted).
    case shutDown

    /// A message for logs and HTTP responses.
    public var description: String {
        switch self {
        case .overloaded(let limit): "DuckDB pool overloaded: all connections busy and \(limit) requests already waiting"
        case .timedOut(let d): "DuckDB query timed out after \(d)"
        case .shutDown: "DuckDB pool is shut down"
        }
    }
}

import Foundation

/// The aggregate an event belongs to: its type (e.g. `order`) and id within that type.
public struct AggregateID: Sendable, Hashable, CustomStringConvertible {
    /// The aggregate type, e.g. `order`.
    public var type: String
    /// The aggregate's id within its type.
    public var id: String

    /// Creates an aggregate identity.
    public init(type: String, id: String) {
        self.type = type
        self.id = id
    }

    public var description: String { "\(type)/\(id)" }
}

/// An event to append: its type and JSON payload and metadata.
public struct NewEvent: Sendable, Equatable {
    /// The event type, e.g. `OrderPlaced`.
    public var type: String
    /// The payload: UTF-8 JSON text (validated on append).
    public var payload: String
    /// Metadata: UTF-8 JSON text (validated on append; `{}` when there is none).
    public var metadata: String

    /// Creates an event.
    /// - Parameters:
    ///   - type: the event type
    ///   - payload: JSON text
    ///   - metadata: JSON text (default `{}`)
    public init(type: String, payload: String, metadata: String = "{}") {
        self.type = type
        self.payload = payload
        self.metadata = metadata
    }
}

/// An event as committed to the log.
public struct RecordedEvent: Sendable, Equatable {
    /// Its global position: strictly increasing from 1, without gaps among committed events.
    public var position: Int64
    /// The aggregate it belongs to.
    public var aggregate: AggregateID
    /// Its version within the aggregate: 1 for the aggregate's first event, then +1 per event.
    public var version: Int64
    /// The event type.
    public var type: String
    /// The payload (JSON text).
    public var payload: String
    /// The metadata (JSON text).
    public var metadata: String
    /// When it was committed, in microseconds since the Unix epoch.
    public var recordedAt: Int64

    /// Creates a recorded event (stores create them; tests and other implementations may too).
    public init(position: Int64, aggregate: AggregateID, version: Int64, type: String, payload: String, metadata: String, recordedAt: Int64) {
        self.position = position
        self.aggregate = aggregate
        self.version = version
        self.type = type
        self.payload = payload
        self.metadata = metadata
        self.recordedAt = recordedAt
    }
}

/// What an append expects the aggregate's current version to be (optimistic concurrency).
public enum ExpectedVersion: Sendable, Equatable {
    /// Append whatever the current version.
    case any
    /// The aggregate must have no events yet.
    case noStream
    /// The aggregate's last event must have exactly this version (≥ 1).
    case exact(Int64)
}

/// Why an append or read failed. Nothing is written when an append fails.
public struct EventStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure.
    public enum Kind: Sendable, Equatable {
        /// The aggregate's version is not the expected one.
        case versionConflict(expected: ExpectedVersion, actual: Int64)
        /// A payload or metadata is not valid JSON.
        case invalidJSON
        /// A payload or metadata is larger than the configured limit.
        case tooLarge
        /// The input cannot be used (an empty append, `.exact` below 1, an empty type).
        case invalidArgument
        /// Another connection (or process) held the log's write lock longer than the busy timeout;
        /// nothing was written, and the append may be retried.
        case busy
        /// The log contradicts its guarantees (a gap in positions), or a reader's position is ahead
        /// of the log (e.g. a checkpoint kept from another log file).
        case inconsistentLog
        /// The log's server could not be reached (a networked log); nothing was written, and the
        /// call may be retried.
        case unavailable
        /// The connection failed while an append committed: it may or may not have been written.
        /// Read the aggregate (or retry with `.exact` expected version) before appending again.
        case unknownOutcome
    }

    /// The kind of failure.
    public var kind: Kind
    /// A message naming what was wrong.
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// The operations every event log offers (SQLite for one node, PostgreSQL for several), with the
/// same guarantees: appends are atomic and ordered by a gap-free global position; subscribers see
/// every committed event after their start position exactly once, in order.
public protocol EventLog: Sendable {
    /// Appends events to one aggregate, atomically.
    /// - Parameters:
    ///   - events: at least one event
    ///   - aggregate: the aggregate they belong to
    ///   - expectedVersion: the aggregate's version the caller based them on
    /// - Returns: the recorded events, with their positions and versions
    /// - Throws: ``EventStoreError`` (conflict, invalid JSON, too large); nothing is written then
    func append(_ events: [NewEvent], to aggregate: AggregateID, expectedVersion: ExpectedVersion) async throws -> [RecordedEvent]

    /// Events from `position` (inclusive) in position order, at most `limit` of them.
    func read(from position: Int64, limit: Int) async throws -> [RecordedEvent]

    /// All events of one aggregate, in version order.
    func read(aggregate: AggregateID) async throws -> [RecordedEvent]

    /// The position of the last committed event (0 when the log is empty).
    func lastPosition() async throws -> Int64

    /// The log's identity: an id drawn at random when the log was created, kept by copies and
    /// backups of it. A projection records it with its checkpoint and refuses to apply another
    /// log's events as if they continued the ones it applied.
    func identity() async throws -> String

    /// Committed events from `position` (inclusive) on: the log up to now, then new events as they
    /// commit, in order, each once.
    /// - Parameters:
    ///   - position: the first position delivered
    ///   - batchSize: the most events read and held at once (`nil`: the store's default)
    func subscribe(from position: Int64, batchSize: Int?) -> EventSubscription
}

extension EventLog {
    /// Committed events from `position` (inclusive) on, read in the store's default batch size.
    public func subscribe(from position: Int64) -> EventSubscription {
        subscribe(from: position, batchSize: nil)
    }
}

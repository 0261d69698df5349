import EventLogCore

/// A change to served results, pushed to dashboards (separate from domain events): which query
/// and request, why, the log position that caused it, and the new result when it was refreshed.
public struct AnalyticsUpdate: Sendable {
    /// Why results changed.
    public enum Reason: String, Sendable, Hashable {
        /// Events invalidated them (``AnalyticsUpdate/eventTypes``, ``AnalyticsUpdate/aggregates``).
        case events
        /// A hot result was recomputed after an invalidation (``AnalyticsUpdate/result`` holds it).
        case refreshed
        /// Removed by hand.
        case manual
        /// The data outside the log changed (a new data version).
        case dataVersion
    }

    /// The query's id.
    public var query: String
    /// The request's key (nil: every result of the query).
    public var key: String?
    /// The request's canonical parameters, when one request is meant.
    public var parameters: [ParameterValue]?
    /// The tenant or user of a scoped request.
    public var scope: String?
    /// Why.
    public var reason: Reason
    /// The last log position the change covers (events and refreshes).
    public var position: Int64?
    /// The event types behind it (reason `.events`).
    public var eventTypes: Set<String>
    /// The aggregates behind it (reason `.events`).
    public var aggregates: Set<AggregateID>
    /// The new result (reason `.refreshed`).
    public var result: AnalyticsResult?
}

/// What a bus subscriber receives.
public enum BusMessage: Sendable {
    /// A change.
    case update(AnalyticsUpdate)
    /// This many updates were dropped because the subscriber fell behind its buffer: it must
    /// resync (fetch what it shows again). Updates after the marker are complete again.
    case lagged(Int)
}

/// Which updates a subscriber wants.
public struct BusFilter: Sendable {
    /// Only these queries (nil: all).
    public var queries: Set<String>?
    /// Only this request's key (nil: any).
    public var key: String?
    /// Only this tenant or user (nil: any).
    public var scope: String?

    /// - Parameters:
    ///   - queries: query ids (nil: all)
    ///   - key: one request's key (nil: any)
    ///   - scope: a tenant or user (nil: any)
    public init(queries: Set<String>? = nil, key: String? = nil, scope: String? = nil) {
        self.queries = queries
        self.key = key
        self.scope = scope
    }

    /// Whether the update concerns this subscriber (an update for every result of a query
    /// concerns every key of it).
    public func matches(_ update: AnalyticsUpdate) -> Bool {
        if let queries, !queries.contains(update.query) { return false }
        if let key, let updateKey = update.key, updateKey != key { return false }
        if let scope, let updateScope = update.scope, updateScope != scope { return false }
        return true
    }
}

/// One subscriber's bounded queue, as a pure state machine: pushing never blocks and never grows
/// it past its capacity plus one lag marker; on overflow the queued updates are replaced by one
/// ``BusMessage/lagged(_:)`` marker counting them, followed by the new update.
struct BusBuffer {
    let capacity: Int
    private(set) var messages: [BusMessage] = []
    private var head = 0

    init(capacity: Int) { self.capacity = max(1, capacity) }

    var isEmpty: Bool { head == messages.count }
    var count: Int { messages.count - head }

    mutating func push(_ update: AnalyticsUpdate) {
        if count >= capacity {
            var dropped = 0
            for message in messages[head...] {
                switch message {
                case .update: dropped += 1
                case .lagged(let n): dropped += n
                }
            }
            messages = [.lagged(dropped)]
            head = 0
        }
        messages.append(.update(update))
    }

    mutating func pop() -> BusMessage? {
        guard head < messages.count else { return nil }
        let message = messages[head]
        head += 1
        if head > 64, head * 2 > messages.count {
            messages.removeFirst(head)
            head = 0
        }
        return message
    }
}

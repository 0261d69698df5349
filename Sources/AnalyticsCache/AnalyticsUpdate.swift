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
    /// Its place in the bus's order (1, 2, …, per bus; 0 until published): what a subscriber
    /// that reconnects resumes after (``AnalyticsBus/subscribe(filter:capacity:after:)``).
    public var sequence: UInt64 = 0

    /// An update (the bus numbers it when it is published).
    /// - Parameters:
    ///   - query: the query's id
    ///   - key: the request's key, nil for every result of the query
    ///   - parameters: the request's canonical parameters
    ///   - scope: the tenant or user
    ///   - reason: why
    ///   - position: the log position it covers
    ///   - eventTypes: the event types behind it
    ///   - aggregates: the aggregates behind it
    ///   - result: the new result, when refreshed
    public init(
        query: String, key: String?, parameters: [ParameterValue]?, scope: String?, reason: Reason, position: Int64?,
        eventTypes: Set<String>, aggregates: Set<AggregateID>, result: AnalyticsResult?
    ) {
        self.query = query
        self.key = key
        self.parameters = parameters
        self.scope = scope
        self.reason = reason
        self.position = position
        self.eventTypes = eventTypes
        self.aggregates = aggregates
        self.result = result
    }
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
    /// Only these requests' keys (nil: any).
    public var keys: Set<String>?
    /// Only this tenant or user (nil: any).
    public var scope: String?

    /// - Parameters:
    ///   - queries: query ids (nil: all)
    ///   - key: one request's key (nil: any)
    ///   - keys: several requests' keys (nil: any)
    ///   - scope: a tenant or user (nil: any)
    public init(queries: Set<String>? = nil, key: String? = nil, keys: Set<String>? = nil, scope: String? = nil) {
        self.queries = queries
        self.key = key
        self.keys = keys
        self.scope = scope
    }

    /// Whether it names requests by key (a subscriber watching keys keeps them refreshed).
    var watchesKeys: Bool { key != nil || keys != nil }

    /// Whether the update concerns this subscriber (an update for every result of a query
    /// concerns every key of it).
    public func matches(_ update: AnalyticsUpdate) -> Bool {
        if let queries, !queries.contains(update.query) { return false }
        if let key, let updateKey = update.key, updateKey != key { return false }
        if let keys, let updateKey = update.key, !keys.contains(updateKey) { return false }
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

    /// Puts a lag marker first (a resuming subscriber whose missed updates are gone).
    mutating func pushLag(_ count: Int) {
        messages.append(.lagged(count))
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

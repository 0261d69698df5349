import Synchronization

/// Broadcasts ``AnalyticsUpdate``s to any number of subscribers, each with its own bounded buffer:
/// a slow subscriber gets a ``BusMessage/lagged(_:)`` marker, never blocks the publisher or the
/// other subscribers, and never holds more than its capacity plus that marker.
public final class AnalyticsBus: Sendable {
    private struct State {
        var subscribers: [UInt64: BusSubscription] = [:]
        var nextID: UInt64 = 0
        var finished = false
    }

    private let state = Mutex(State())

    /// Creates a bus.
    public init() {}

    /// A new subscription to updates published from now on.
    /// - Parameters:
    ///   - filter: which updates (default: all)
    ///   - capacity: the most updates held for this subscriber (default 256)
    /// - Returns: the subscription (an async sequence; it ends when the task iterating it is
    ///   cancelled, when it is cancelled, or when the bus finishes)
    public func subscribe(filter: BusFilter = BusFilter(), capacity: Int = 256) -> BusSubscription {
        let subscription = BusSubscription(filter: filter, capacity: capacity)
        let finished = state.withLock { state -> Bool in
            guard !state.finished else { return true }
            state.nextID &+= 1
            subscription.id = state.nextID
            state.subscribers[state.nextID] = subscription
            return false
        }
        subscription.onCancel = { [weak self] id in _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) } }
        if finished { subscription.finish() }
        return subscription
    }

    /// Subscribers now (for metrics and tests).
    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// Gives `update` to every subscriber whose filter matches; never waits.
    public func publish(_ update: AnalyticsUpdate) {
        let subscribers = state.withLock { Array($0.subscribers.values) }
        for subscriber in subscribers where subscriber.filter.matches(update) { subscriber.push(update) }
    }

    /// Whether a live subscriber watches this request's results (a refresh keeps them warm).
    func isWatched(query: String, key: String, scope: String?) -> Bool {
        let probe = AnalyticsUpdate(query: query, key: key, parameters: nil, scope: scope, reason: .events, position: nil,
                                    eventTypes: [], aggregates: [], result: nil)
        return state.withLock { state in state.subscribers.values.contains { $0.filter.key != nil && $0.filter.matches(probe) } }
    }

    /// Ends every subscription (the cache is shutting down).
    public func finish() {
        let subscribers = state.withLock { state -> [BusSubscription] in
            state.finished = true
            defer { state.subscribers.removeAll() }
            return Array(state.subscribers.values)
        }
        for subscriber in subscribers { subscriber.finish() }
    }
}

/// One bus subscriber: an async sequence of ``BusMessage``s. Iterate it from one task.
public final class BusSubscription: AsyncSequence, Sendable {
    public typealias Element = BusMessage

    private struct State {
        var buffer: BusBuffer
        var waiter: CheckedContinuation<BusMessage?, Never>?
        var finished = false
        var id: UInt64 = 0
        var onCancel: (@Sendable (UInt64) -> Void)?
    }

    let filter: BusFilter
    private let state: Mutex<State>

    init(filter: BusFilter, capacity: Int) {
        self.filter = filter
        state = Mutex(State(buffer: BusBuffer(capacity: capacity)))
    }

    var id: UInt64 {
        get { state.withLock { $0.id } }
        set { state.withLock { $0.id = newValue } }
    }

    var onCancel: (@Sendable (UInt64) -> Void)? {
        get { state.withLock { $0.onCancel } }
        set { state.withLock { $0.onCancel = newValue } }
    }

    func push(_ update: AnalyticsUpdate) {
        let waiter = state.withLock { state -> CheckedContinuation<BusMessage?, Never>? in
            guard !state.finished else { return nil }
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.buffer.push(update)
            return nil
        }
        waiter?.resume(returning: .update(update))
    }

    func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<BusMessage?, Never>? in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// Stops the subscription: the iteration ends, and the bus forgets it.
    public func cancel() {
        let (id, onCancel) = state.withLock { ($0.id, $0.onCancel) }
        finish()
        onCancel?(id)
    }

    /// The next message: a buffered one, or the next published; nil once finished or cancelled.
    public func next() async -> BusMessage? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<BusMessage?, Never>) in
                enum Now { case message(BusMessage?), wait }
                let now = state.withLock { state -> Now in
                    if let message = state.buffer.pop() { return .message(message) }
                    if state.finished || Task.isCancelled { return .message(nil) }
                    state.waiter = continuation
                    return .wait
                }
                if case .message(let message) = now { continuation.resume(returning: message) }
            }
        } onCancel: {
            cancel()
        }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let subscription: BusSubscription
        public mutating func next() async -> BusMessage? { await subscription.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(subscription: self) }
}

import Synchronization

/// Broadcasts ``AnalyticsUpdate``s to any number of subscribers, each with its own bounded buffer:
/// a slow subscriber gets a ``BusMessage/lagged(_:)`` marker, never blocks the publisher or the
/// other subscribers, and never holds more than its capacity plus that marker.
///
/// Updates are numbered in publication order (``AnalyticsUpdate/sequence``), and the bus keeps the
/// last ``historyLimit`` of them, so a subscriber that reconnects (an SSE client sending
/// `Last-Event-ID`) is given what it missed — or, when that is no longer held, a lag marker that
/// tells it to resync. Sequences start again in every process: ``epoch`` tells them apart.
public final class AnalyticsBus: Sendable {
    private struct State {
        var subscribers: [UInt64: BusSubscription] = [:]
        var nextID: UInt64 = 0
        var finished = false
        var sequence: UInt64 = 0
        var history: [AnalyticsUpdate] = []
        var historyHead = 0
    }

    private let state = Mutex(State())
    /// How many published updates are kept for subscribers that resume.
    public let historyLimit: Int
    /// This bus's identity (random): sequences of another bus (another process) mean nothing here.
    public let epoch: String

    /// Creates a bus.
    /// - Parameter historyLimit: how many published updates are kept for resuming subscribers
    ///   (default 1 024; 0 keeps none)
    public init(historyLimit: Int = 1024) {
        self.historyLimit = max(0, historyLimit)
        epoch = String(UInt64.random(in: 1 ... .max), radix: 36)
    }

    /// The sequence of the last update published (0 before the first).
    public var lastSequence: UInt64 { state.withLock { $0.sequence } }

    /// A new subscription to updates published from now on — or, with `after`, from just after
    /// that sequence: the held updates published since then come first (those the filter
    /// matches); when some of them are no longer held (or `after` is not of this bus's past), a
    /// ``BusMessage/lagged(_:)`` marker comes first instead and the subscriber must resync.
    /// - Parameters:
    ///   - filter: which updates (default: all)
    ///   - capacity: the most updates held for this subscriber (default 256)
    ///   - after: the last sequence the subscriber saw (nil: none, start now)
    /// - Returns: the subscription (an async sequence; it ends when the task iterating it is
    ///   cancelled, when it is cancelled, or when the bus finishes)
    public func subscribe(filter: BusFilter = BusFilter(), capacity: Int = 256, after: UInt64? = nil) -> BusSubscription {
        let subscription = BusSubscription(filter: filter, capacity: capacity)
        let finished = state.withLock { state -> Bool in
            guard !state.finished else { return true }
            state.nextID &+= 1
            subscription.id = state.nextID
            state.subscribers[state.nextID] = subscription
            if let after, after != state.sequence {
                let held = state.history[state.historyHead...]
                if after < state.sequence, let oldest = held.first?.sequence, oldest <= after + 1 {
                    for update in held where update.sequence > after && filter.matches(update) { subscription.push(update) }
                } else {
                    subscription.pushLag(after < state.sequence ? Int(state.sequence - after) : 1)
                }
            }
            return false
        }
        subscription.onCancel = { [weak self] id in _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) } }
        if finished { subscription.finish() }
        return subscription
    }

    /// Subscribers now (for metrics and tests).
    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// Numbers `update`, keeps it for resuming subscribers and gives it to every subscriber whose
    /// filter matches, in publication order; never waits for a subscriber.
    /// - Complexity: O(subscribers)
    public func publish(_ update: AnalyticsUpdate) {
        var update = update
        state.withLock { state in
            state.sequence += 1
            update.sequence = state.sequence
            if historyLimit > 0 {
                state.history.append(update)
                if state.history.count - state.historyHead > historyLimit { state.historyHead += 1 }
                if state.historyHead > 64, state.historyHead * 2 > state.history.count {
                    state.history.removeFirst(state.historyHead)
                    state.historyHead = 0
                }
            }
            // Under the lock: every subscriber sees updates in sequence order.
            for subscriber in state.subscribers.values where subscriber.filter.matches(update) { subscriber.push(update) }
        }
    }

    /// Whether a live subscriber watches this request's results (a refresh keeps them warm).
    func isWatched(query: String, key: String, scope: String?) -> Bool {
        let probe = AnalyticsUpdate(query: query, key: key, parameters: nil, scope: scope, reason: .events, position: nil,
                                    eventTypes: [], aggregates: [], result: nil)
        return state.withLock { state in state.subscribers.values.contains { $0.filter.watchesKeys && $0.filter.matches(probe) } }
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

/// What ``BusSubscription/nextEvent()`` returns.
public enum BusEvent: Sendable {
    /// A message from the bus.
    case message(BusMessage)
    /// ``BusSubscription/interrupt()`` was called.
    case interrupted
    /// The subscription ended.
    case finished
}

/// One bus subscriber: an async sequence of ``BusMessage``s. Iterate it from one task.
public final class BusSubscription: AsyncSequence, Sendable {
    public typealias Element = BusMessage

    private struct State {
        var buffer: BusBuffer
        var waiter: CheckedContinuation<BusMessage?, Never>?
        var eventWaiter: CheckedContinuation<BusEvent, Never>?
        var interrupted = false
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
        let (waiter, eventWaiter) = state.withLock { state -> (CheckedContinuation<BusMessage?, Never>?, CheckedContinuation<BusEvent, Never>?) in
            guard !state.finished else { return (nil, nil) }
            if let waiter = state.waiter {
                state.waiter = nil
                return (waiter, nil)
            }
            if let eventWaiter = state.eventWaiter {
                state.eventWaiter = nil
                return (nil, eventWaiter)
            }
            state.buffer.push(update)
            return (nil, nil)
        }
        waiter?.resume(returning: .update(update))
        eventWaiter?.resume(returning: .message(.update(update)))
    }

    func pushLag(_ count: Int) {
        state.withLock { $0.buffer.pushLag(count) }
    }

    func finish() {
        let (waiter, eventWaiter) = state.withLock { state -> (CheckedContinuation<BusMessage?, Never>?, CheckedContinuation<BusEvent, Never>?) in
            state.finished = true
            defer {
                state.waiter = nil
                state.eventWaiter = nil
            }
            return (state.waiter, state.eventWaiter)
        }
        waiter?.resume(returning: nil)
        eventWaiter?.resume(returning: .finished)
    }

    /// Wakes the task waiting in ``nextEvent()`` with ``BusEvent/interrupted`` (or, when none
    /// waits, makes the next call return it at once): how a server interleaves heartbeats with
    /// updates on one stream without a second reader.
    public func interrupt() {
        let eventWaiter = state.withLock { state -> CheckedContinuation<BusEvent, Never>? in
            guard !state.finished else { return nil }
            guard let waiter = state.eventWaiter else {
                state.interrupted = true
                return nil
            }
            state.eventWaiter = nil
            return waiter
        }
        eventWaiter?.resume(returning: .interrupted)
    }

    /// The next message, or ``BusEvent/interrupted`` when ``interrupt()`` was called meanwhile,
    /// or ``BusEvent/finished``. Buffered messages come before an interruption.
    public func nextEvent() async -> BusEvent {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<BusEvent, Never>) in
                let now = state.withLock { state -> BusEvent? in
                    if let message = state.buffer.pop() { return .message(message) }
                    if state.finished || Task.isCancelled { return .finished }
                    if state.interrupted {
                        state.interrupted = false
                        return .interrupted
                    }
                    state.eventWaiter = continuation
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            cancel()
        }
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

/// Committed events from a start position on, in order, each once: the log up to now, then new
/// events as they commit.
///
/// It reads the log in batches of at most ``batchSize`` events and holds only the current batch,
/// so a slow consumer costs no memory and misses nothing: it simply reads further back in the log
/// than a fast one. When it has caught up it waits on the store's ``ChangeSignal``. Iteration ends
/// (returns `nil`) when the task is cancelled; read errors are thrown.
public struct EventSubscription: AsyncSequence, Sendable {
    public typealias Element = RecordedEvent

    let start: Int64
    let batchSize: Int
    let signal: ChangeSignal
    let read: @Sendable (_ from: Int64, _ limit: Int) async throws -> [RecordedEvent]

    /// Creates a subscription over any log.
    /// - Parameters:
    ///   - start: the first position to deliver (1 for the whole log)
    ///   - batchSize: the most events read (and held) at once
    ///   - signal: what wakes it when it has caught up
    ///   - read: reads events from a position, at most `limit` of them, in position order
    public init(
        from start: Int64, batchSize: Int = 512, signal: ChangeSignal,
        read: @escaping @Sendable (_ from: Int64, _ limit: Int) async throws -> [RecordedEvent]
    ) {
        self.start = Swift.max(1, start)
        self.batchSize = Swift.max(1, batchSize)
        self.signal = signal
        self.read = read
    }

    /// The most events held at once.
    public var bufferLimit: Int { batchSize }

    public func makeAsyncIterator() -> Iterator {
        Iterator(subscription: self, next: start)
    }

    /// Reads batches; see ``EventSubscription``.
    public struct Iterator: AsyncIteratorProtocol {
        let subscription: EventSubscription
        /// The position of the next event to deliver.
        var next: Int64
        var buffer: [RecordedEvent] = []
        var index = 0

        /// The next event, waiting for one to commit if necessary; `nil` once the task is cancelled.
        public mutating func next() async throws -> RecordedEvent? {
            guard let batch = try await nextBatch(maxCount: 1) else { return nil }
            return batch.first
        }

        /// The next events available now (at least one, at most `maxCount`), waiting for one to
        /// commit if none is; `nil` once the task is cancelled.
        public mutating func nextBatch(maxCount: Int) async throws -> [RecordedEvent]? {
            while true {
                if Task.isCancelled { return nil }
                if index < buffer.count {
                    let end = Swift.min(buffer.count, index + Swift.max(1, maxCount))
                    let batch = Array(buffer[index..<end])
                    index = end
                    return batch
                }
                // The generation is read before the log, so a commit in between wakes the wait.
                let seen = subscription.signal.generation
                let events: [RecordedEvent]
                do {
                    events = try await subscription.read(next, subscription.batchSize)
                } catch is CancellationError where Task.isCancelled {
                    return nil  // the documented end of iteration, whichever layer noticed first
                }
                if events.isEmpty {
                    await subscription.signal.wait(after: seen)
                    continue
                }
                // The log must continue exactly where this subscription stands.
                guard events.first?.position == next else {
                    throw EventStoreError(.inconsistentLog, "log read from \(next) returned position \(events.first?.position ?? 0)")
                }
                buffer = events
                index = 0
                next = events[events.count - 1].position + 1
            }
        }
    }
}

import EventLogCore
import Synchronization

/// Delivers each ``ProjectedBatch`` to every subscriber, each with its own bounded buffer. A
/// subscriber that falls its whole buffer behind gets the batches buffered so far and then
/// ``ProjectedBatchesMissed``: never a silent gap.
final class CommitFeed: Sendable {
    typealias Stream = AsyncThrowingStream<ProjectedBatch, any Error>

    private struct Subscriber {
        let continuation: Stream.Continuation
        /// The last position of the last batch given to its buffer.
        var delivered: Int64
    }

    private struct State {
        var subscribers: [UInt64: Subscriber] = [:]
        var nextID: UInt64 = 0
        /// The checkpoint as of the last publish.
        var checkpoint: Int64 = 0
        /// Set once the projector stopped (until it starts again): how new subscriptions end.
        var finished: Result<Void, any Error>?
    }

    private let state = Mutex(State())

    /// A new subscription to batches published from now on.
    func subscribe(bufferLimit: Int) -> Stream {
        let (stream, continuation) = Stream.makeStream(bufferingPolicy: .bufferingOldest(max(1, bufferLimit)))
        let registered = state.withLock { state -> (UInt64?, Result<Void, any Error>?) in
            if let finished = state.finished { return (nil, finished) }
            state.nextID &+= 1
            state.subscribers[state.nextID] = Subscriber(continuation: continuation, delivered: state.checkpoint)
            return (state.nextID, nil)
        }
        guard let id = registered.0 else {
            // The projector is not running: the sequence ends at once, as the others did.
            if case .failure(let error) = registered.1 { continuation.finish(throwing: error) } else { continuation.finish() }
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    /// The last position published (or the checkpoint the projector started from).
    var lastPublished: Int64 { state.withLock { $0.checkpoint } }

    /// Records the checkpoint the projector starts from (what new subscribers count from).
    func start(at checkpoint: Int64) {
        state.withLock {
            // Never back: a catchUp() starting while run() applies reads an older checkpoint.
            $0.checkpoint = max($0.checkpoint, checkpoint)
            $0.finished = nil
        }
    }

    /// Gives `batch` to every subscriber (called by the projector's one apply loop, in order).
    func publish(_ batch: ProjectedBatch) {
        let subscribers = state.withLock { state -> [(UInt64, Subscriber)] in
            state.checkpoint = batch.positions.upperBound
            return Array(state.subscribers)
        }
        // Outside the lock: finishing a stream runs its termination handler, which takes it.
        for (id, subscriber) in subscribers {
            if case .dropped = subscriber.continuation.yield(batch) {
                subscriber.continuation.finish(throwing: ProjectedBatchesMissed(after: subscriber.delivered))
            } else {
                state.withLock { $0.subscribers[id]?.delivered = batch.positions.upperBound }
            }
        }
    }

    /// Ends every subscription (the projector stopped), with `error` or normally.
    func finish(throwing error: (any Error)?) {
        let subscribers = state.withLock { state -> [Subscriber] in
            state.finished = error.map { .failure($0) } ?? .success(())
            defer { state.subscribers.removeAll() }
            return Array(state.subscribers.values)
        }
        for subscriber in subscribers { subscriber.continuation.finish(throwing: error) }
    }
}

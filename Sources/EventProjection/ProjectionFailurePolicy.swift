import EventLogCore

/// What the projector does when applying events fails.
///
/// A failing batch is retried with exponential backoff (transient failures: I/O, a full disk
/// freed meanwhile, a lock). If it still fails, its events are applied one per transaction, so
/// every event before the failing one is applied and the failing one is retried alone. An event
/// that still fails is deterministic: ``onBadEvent`` decides.
public struct ProjectionFailurePolicy: Sendable {
    /// What to do with an event that fails on every attempt.
    public enum OnBadEvent: Sendable, Equatable {
        /// Stop the projector with ``ProjectionFailure`` (the service group stops with it): the
        /// projection never goes on without an event. Every restart retries it.
        case stop
        /// Record the event and its error in the table `projection_failures` (projector,
        /// position, event type, aggregate, error, time), advance the checkpoint past it in the
        /// same transaction, count it in `projector_skipped_events_total`, log an error, and go on.
        case skip
    }

    /// What to do with an event that fails on every attempt.
    public var onBadEvent: OnBadEvent
    /// Attempts after the first, for a batch and again for an event alone.
    public var retries: Int
    /// The wait before the first retry; doubled for each further one.
    public var initialBackoff: Duration
    /// The longest wait between attempts.
    public var maxBackoff: Duration

    /// Creates a policy.
    /// - Parameters:
    ///   - onBadEvent: default `.stop`
    ///   - retries: default 4
    ///   - initialBackoff: default 100 ms
    ///   - maxBackoff: default 5 s
    public init(onBadEvent: OnBadEvent = .stop, retries: Int = 4, initialBackoff: Duration = .milliseconds(100), maxBackoff: Duration = .seconds(5)) {
        self.onBadEvent = onBadEvent
        self.retries = max(0, retries)
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
    }

    /// The wait before retry number `attempt` (1 for the first).
    func backoff(_ attempt: Int) -> Duration {
        var wait = initialBackoff
        for _ in 1..<max(1, attempt) where wait < maxBackoff { wait = wait * 2 }
        return min(wait, maxBackoff)
    }
}

/// The projector stopped on an event that failed on every attempt (policy `.stop`).
public struct ProjectionFailure: Error, Sendable, CustomStringConvertible {
    /// The event's position.
    public var position: Int64
    /// Its type.
    public var eventType: String
    /// Its aggregate.
    public var aggregate: AggregateID
    /// What the last attempt threw.
    public var underlying: any Error

    public var description: String {
        "projecting event \(position) (\(eventType), \(aggregate)) failed on every attempt: \(underlying)"
    }
}

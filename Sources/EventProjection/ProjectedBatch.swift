import EventLogCore

/// What one committed projector transaction applied: published after the commit, so a consumer
/// that sees it can rely on DuckDB reflecting these events (and every earlier one).
public struct ProjectedBatch: Sendable, Equatable {
    /// The log positions the transaction covered (its checkpoint is the upper bound).
    public var positions: ClosedRange<Int64>
    /// The event types among them.
    public var eventTypes: Set<String>
    /// The aggregates they belong to.
    public var aggregates: Set<AggregateID>
    /// The range of their event times (µs since the Unix epoch): the projector's `eventTime` of
    /// each event, by default when it was recorded.
    public var eventTimes: ClosedRange<Int64>
    /// Positions in the range that were not applied but recorded in `projection_failures` and
    /// skipped (the `.skip` policy); empty almost always.
    public var skipped: [Int64]

    /// Summarises applied events.
    /// - Parameters:
    ///   - events: the batch, in log order (at least one)
    ///   - eventTime: an event's time
    ///   - skipped: positions skipped rather than applied
    public init(events: [RecordedEvent], eventTime: (RecordedEvent) -> Int64, skipped: [Int64] = []) {
        precondition(!events.isEmpty, "a projected batch holds at least one event")
        positions = events[0].position...events[events.count - 1].position
        eventTypes = Set(events.map(\.type))
        aggregates = Set(events.map(\.aggregate))
        let times = events.map(eventTime)
        eventTimes = (times.min() ?? 0)...(times.max() ?? 0)
        self.skipped = skipped
    }
}

/// Thrown by a ``Projector/commits(bufferLimit:)`` sequence whose consumer fell more than its
/// buffer behind: batches after ``after`` were not delivered to it. A cache treats it as "anything
/// may have changed after that position" (invalidate broadly) and subscribes again.
public struct ProjectedBatchesMissed: Error, Sendable, Equatable, CustomStringConvertible {
    /// The last position whose batch was delivered (or the checkpoint when the subscription began).
    public var after: Int64

    public var description: String { "projected batches after position \(after) were dropped: the consumer fell behind its buffer" }
}

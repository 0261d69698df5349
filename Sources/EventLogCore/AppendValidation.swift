/// The checks every log makes before an append touches storage, so that every backend accepts and
/// refuses the same appends.
public enum AppendValidation {
    /// The longest event type, aggregate type or aggregate id, in UTF-8 bytes.
    public static let maxIdentifierBytes = 1024

    /// Checks an append's arguments.
    /// - Parameters:
    ///   - events: the events (at least one, each with a type, JSON payload and metadata)
    ///   - aggregate: their aggregate (type and id not empty)
    ///   - expected: the expected version (`.exact` at least 1)
    ///   - maxPayloadBytes: the largest payload or metadata, in UTF-8 bytes
    /// - Throws: ``EventStoreError`` with `.invalidArgument`, `.tooLarge` or `.invalidJSON`
    /// - Complexity: O(total payload bytes), without allocating per byte
    public static func check(
        _ events: [NewEvent], to aggregate: AggregateID, expectedVersion expected: ExpectedVersion, maxPayloadBytes: Int
    ) throws {
        guard !events.isEmpty else { throw EventStoreError(.invalidArgument, "an append needs at least one event") }
        guard !aggregate.type.isEmpty, !aggregate.id.isEmpty else {
            throw EventStoreError(.invalidArgument, "the aggregate type and id must not be empty")
        }
        for (what, text) in [("aggregate type", aggregate.type), ("aggregate id", aggregate.id)] where text.utf8.count > maxIdentifierBytes {
            throw EventStoreError(.tooLarge, "the \(what) is \(text.utf8.count) bytes, more than \(maxIdentifierBytes)")
        }
        // PostgreSQL's text cannot hold NUL: no log accepts it in an identifier (JSON escapes it).
        for text in [aggregate.type, aggregate.id] + events.map(\.type) where text.utf8.contains(0) {
            throw EventStoreError(.invalidArgument, "aggregate types and ids and event types cannot contain NUL characters")
        }
        if case .exact(let n) = expected, n < 1 {
            throw EventStoreError(.invalidArgument, "expected version \(n) is not a version (versions start at 1; use .noStream)")
        }
        for (i, event) in events.enumerated() {
            guard !event.type.isEmpty else { throw EventStoreError(.invalidArgument, "event \(i) has no type") }
            guard event.type.utf8.count <= maxIdentifierBytes else {
                throw EventStoreError(.tooLarge, "event \(i): its type is \(event.type.utf8.count) bytes, more than \(maxIdentifierBytes)")
            }
            for (field, text) in [("payload", event.payload), ("metadata", event.metadata)] {
                let size = text.utf8.count
                guard size <= maxPayloadBytes else {
                    throw EventStoreError(.tooLarge, "event \(i) (\(event.type)): \(field) of \(size) bytes exceeds the limit of \(maxPayloadBytes)")
                }
                if let problem = JSONValidator.problem(in: text) {
                    throw EventStoreError(.invalidJSON, "event \(i) (\(event.type)): \(field) is not valid JSON: \(problem)")
                }
            }
        }
    }
}

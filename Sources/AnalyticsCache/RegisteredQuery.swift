/// A query as the cache keeps it: the definition and what its results depend on.
struct RegisteredQuery: Sendable {
    let definition: QueryDefinition
    /// The tables the SQL reads (lowercase, as DuckDB resolves them).
    let tables: [String]
    /// Event types whose projections write those tables.
    let eventTypes: Set<String>
    /// Key expressions (uninstantiated) from an explicit dependency policy.
    let expressions: [KeyExpression]
    /// True when nothing is known (no table found): every event invalidates.
    let dependsOnEverything: Bool

    /// The tag every entry of a query carries (manual invalidation by query).
    static func queryTag(_ id: String) -> String { "query:" + id }
    /// The tag of one request's entry (manual invalidation of one request).
    static func keyTag(_ key: String) -> String { "key:" + key }
    /// The tag of entries that depend on an event type.
    static func typeTag(_ type: String) -> String { "type:" + type }
    /// The tag of entries that depend on an instantiated key expression.
    static func expressionTag(_ expression: KeyExpression) -> String { "dep:" + expression.description }
    /// The tag of entries with an event-time range that depend on an event type.
    static func rangedTag(_ type: String) -> String { "type:" + type + "@ranged" }
    /// The tag of entries whose event-time range covers a day (days since the epoch, UTC).
    static func dayTag(_ type: String, _ day: Int64) -> String { "type:" + type + "@d:" + String(day) }
    /// The tag of entries every event invalidates.
    static let everythingTag = "dep:**"

    /// An entry's tags, and the instantiated expressions among them.
    func tags(parameters: [ParameterValue]) -> (tags: Set<String>, expressions: [KeyExpression]) {
        var tags: Set<String> = [Self.queryTag(definition.id)]
        if dependsOnEverything { tags.insert(Self.everythingTag) }
        // With an event-time range: tagged per event type and day, so that events of other days
        // leave the entry alone (and per type as "ranged", for batches too wide to list by day).
        var days: ClosedRange<Int64>?
        if let range = definition.eventTime,
           let fromIndex = definition.parameters.firstIndex(where: { $0.name == range.from }),
           let toIndex = definition.parameters.firstIndex(where: { $0.name == range.to }),
           let from = EventTimeRange.microseconds(parameters[fromIndex]),
           let to = EventTimeRange.microseconds(parameters[toIndex]) {
            days = EventTimeRange.days(from: from, to: to)
            if to <= from { days = 1...0 }  // an empty range: no event can change it
        }
        for type in eventTypes {
            if let days {
                tags.insert(Self.rangedTag(type))
                for day in days { tags.insert(Self.dayTag(type, day)) }
            } else {
                tags.insert(Self.typeTag(type))
            }
        }
        var values: [String: String] = [:]
        for (spec, value) in zip(definition.parameters, parameters) { values[spec.name] = value.description }
        var instantiated: [KeyExpression] = []
        for expression in expressions {
            // Validation guarantees every placeholder names a parameter with a value.
            guard let concrete = expression.instantiated(values) else { continue }
            instantiated.append(concrete)
            tags.insert(Self.expressionTag(concrete))
        }
        return (tags, instantiated)
    }
}

/// Why the cache refused a registration or a request.
public struct AnalyticsCacheError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// No query has this id.
        case unknownQuery
        /// The definition cannot be served (not one SELECT, a bad id, a placeholder naming no
        /// parameter, a malformed key expression).
        case invalidDefinition
        /// A registered id registered again.
        case duplicateQuery
        /// The cache stopped following the projector (shut down, or the projector stopped).
        case invalidationStopped
        /// Appended events were not invalidated within the append timeout (they are committed).
        case freshnessTimeout
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

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
    /// The datasets whose versions its keys carry, sorted.
    let datasets: [String]
    /// A hash of the definition, part of every key: a query redeployed with other SQL,
    /// parameters or dependencies never gets the results of the old one.
    let version: String
    /// The encoded start of its keys (id and version), computed once.
    let keyPrefix: String

    static func version(of definition: QueryDefinition) -> String {
        let text = [definition.sql, "\(definition.parameters)", definition.scope.rawValue, "\(definition.expiry)",
                    "\(definition.dependencies)", "\(String(describing: definition.eventTime))", "\(definition.maxCachedBytes)",
                    "\(String(describing: definition.datasets))"]
            .joined(separator: "\u{1F}")
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return String(hash, radix: 16)
    }

    /// The tag every entry of a query carries (manual invalidation by query).
    static func queryTag(_ id: String) -> String { "query:" + id }
    /// The tag of one request's entry (manual invalidation of one request).
    static func keyTag(_ key: String) -> String { "key:" + key }
    /// The tag of entries that depend on an event type.
    static func typeTag(_ type: String) -> String { "type:" + CacheKey.byteExact(type) }
    /// The tag of entries that depend on an instantiated key expression.
    static func expressionTag(_ expression: KeyExpression) -> String { "dep:" + CacheKey.byteExact(expression.description) }
    /// The tag of entries with an event-time range that depend on an event type.
    static func rangedTag(_ type: String) -> String { typeTag(type) + "@ranged" }
    /// The tag of entries whose event-time range covers a day (days since the epoch, UTC).
    static func dayTag(_ type: String, _ day: Int64) -> String { typeTag(type) + "@d:" + String(day) }
    /// The tag of entries computed from a dataset.
    static func datasetTag(_ name: String) -> String { "dataset:" + CacheKey.byteExact(name) }
    /// The tag of entries every event invalidates.
    static let everythingTag = "dep:**"
    /// The tag of entries that depend on an expression with wildcards: what a recovery after a
    /// restart removes when events it replays may match expressions not registered yet.
    static let wildcardTag = "dep:*?"

    /// An entry's tags: its query, its event types (by day with an event-time range), its
    /// instantiated key expressions and their general forms.
    func tags(parameters: [ParameterValue]) -> Set<String> {
        var tags: Set<String> = [Self.queryTag(definition.id)]
        for name in datasets { tags.insert(Self.datasetTag(name)) }
        if dependsOnEverything { tags.insert(Self.everythingTag) }
        // With an event-time range: tagged per event type and day, so that events of other days
        // leave the entry alone (and per type as "ranged", for batches too wide to list by day).
        var days: EventTimeRange.Days?
        if let range = definition.eventTime,
           let fromIndex = definition.parameters.firstIndex(where: { $0.name == range.from }),
           let toIndex = definition.parameters.firstIndex(where: { $0.name == range.to }),
           let from = EventTimeRange.microseconds(parameters[fromIndex]),
           let to = EventTimeRange.microseconds(parameters[toIndex]) {
            days = EventTimeRange.entryDays(from: from, to: to)
        }
        for type in eventTypes {
            switch days {
            case nil: tags.insert(Self.typeTag(type))
            case .empty: break  // an empty range: no event can change it
            case .wide: tags.insert(Self.typeTag(type))  // too wide to list by day: any event of the type
            case .list(let list):
                tags.insert(Self.rangedTag(type))
                for day in list { tags.insert(Self.dayTag(type, day)) }
            }
        }
        var values: [String: String] = [:]
        for (spec, value) in zip(definition.parameters, parameters) { values[spec.name] = value.description }
        for expression in expressions {
            // Validation guarantees every placeholder names a parameter with a value.
            guard let concrete = expression.instantiated(values) else { continue }
            tags.insert(Self.expressionTag(concrete))
            if concrete.segments.contains(where: { if case .literal = $0 { false } else { true } }) { tags.insert(Self.wildcardTag) }
            // Also the general form: what a restarted process (or an invalidation by expression)
            // can find without knowing which parameter values were cached.
            let general = expression.generalised
            if general != concrete { tags.insert(Self.expressionTag(general)) }
        }
        return tags
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

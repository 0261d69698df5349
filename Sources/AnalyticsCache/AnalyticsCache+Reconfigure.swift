extension AnalyticsCache {
    /// What ``reconfigure(queries:projectionWrites:)`` changed.
    public struct QueryChanges: Sendable, Equatable {
        /// Queries registered that were not before.
        public var added: [String] = []
        /// Queries whose definition changed (their old entries are dropped).
        public var changed: [String] = []
        /// Queries no longer registered (their entries are dropped).
        public var removed: [String] = []
        /// Queries registered before and after with the same definition (their entries stay).
        public var unchanged: [String] = []
    }

    /// Replaces the registered queries with `definitions` while serving: every definition is
    /// checked and its dependencies derived first (one invalid definition changes nothing), then
    /// the registry is swapped at once, and the entries of changed and removed queries are
    /// dropped from both layers. Unchanged queries keep their entries.
    ///
    /// - Parameters:
    ///   - definitions: the new queries (ids unique)
    ///   - projectionWrites: when the projections change, the tables each writes with its event
    ///     types (``EventProjection/Projector/writtenTables()``'s form), from which every query's
    ///     dependencies are derived again; nil keeps the current ones. During a projection swap,
    ///     pass the union of the old and the new: invalidation is then conservative for both.
    /// - Returns: what changed
    /// - Throws: ``AnalyticsCacheError`` (or DuckDB's error) for the first definition that
    ///   cannot be registered; nothing changed then
    @discardableResult
    public func reconfigure(
        queries definitions: [QueryDefinition], projectionWrites: [(tables: Set<String>?, eventTypes: Set<String>)]? = nil
    ) async throws -> QueryChanges {
        var seen = Set<String>()
        for definition in definitions where !seen.insert(definition.id).inserted {
            throw AnalyticsCacheError(.duplicateQuery, "query \(definition.id) is declared twice")
        }
        let previousWrites = projectionTables.withLock { $0 }
        if let projectionWrites { projectionTables.withLock { $0 = projectionWrites } }
        var registrations: [String: RegisteredQuery] = [:]
        do {
            for definition in definitions { registrations[definition.id] = try await registration(for: definition) }
        } catch {
            if projectionWrites != nil { projectionTables.withLock { $0 = previousWrites } }
            throw error
        }
        let wild = registrations.values.flatMap { $0.expressions.filter(\.hasWildcards).map(\.generalised) }
        if !wild.isEmpty { wildcardExpressions.withLock { $0.formUnion(wild) } }
        let old = queries.withLock { queries in
            defer { queries = registrations }
            return queries
        }
        var changes = QueryChanges()
        for id in registrations.keys.sorted() {
            guard let before = old[id] else { changes.added.append(id); continue }
            if before.version == registrations[id]?.version { changes.unchanged.append(id) } else { changes.changed.append(id) }
        }
        changes.removed = old.keys.filter { registrations[$0] == nil }.sorted()
        let dropped = changes.changed + changes.removed
        if !dropped.isEmpty {
            let tags = Set(dropped.map(RegisteredQuery.queryTag))
            try await invalidate(tags: tags, reason: "reconfigured: \(dropped.joined(separator: ", "))")
            afterInvalidation(tags: tags, reason: .manual, position: nil, eventTypes: [], aggregates: [])
        }
        configuration.logger.info("queries reconfigured", metadata: [
            "added": "\(changes.added)", "changed": "\(changes.changed)", "removed": "\(changes.removed)",
        ])
        return changes
    }

    /// The tables each projection writes with its event types, as the cache derives dependencies
    /// from them now.
    public func currentProjectionWrites() async throws -> [(tables: Set<String>?, eventTypes: Set<String>)] {
        try await projectionWrites()
    }
}

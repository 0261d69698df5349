import DiskCache
import EventLogCore
import EventProjection
import Logging
import MemoryCache
import RemoteData
import ServiceLifecycle

extension AnalyticsCache: Service {
    /// Follows the projector's commits and invalidates, in L2 then L1, every entry each batch made
    /// stale; advances the invalidation progress the write path waits for. Ends with the service
    /// group (or when the projector stops).
    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await self.runRefreshes() }
            if configuration.disk == nil { group.addTask { await self.startWithoutDisk() } }
            if configuration.dataVersionProbe != nil || !configuration.datasets.isEmpty {
                group.addTask {
                    while !Task.isCancelled {
                        do { try await self.checkDataVersion() } catch is CancellationError { return } catch {
                            self.configuration.logger.warning("data version probe failed; keeping the current version", metadata: ["error": "\(error)"])
                        }
                        try? await Task.sleep(for: self.configuration.dataVersionInterval)
                    }
                }
            }
            defer {
                refreshEnqueue.finish()
                bus.finish()
                group.cancelAll()
            }
            // A service group shuts its services down one by one, in reverse order: the cache
            // (after the server, before the projector it follows) must end on its own.
            try await cancelWhenGracefulShutdown { try await self.followCommits() }
        }
    }

    func followCommits() async throws {
        var commits = self.commits
        // L2 first catches up with what the projector applied before this start; the batches
        // since are buffered by the subscription meanwhile.
        if configuration.disk != nil { await recoverDiskCache() }
        let log: String
        do { log = try await configuration.log.identity() } catch {
            invalidated.stop(error)
            throw error
        }
        while true {
            do {
                for try await batch in commits {
                    try await invalidate(batch, log: log)
                    invalidated.advance(to: batch.positions.upperBound)
                }
                invalidated.stop(AnalyticsCacheError(.invalidationStopped, "the projector's commits ended"))
                return
            } catch let missed as ProjectedBatchesMissed {
                // Fell behind: anything after `missed.after` may have changed. Subscribe again,
                // then drop everything: what the new subscription delivers is covered from here.
                configuration.logger.warning("invalidation fell behind the projector; invalidating everything", metadata: [
                    "after": "\(missed.after)",
                ])
                commits = configuration.projector.commits(bufferLimit: 4096)
                let applied = configuration.projector.appliedPosition ?? missed.after
                try await invalidateEverything(note: InvalidationNote(log: log, position: applied))
                invalidated.advance(to: applied)
            } catch is CancellationError {
                invalidated.stop(CancellationError())
                return
            } catch {
                invalidated.stop(error)
                throw error
            }
        }
    }

    /// The tags a batch makes stale: its event types, every key expression in use that matches one
    /// of its aggregates, and the tag of entries that depend on everything.
    func staleTags(_ batch: ProjectedBatch) -> Set<String> {
        var tags: Set<String> = [RegisteredQuery.everythingTag]
        let end = batch.eventTimes.upperBound == .max ? Int64.max : batch.eventTimes.upperBound + 1
        let days = EventTimeRange.days(from: batch.eventTimes.lowerBound, to: end)
        for type in batch.eventTypes {
            tags.insert(RegisteredQuery.typeTag(type))
            if let days {
                for day in days { tags.insert(RegisteredQuery.dayTag(type, day)) }
            } else {
                tags.insert(RegisteredQuery.rangedTag(type))  // too wide to list: every ranged entry
            }
        }
        let wild = wildcardExpressions.withLock { $0 }
        for aggregate in batch.aggregates {
            let key = KeyExpression.eventKey(type: aggregate.type, id: aggregate.id)
            tags.insert(RegisteredQuery.expressionTag(KeyExpression(segments: key.map { .literal($0) })))
            for expression in wild where expression.matches(key) { tags.insert(RegisteredQuery.expressionTag(expression)) }
        }
        return tags
    }

    func invalidate(_ batch: ProjectedBatch, log: String) async throws {
        let tags = staleTags(batch)
        try await invalidate(tags: tags, reason: "events \(batch.positions.lowerBound)...\(batch.positions.upperBound)",
                             note: InvalidationNote(log: log, position: batch.positions.upperBound))
        afterInvalidation(tags: tags, reason: .events, position: batch.positions.upperBound, eventTypes: batch.eventTypes, aggregates: batch.aggregates)
    }

    /// Removes the entries carrying any of `tags`: L2 first, then L1 (a load that read L2 or DuckDB
    /// before is refused by both: L2 by its generation, L1 by the invalidation). With `note`, L2
    /// records that its invalidations are complete through that position, in the same transaction.
    func invalidate(tags: Set<String>, reason: String, note: InvalidationNote? = nil) async throws {
        if let disk = configuration.disk, !diskDistrusted.load(ordering: .acquiring) {
            do {
                _ = try await disk.removeAll(taggedWithAnyOf: tags, note: note?.note)
            } catch {
                // Never serve what could not be invalidated: L2 is not read again by this process.
                diskDistrusted.store(true, ordering: .releasing)
                configuration.logger.error("disk cache invalidation failed; L2 is no longer read", metadata: [
                    "error": "\(error)", "reason": "\(reason)",
                ])
            }
        }
        let removed = l1.removeAll(taggedWithAnyOf: tags)
        configuration.logger.debug("invalidated", metadata: ["reason": "\(reason)", "tags": "\(tags.count)", "l1_removed": "\(removed)"])
    }

    func invalidateEverything(note: InvalidationNote? = nil) async throws {
        if let disk = configuration.disk, !diskDistrusted.load(ordering: .acquiring) {
            do {
                try await disk.removeAll(note: note?.note)
            } catch {
                diskDistrusted.store(true, ordering: .releasing)
                configuration.logger.error("disk cache invalidation failed; L2 is no longer read", metadata: ["error": "\(error)"])
            }
        }
        l1.removeAll()
    }

    // MARK: Write path

    /// Appends events through the cache: returns only once they are committed, applied to DuckDB
    /// by the projector, and every entry they made stale is invalidated in L2 and L1.
    /// - Parameters:
    ///   - events: the events (at least one)
    ///   - aggregate: their aggregate
    ///   - expectedVersion: optimistic concurrency, as in ``EventLog/append(_:to:expectedVersion:)``
    /// - Returns: the recorded events
    /// - Throws: the log's errors; ``ProjectorTimeout`` (or the projector's error) when the events
    ///   were committed but not applied within ``Configuration/appendTimeout`` — they are in the log
    ///   and will be applied, but this call cannot promise fresh reads yet
    public func append(_ events: [NewEvent], to aggregate: AggregateID, expectedVersion: ExpectedVersion) async throws -> [RecordedEvent] {
        let recorded = try await configuration.log.append(events, to: aggregate, expectedVersion: expectedVersion)
        guard let last = recorded.last?.position, !skipsFenceForTesting.load(ordering: .relaxed) else { return recorded }
        try await waitUntilFresh(through: last)
        return recorded
    }

    /// Returns once every event up to `position` is applied and its stale entries invalidated
    /// (read-your-writes for events appended elsewhere, e.g. by another process).
    /// - Parameter position: a log position
    /// - Throws: ``ProjectorTimeout`` after ``Configuration/appendTimeout``; the projector's error
    public func waitUntilFresh(through position: Int64) async throws {
        try await waitUntilFresh(through: position, timeout: configuration.appendTimeout)
    }

    /// True when every event up to `position` is applied and its stale entries invalidated: reads
    /// from now on reflect them (no waiting; see ``waitUntilFresh(through:timeout:)``).
    public func isFresh(through position: Int64) -> Bool {
        guard let applied = configuration.projector.appliedPosition, applied >= position else { return false }
        return (invalidated.current ?? -1) >= position
    }

    /// The same wait, bounded by `timeout` (a causal read token's wait).
    /// - Parameters:
    ///   - position: a log position
    ///   - timeout: the longest wait for the projector, then as long again for the invalidation
    /// - Throws: ``ProjectorTimeout`` or ``AnalyticsCacheError`` (`.freshnessTimeout`) on timeout;
    ///   the projector's error
    public func waitUntilFresh(through position: Int64, timeout: Duration) async throws {
        if isFresh(through: position) { return }
        try await configuration.projector.waitUntilApplied(position, timeout: timeout)
        let invalidated = self.invalidated
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await invalidated.wait(for: position) }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw AnalyticsCacheError(.freshnessTimeout,
                    "position \(position) applied but not invalidated within \(timeout) (invalidated through \(invalidated.current.map(String.init) ?? "nothing yet"))")
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    // MARK: Manual invalidation

    /// What a manual invalidation removes.
    public enum Invalidation: Sendable {
        /// Every result of a query.
        case query(String)
        /// The result of one request.
        case request(query: String, parameters: [String: ParameterValue], scope: ScopeValue)
        /// Results whose key-expression dependencies overlap this expression (and results that
        /// depend on everything).
        case expression(String)
        /// Everything.
        case everything
    }

    /// Removes results by hand (an admin endpoint, a deploy hook).
    /// - Parameter what: what to remove
    /// - Throws: ``AnalyticsCacheError``, ``ParameterError``, ``KeyExpressionError``
    public func invalidate(_ what: Invalidation) async throws {
        switch what {
        case .query(let id):
            guard queries.withLock({ $0[id] }) != nil else { throw AnalyticsCacheError(.unknownQuery, "no query '\(id)' is registered") }
            try await invalidate(tags: [RegisteredQuery.queryTag(id)], reason: "manual: query \(id)")
            afterInvalidation(tags: [RegisteredQuery.queryTag(id)], reason: .manual, position: nil, eventTypes: [], aggregates: [])
        case .request(let id, let parameters, let scope):
            let key = try key(for: id, parameters: parameters, scope: scope)
            if let disk = configuration.disk, !diskDistrusted.load(ordering: .acquiring) { _ = try await disk.removeValue(forKey: key.rawValue) }
            _ = l1.removeValue(forKey: key.rawValue)
            afterInvalidation(tags: [RegisteredQuery.keyTag(key.rawValue)], reason: .manual, position: nil, eventTypes: [], aggregates: [])
        case .expression(let text):
            let expression = try KeyExpression(text)
            var tags: Set<String> = [RegisteredQuery.everythingTag]
            // Every entry with an expression dependency carries its general form (placeholders as
            // `*`): those overlapping the expression cover every instantiation that does.
            for query in queries.withLock({ Array($0.values) }) {
                for general in query.expressions.map(\.generalised) where general.overlaps(expression) {
                    tags.insert(RegisteredQuery.expressionTag(general))
                }
            }
            try await invalidate(tags: tags, reason: "manual: \(text)")
            afterInvalidation(tags: tags, reason: .manual, position: nil, eventTypes: [], aggregates: [])
        case .everything:
            try await invalidateEverything()
            afterInvalidation(tags: nil, reason: .manual, position: nil, eventTypes: [], aggregates: [])
        }
    }
}

extension AnalyticsCache {
    /// Test-only: makes appends return as soon as the log committed, without waiting for the
    /// projector and the invalidation — the broken fence the stale-read checker must catch.
    package func breakFenceForTesting() { skipsFenceForTesting.store(true, ordering: .relaxed) }

    /// Test-only: a hook run inside each load between the computation and the stores.
    package func beforeStoringForTesting(_ hook: (@Sendable () async -> Void)?) { beforeStoringHook.withLock { $0 = hook } }
}

extension AnalyticsCache {
    /// Runs the data-version probes now (``Configuration/dataVersionProbe`` and every dataset's):
    /// when the global version changed, every older entry is removed; when a dataset's changed,
    /// the entries computed from it. Keys move to the new versions; removed entries are announced
    /// on the bus (and hot ones refreshed).
    /// - Returns: whether any version changed
    /// - Throws: a probe's error (the current versions all stay)
    @discardableResult
    public func checkDataVersion() async throws -> Bool {
        let global = configuration.dataVersionProbe
        let probes = configuration.datasets
        var current = ProbedVersions(global: try await global?() ?? "", datasets: [:])
        try await withThrowingTaskGroup(of: (String, String).self) { group in
            for (name, probe) in probes { group.addTask { (name, try await probe()) } }
            for try await (name, version) in group { current.datasets[name] = version }
        }
        let previous = probedVersion.withLock { stored -> ProbedVersions? in
            defer { stored = current }
            return stored
        }
        // The first probe of this process only sets the versions: entries stored under them (by
        // an earlier process) are current; entries under other versions are unreachable and age out.
        guard let previous, previous != current else { return false }
        if previous.global != current.global {
            configuration.logger.info("data version changed", metadata: ["from": "\(previous.global)", "to": "\(current.global)"])
            try await invalidateEverything()
            afterInvalidation(tags: nil, reason: .dataVersion, position: nil, eventTypes: [], aggregates: [])
            return true
        }
        let changed = probes.keys.filter { previous.datasets[$0] != current.datasets[$0] }.sorted()
        configuration.logger.info("dataset versions changed", metadata: ["datasets": "\(changed)"])
        let tags = Set(changed.map(RegisteredQuery.datasetTag))
        try await invalidate(tags: tags, reason: "datasets changed: \(changed.joined(separator: ", "))")
        afterInvalidation(tags: tags, reason: .dataVersion, position: nil, eventTypes: [], aggregates: [])
        return true
    }
}

/// The versions probed last: the global one and each dataset's.
struct ProbedVersions: Equatable {
    var global: String
    var datasets: [String: String]
    /// Each registered query's encoded key suffix under these versions, by key prefix: a memo
    /// (not part of equality), dropped with the versions when a probe stores new ones.
    var keySuffixes: [String: String] = [:]

    static func == (a: ProbedVersions, b: ProbedVersions) -> Bool { a.global == b.global && a.datasets == b.datasets }
}

extension AnalyticsCache.Configuration {
    /// A data-version probe over RemoteData's probes (local files, HTTP and S3 datasets, DuckLake
    /// snapshots): their tokens in order, so any dataset's change is a new version.
    /// - Parameter probes: the datasets' probes
    /// - Returns: a closure for ``dataVersionProbe``
    public static func dataVersion(of probes: [any DataVersionProbe]) -> @Sendable () async throws -> String {
        { try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for (index, probe) in probes.enumerated() {
                group.addTask { (index, try await probe.currentVersion().token) }
            }
            var tokens = [String](repeating: "", count: probes.count)
            for try await (index, token) in group { tokens[index] = token }
            return tokens.joined(separator: ",")
        } }
    }
}

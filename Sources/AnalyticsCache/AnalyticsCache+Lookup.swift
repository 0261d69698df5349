import DiskCache
import DuckDBClient
import Foundation
import Logging
import MemoryCache

extension AnalyticsCache {
    /// Per-request choices.
    public struct LookupOptions: Sendable {
        /// Compute with DuckDB even if cached, and store nothing (an admin's "run it now").
        public var bypassCache: Bool
        /// The longest this request waits for a computation (nil: the pool's timeout).
        public var timeout: Duration?

        /// - Parameters:
        ///   - bypassCache: default false
        ///   - timeout: default nil
        public init(bypassCache: Bool = false, timeout: Duration? = nil) {
            self.bypassCache = bypassCache
            self.timeout = timeout
        }
    }

    /// The result of a registered query: from L1, else L2 (promoted to L1), else DuckDB — one load
    /// per key across the three layers, however many requests ask at once.
    /// - Parameters:
    ///   - id: the query's id
    ///   - parameters: typed values by name (checked against the declaration)
    ///   - scope: the tenant or user asking (required by scoped queries)
    ///   - options: bypass, timeout
    /// - Returns: the Arrow IPC bytes and how they were served
    /// - Throws: ``AnalyticsCacheError`` (`.unknownQuery`), ``ParameterError``, DuckDB's and the
    ///   pool's errors (never cached: every waiter of a failed load gets its error)
    public func result(
        for id: String, parameters: [String: ParameterValue] = [:], scope: ScopeValue = .none, options: LookupOptions = LookupOptions()
    ) async throws -> AnalyticsResult {
        guard let query = queries.withLock({ $0[id] }) else {
            throw AnalyticsCacheError(.unknownQuery, "no query '\(id)' is registered")
        }
        let values = try query.definition.validate(parameters, scope: scope)
        return try await result(query, values: values, scope: scope, options: options)
    }

    /// The same, with parameters as request text (URL query items), parsed by their declared types.
    public func result(
        for id: String, textParameters: [String: String], scope: ScopeValue = .none, options: LookupOptions = LookupOptions()
    ) async throws -> AnalyticsResult {
        guard let query = queries.withLock({ $0[id] }) else {
            throw AnalyticsCacheError(.unknownQuery, "no query '\(id)' is registered")
        }
        let values = try query.definition.validate(text: textParameters, scope: scope)
        return try await result(query, values: values, scope: scope, options: options)
    }

    /// The registered queries' definitions, by id.
    public func definitions() -> [QueryDefinition] {
        queries.withLock { $0.values.map(\.definition) }.sorted { $0.id < $1.id }
    }

    /// The definition of query `id`, if registered.
    public func definition(of id: String) -> QueryDefinition? { queries.withLock { $0[id]?.definition } }

    /// The key of a request given as text (URL query items), as ``result(for:textParameters:scope:options:)``
    /// would use it now.
    /// - Throws: ``AnalyticsCacheError`` (`.unknownQuery`), ``ParameterError``
    public func key(for id: String, textParameters: [String: String], scope: ScopeValue = .none) throws -> CacheKey {
        guard let query = queries.withLock({ $0[id] }) else {
            throw AnalyticsCacheError(.unknownQuery, "no query '\(id)' is registered")
        }
        let values = try query.definition.validate(text: textParameters, scope: scope)
        return key(query, values, scope, dataVersion: probedVersionForKeys(query))
    }

    /// The key of a request (for manual invalidation by parameters, and for tests).
    public func key(for id: String, parameters: [String: ParameterValue] = [:], scope: ScopeValue = .none) throws -> CacheKey {
        guard let query = queries.withLock({ $0[id] }) else {
            throw AnalyticsCacheError(.unknownQuery, "no query '\(id)' is registered")
        }
        let values = try query.definition.validate(parameters, scope: scope)
        return key(query, values, scope, dataVersion: probedVersionForKeys(query))
    }

    /// The encoded data-version part of `query`'s keys now (without probing): remembered per query
    /// until the next probe stores new versions, so a request does not re-encode it.
    func probedVersionForKeys(_ query: RegisteredQuery) -> String {
        if let suffix = probedVersion.withLock({ $0?.keySuffixes[query.keyPrefix] }) { return suffix }
        let probed = probedVersion.withLock { $0 }
        // Every part length-prefixed: tokens may contain any separator, and two different sets of
        // versions must never give the same text (nor, so, the same digest).
        var version = ""
        for part in [configuration.dataVersion, settingsVersion, probed?.global ?? ""] {
            version += String(part.utf8.count) + ":" + part
        }
        for name in query.datasets {
            let token = probed?.datasets[name] ?? ""
            version += String(name.utf8.count) + ":" + name + String(token.utf8.count) + ":" + token
        }
        let suffix = CacheKey.suffix(dataVersion: version)
        // Kept only if the versions it was computed from are still the stored ones.
        probedVersion.withLock { stored in
            if let probed, stored == probed { stored?.keySuffixes[query.keyPrefix] = suffix }
        }
        return suffix
    }

    /// `query`'s key for these values and scope, with `suffix` from ``probedVersionForKeys(_:)``.
    func key(_ query: RegisteredQuery, _ values: [ParameterValue], _ scope: ScopeValue, dataVersion suffix: String) -> CacheKey {
        CacheKey(prefix: query.keyPrefix, parameters: values,
                 scope: (query.definition.scope, query.definition.scopeBinding(scope)), suffix: suffix)
    }

    func result(
        _ query: RegisteredQuery, values: [ParameterValue], scope: ScopeValue, options: LookupOptions, isRefresh: Bool = false
    ) async throws -> AnalyticsResult {
        let key = key(query, values, scope, dataVersion: try await dataVersion(for: query))
        // The common case first: a hit. An entry in L1 is fresh (an invalidation removes entries
        // at once), and the key's directory entry only needs its read time — not its tags again.
        if !options.bypassCache, !isRefresh, entries.touch(key.rawValue, lastRead: configuration.clock.nanoseconds()),
           let hit = l1.value(forKey: key.rawValue) {
            metrics.served(query.definition.id, by: .l1)
            return served(hit, by: .l1, uncached: false, superseded: false)
        }
        let tags = query.tags(parameters: values)
        if options.bypassCache {
            let computed = try await compute(query, values: values, scope: scope, key: key, timeout: options.timeout)
            metrics.served(query.definition.id, by: .computed)
            return served(computed, by: .computed, uncached: true, superseded: false)
        }
        // A refresh is not a read: it keeps the key's last read, so a key nobody reads cools down.
        let now = configuration.clock.nanoseconds()
        let lastRead = isRefresh ? (entries.info(key.rawValue)?.lastRead ?? now) : now
        entries.read(key.rawValue, EntryInfo(query: query.definition.id, values: values, scope: scope,
                                             scopeValue: query.definition.scopeBinding(scope),
                                             tags: tags.union([RegisteredQuery.keyTag(key.rawValue)]), lastRead: lastRead))
        let lookup = try await l1.lookup(key.rawValue, tags: tags, timeout: options.timeout) { [self] in
            try await load(query, values: values, scope: scope, key: key, tags: tags, timeout: options.timeout)
        }
        let by: ServedBy = switch lookup.outcome {
        case .hit: .l1
        case .joined: .joined
        case .loaded, .superseded: lookup.value.origin
        }
        metrics.served(query.definition.id, by: by)
        // Not in L1 (too large, or superseded): nothing to refresh or to tell dashboards about.
        if lookup.generation == nil, lookup.outcome != .superseded { entries.forget(key.rawValue) }
        return served(lookup.value, by: by, uncached: lookup.generation == nil, superseded: lookup.outcome == .superseded)
    }

    func served(_ value: CachedResult, by: ServedBy, uncached: Bool, superseded: Bool) -> AnalyticsResult {
        let now = nowMicroseconds
        return AnalyticsResult(
            arrow: value.arrow, servedBy: by, computeTime: .nanoseconds(value.computeNanos),
            age: .microseconds(max(0, now - value.computedAt)), etag: value.etag, superseded: superseded, uncached: uncached)
    }

    /// L1's loader: L2, else DuckDB (storing in L2 only if no invalidation committed since the load
    /// began).
    func load(
        _ query: RegisteredQuery, values: [ParameterValue], scope: ScopeValue, key: CacheKey, tags: Set<String>, timeout: Duration?
    ) async throws -> Loaded<CachedResult> {
        let definition = query.definition
        let disk = await readableDisk()
        // Read before L2 and before DuckDB: an invalidation after this point refuses the L2 store.
        var generation: UInt64?
        if let disk {
            do {
                generation = try await disk.generation()
                if let entry = try await disk.entry(forKey: key.rawValue),
                   let cached = CachedResult.decoded(fromDisk: entry.value, storedAt: entry.createdAt) {
                    return Loaded(cached, expiry: l1Expiry(definition, expiresAt: entry.expiresAt), weight: cached.arrow.count)
                }
            } catch {
                configuration.logger.warning("disk cache read failed; computing", metadata: ["query": "\(definition.id)", "error": "\(error)"])
                generation = nil
            }
        }
        let computed = try await compute(query, values: values, scope: scope, key: key, timeout: timeout)
        if let hook = beforeStoringHook.withLock({ $0 }) { await hook() }
        let fits = computed.arrow.count <= definition.maxCachedBytes
        let (expiry, expiresAt) = lifetime(definition, values: values, computed: computed)
        if fits, let disk, let generation {
            do {
                let stored = try await disk.put(computed.encodedForDisk(), forKey: key.rawValue, expiresAt: expiresAt, tags: Array(tags),
                                                ifGenerationIs: generation)
                if stored { metrics.stored(definition.id, bytes: computed.arrow.count) }
                if !stored {
                    configuration.logger.debug("not stored in L2: invalidated while computing", metadata: ["query": "\(definition.id)"])
                }
            } catch {
                configuration.logger.warning("disk cache write failed", metadata: ["query": "\(definition.id)", "error": "\(error)"])
            }
        }
        // Too large: served, and refused by L1 (a weight above its budget is never stored).
        let weight = fits ? computed.arrow.count : Int.max / 4
        return Loaded(computed, expiry: expiry, weight: weight)
    }

    /// When a computed result stops being served: L1's expiry and L2's expiry time (µs).
    func lifetime(_ definition: QueryDefinition, values: [ParameterValue], computed: CachedResult) -> (Expiry, Int64?) {
        func after(_ ttl: Duration) -> (Expiry, Int64?) {
            let micros = ttl.components.seconds * 1_000_000 + ttl.components.attoseconds / 1_000_000_000_000
            return (.after(ttl), computed.computedAt + micros)
        }
        switch definition.expiry {
        case .never:
            return (.never, nil)
        case .ttl(let ttl):
            return after(ttl)
        case .adaptive(let factor, let min, let max):
            let measured = Duration.nanoseconds(computed.computeNanos) * factor
            return after(Swift.min(Swift.max(measured, min), max))
        case .untilParameter(let name):
            guard let index = definition.parameters.firstIndex(where: { $0.name == name }),
                  let end = EventTimeRange.microseconds(values[index]), end > computed.computedAt
            else { return (.never, nil) }  // closed (or unknown): the result is final
            return (.atWallClock(Date(timeIntervalSince1970: Double(end) / 1_000_000)), end)
        case .window(let window):
            let now = Date(timeIntervalSince1970: Double(computed.computedAt) / 1_000_000)
            guard let boundary = window.nextBoundary(after: now) else { return (.after(.zero), computed.computedAt) }
            return (.atWallClock(boundary), Int64(boundary.timeIntervalSince1970 * 1_000_000))
        }
    }

    func l1Expiry(_ definition: QueryDefinition, expiresAt: Int64?) -> Expiry {
        guard let expiresAt else { return .never }
        return .atWallClock(Date(timeIntervalSince1970: Double(expiresAt) / 1_000_000))
    }

    /// Now in µs since the epoch, from the configured wall clock.
    var nowMicroseconds: Int64 { Int64(configuration.wallClock().timeIntervalSince1970 * 1_000_000) }

    /// Runs the query on DuckDB: the scope value first, then the parameters, all bound.
    func compute(_ query: RegisteredQuery, values: [ParameterValue], scope: ScopeValue, key: CacheKey, timeout: Duration?) async throws -> CachedResult {
        let definition = query.definition
        var bindings: [DuckDBValue] = []
        if let binding = definition.scopeBinding(scope) { bindings.append(.string(binding)) }
        for value in values {
            switch value {
            case .integer(let v): bindings.append(.int(v))
            case .double(let v): bindings.append(.double(v))
            case .text(let v): bindings.append(.string(v))
            case .boolean(let v): bindings.append(.bool(v))
            case .date(let v): bindings.append(.date(days: v))
            }
        }
        let started = ContinuousClock.now
        counters.withLock { $0.computations += 1 }
        let arrow = try await configuration.pool.queryArrow(definition.sql, bindings, timeout: timeout)
        let elapsed = ContinuousClock.now - started
        let nanos = elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
        metrics.computed(definition.id, nanoseconds: nanos)
        configuration.logger.debug("computed", metadata: [
            "query": "\(definition.id)", "key": "\(key.rawValue)", "bytes": "\(arrow.count)", "ms": "\(nanos / 1_000_000)",
        ])
        return CachedResult(arrow: arrow, etag: CachedResult.etag(of: arrow), computedAt: nowMicroseconds,
                            computeNanos: nanos, origin: .computed)
    }
}

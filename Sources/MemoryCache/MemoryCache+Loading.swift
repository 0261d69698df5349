/// Single-flight loading.
extension MemoryCache {
    /// What a loading read does after looking at the shard.
    enum LoadStep {
        case hit(Value, generation: UInt64, writeTime: Int64, refresh: UInt64?, drain: Bool)
        case join(LoadOperation<Value>)
        case start(LoadOperation<Value>)
        case cancelled
    }

    /// The value for `key`, loading it once for all concurrent callers when it is missing, and how
    /// it was served.
    ///
    /// - Concurrent callers for one missing key share one load; its error reaches every waiter and
    ///   nothing is cached.
    /// - A cancelled caller stops waiting at once; the load goes on for the others and is cancelled
    ///   when the last waiter leaves. A caller counts as waiting from the moment it is handed the
    ///   load (under the shard lock), so a caller that never cancels never gets `CancellationError`;
    ///   a caller already cancelled when it calls never starts or joins a load (a cached value is
    ///   still returned).
    /// - **Invalidation.** If the key is invalidated (by key, predicate, tag or ``removeAll()``), or a
    ///   value inserted, while its load runs, the load's callers still get its value — they began
    ///   before the invalidation — as ``LookupOutcome/superseded``, and it is not stored. A call
    ///   that starts after the invalidation returned never joins that load: it starts a new one.
    /// - With ``MemoryCacheConfiguration/refreshAfterWrite`` set, an older entry is returned at once
    ///   and one background reload (with this call's loader) replaces it; see ``refreshing``.
    /// - A loader may load other keys. Asking for its own key throws
    ///   ``MemoryCacheError/recursiveLoad(key:)``; loads that wait for each other through other
    ///   loads (X's loader waits for Y while Y's waits for X, in this or another cache) make the
    ///   wait that would close the cycle throw ``MemoryCacheError/loadCycle(key:)``.
    ///
    /// - Parameters:
    ///   - key: the key
    ///   - tags: the entry's dependencies, known before loading (for ``removeAll(taggedWith:)``)
    ///   - timeout: how long this caller waits for a load at most (then
    ///     ``MemoryCacheError/loadTimedOut(key:after:)``; the load goes on for other waiters and is
    ///     cancelled when none is left); nil: no limit
    ///   - loader: computes the value, and optionally its expiry and weight
    /// - Returns: the value, its outcome, and the stored entry's generation and age
    /// - Throws: the loader's error, `CancellationError`, or ``MemoryCacheError``
    public func lookup(
        _ key: Key, tags: Set<String> = [], timeout: Duration? = nil,
        orLoad loader: @escaping @Sendable () async throws -> Loaded<Value>
    ) async throws -> CacheLookup<Value> {
        let marker = LoadContext.Marker(cache: ObjectIdentifier(self), key: AnyHashable(key))
        if LoadContext.active.contains(marker) {
            throw MemoryCacheError.recursiveLoad(key: String(describing: key))
        }
        let hash = hashKey(key)
        let now = clock.nanoseconds()
        let tagList = Array(tags)
        let shard = shard(hash)
        // A caller already cancelled may read a cached value but never starts (or joins) a load.
        let cancelled = Task.isCancelled
        let step = shard.state.withLock { s -> LoadStep in
            if case .live(let i) = liveEntry(forKey: key, in: &s, now: now, shard: shard) {
                let entry = s[entry: i]
                var refresh: UInt64?
                if let age = refreshAfterWrite, now - entry.writeTime >= age, !entry.refreshing,
                   s.refreshBackoff.isEmpty || (s.refreshBackoff[key]?.notBefore ?? now) <= now {
                    s[entry: i].refreshing = true
                    refresh = entry.generation
                }
                return .hit(entry.value, generation: entry.generation, writeTime: entry.writeTime, refresh: refresh,
                            drain: recordRead(entry.slot, entry.generation, in: &s))
            }
            if cancelled { return .cancelled }
            // Held under the shard lock, so the load cannot be abandoned before this caller waits.
            if let load = s.loads[key], load.tryHold() { return .join(load) }
            let load = LoadOperation<Value>(tags: tagList) { [weak self] load in
                self?.forgetLoad(key, hash: hash, load)
            }
            _ = load.tryHold()
            s.loads[key] = load
            return .start(load)
        }
        let limit = timeout.map { ($0, MemoryCacheError.loadTimedOut(key: String(describing: key), after: $0) as any Error) }
        switch step {
        case .hit(let value, let generation, let writeTime, let refresh, let drain):
            if drain { drainIfAvailable() }
            if let generation = refresh {
                startRefresh(key, hash: hash, tags: tagList, generation: generation, loader: loader)
            }
            return CacheLookup(value: value, outcome: .hit, generation: CacheGeneration(rawValue: generation),
                               age: .nanoseconds(max(0, now &- writeTime)))
        case .cancelled:
            throw CancellationError()
        case .join(let load):
            if let hook = loadHooks.afterJoinHandOut.withLock({ $0 }) { await hook() }
            let result = try await wait(for: load, key: key, marker: marker, limit: limit)
            return lookupResult(result, started: false)
        case .start(let load):
            let task = Task { [self] in
                await runLoad(key, hash: hash, tags: tagList, load: load, marker: marker, loader: loader)
            }
            load.attach(task)
            let result = try await wait(for: load, key: key, marker: marker, limit: limit)
            return lookupResult(result, started: true)
        }
    }

    /// The value for `key`, loading it once for all concurrent callers when it is missing (see
    /// ``lookup(_:tags:timeout:orLoad:)`` for the rules).
    /// - Parameters:
    ///   - key: the key
    ///   - tags: the entry's dependencies, known before loading (for ``removeAll(taggedWith:)``)
    ///   - loader: computes the value, and optionally its expiry and weight
    /// - Returns: the cached or loaded value
    /// - Throws: the loader's error, `CancellationError`, or ``MemoryCacheError``
    public func value(
        forKey key: Key, tags: Set<String> = [], orLoad loader: @escaping @Sendable () async throws -> Loaded<Value>
    ) async throws -> Value {
        try await lookup(key, tags: tags, orLoad: loader).value
    }

    /// The value for `key`, loading a plain value once for all concurrent callers when missing.
    /// - Parameters:
    ///   - key: the key
    ///   - tags: the entry's dependencies
    ///   - loader: computes the value
    /// - Returns: the cached or loaded value
    /// - Throws: the loader's error, `CancellationError`, or ``MemoryCacheError``
    public func value(
        forKey key: Key, tags: Set<String> = [], orLoadValue loader: @escaping @Sendable () async throws -> Value
    ) async throws -> Value {
        try await lookup(key, tags: tags) { Loaded(try await loader()) }.value
    }

    /// Waits for a load, recording the wait in the ``LoadWaitGraph`` when the caller is itself a
    /// loader (and failing instead if the wait would close a cycle).
    private func wait(
        for load: LoadOperation<Value>, key: Key, marker: LoadContext.Marker, limit: (Duration, any Error)?
    ) async throws -> LoadResult<Value> {
        guard let waiter = LoadContext.current else { return try await load.wait(limit: limit) }
        let awaited = ObjectIdentifier(load)
        guard LoadWaitGraph.add(waiter, waitsFor: awaited) else {
            load.releaseHold()
            throw MemoryCacheError.loadCycle(key: String(describing: key))
        }
        defer { LoadWaitGraph.remove(waiter, waitsFor: awaited) }
        return try await load.wait(limit: limit)
    }

    private func lookupResult(_ result: LoadResult<Value>, started: Bool) -> CacheLookup<Value> {
        let outcome: LookupOutcome = result.superseded ? .superseded : (started ? .loaded : .joined)
        let age = result.receipt.map { Duration.nanoseconds(max(0, clock.nanoseconds() &- $0.writeTime)) } ?? .zero
        return CacheLookup(value: result.value, outcome: outcome,
                           generation: result.receipt.map { CacheGeneration(rawValue: $0.generation) }, age: age)
    }

    private func runLoad(
        _ key: Key, hash: UInt64, tags: [String], load: LoadOperation<Value>, marker: LoadContext.Marker,
        loader: @Sendable () async throws -> Loaded<Value>
    ) async {
        let started = ContinuousClock.now
        let result: Result<Loaded<Value>, any Error>
        do {
            // The load's own context: its key (a loader asking for it directly is a recursive load;
            // through other loads, the wait-for graph finds the cycle), and its identity.
            result = .success(try await LoadContext.$active.withValue([marker]) {
                try await LoadContext.$current.withValue(ObjectIdentifier(load)) { try await loader() }
            })
        } catch {
            result = .failure(error)
        }
        recordLoad(success: (try? result.get()) != nil, nanoseconds: nanosecondCount(of: started.duration(to: .now)))
        var notes = Notifications<Key, Value>()
        switch result {
        case .success(let loaded):
            let (receipt, superseded) = storeLoaded(key, hash: hash, loaded, tags: tags, load: load, notes: &notes)
            load.finish(.success(LoadResult(value: loaded.value, receipt: receipt, superseded: superseded)))
        case .failure(let error):
            forgetLoad(key, hash: hash, load)
            load.finish(.failure(error))
        }
        deliver(notes)
    }

    /// Stores a load's value if the load is still the key's; tells whether it was superseded.
    private func storeLoaded(
        _ key: Key, hash: UInt64, _ loaded: Loaded<Value>, tags: [String], load: LoadOperation<Value>,
        notes: inout Notifications<Key, Value>
    ) -> (StoreReceipt?, Bool) {
        switch store(key, hash: hash, value: loaded.value, tags: tags, expiry: loaded.expiry,
                     weight: loaded.weight, condition: .whileLoading(load), notes: &notes) {
        case .stored(let receipt): return (receipt, false)
        case .refused: return (nil, false)  // the load was current; the value itself was refused
        case .conditionFailed: return (nil, true)  // invalidated or replaced while it ran
        }
    }

    /// Callers waiting for the load in flight for `key` (0 when none); for tests and diagnostics.
    func waitersForLoad(forKey key: Key) -> Int {
        shard(hashKey(key)).state.withLock { $0.loads[key]?.waiterCount ?? 0 }
    }

    /// Removes `load` from the key's loads in flight if it is still there.
    func forgetLoad(_ key: Key, hash: UInt64, _ load: LoadOperation<Value>) {
        shard(hash).state.withLock { s in
            if s.loads[key] === load { s.loads.removeValue(forKey: key) }
        }
    }
}

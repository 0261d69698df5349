/// Single-flight loading and refresh-after-write.
extension MemoryCache {
    /// What a loading read does after looking at the shard.
    enum LoadStep {
        case hit(Value, refresh: UInt32?, drain: Bool)
        case join(LoadOperation<Value>)
        case start(LoadOperation<Value>)
        case cancelled
    }

    /// The value for `key`, loading it once for all concurrent callers when it is missing.
    ///
    /// - Concurrent callers for one missing key share one load; its error reaches every waiter and
    ///   nothing is cached.
    /// - A cancelled caller stops waiting at once; the load goes on for the others and is cancelled
    ///   when the last waiter leaves. A caller counts as waiting from the moment it is handed the
    ///   load (under the shard lock), so a caller that never cancels never gets `CancellationError`;
    ///   a caller already cancelled when it calls never starts or joins a load (a cached value is
    ///   still returned).
    /// - If the key is invalidated (by key, predicate, tag or ``removeAll()``) while it loads, the
    ///   waiters get the loaded value but it is not stored; later callers start a new load.
    /// - With ``MemoryCacheConfiguration/refreshAfterWrite`` set, an older entry is returned at once
    ///   and one background reload (with this call's loader) replaces it; its failure keeps the entry.
    /// - A loader may load other keys; asking for its own key throws
    ///   ``MemoryCacheError/recursiveLoad(key:)`` instead of waiting forever.
    ///
    /// - Parameters:
    ///   - key: the key
    ///   - tags: the entry's dependencies, known before loading (for ``removeAll(taggedWith:)``)
    ///   - loader: computes the value, and optionally its expiry and weight
    /// - Returns: the cached or loaded value
    /// - Throws: the loader's error, `CancellationError`, or ``MemoryCacheError``
    public func value(
        forKey key: Key, tags: Set<String> = [], orLoad loader: @escaping @Sendable () async throws -> Loaded<Value>
    ) async throws -> Value {
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
            if let i = liveEntry(forKey: key, in: &s, now: now) {
                let entry = s[entry: i]
                var refresh: UInt32?
                if let age = refreshAfterWrite, now - entry.writeTime >= age, !entry.refreshing {
                    s[entry: i].refreshing = true
                    refresh = entry.generation
                }
                return .hit(entry.value, refresh: refresh, drain: recordRead(entry.slot, in: &s))
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
        switch step {
        case .hit(let value, let refresh, let drain):
            if drain { drainIfAvailable(shard) }
            if let generation = refresh {
                startRefresh(key, hash: hash, tags: tagList, generation: generation, loader: loader)
            }
            return value
        case .cancelled:
            throw CancellationError()
        case .join(let load):
            if let hook = loadHooks.afterJoinHandOut.withLock({ $0 }) { await hook() }
            return try await load.wait()
        case .start(let load):
            let task = Task { [self] in
                await runLoad(key, hash: hash, tags: tagList, load: load, marker: marker, loader: loader)
            }
            load.attach(task)
            return try await load.wait()
        }
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
        try await value(forKey: key, tags: tags) { Loaded(try await loader()) }
    }

    private func runLoad(
        _ key: Key, hash: UInt64, tags: [String], load: LoadOperation<Value>, marker: LoadContext.Marker,
        loader: @Sendable () async throws -> Loaded<Value>
    ) async {
        let started = ContinuousClock.now
        let result: Result<Loaded<Value>, any Error>
        do {
            result = .success(try await LoadContext.$active.withValue(LoadContext.active.union([marker])) {
                try await loader()
            })
        } catch {
            result = .failure(error)
        }
        recordLoad(success: (try? result.get()) != nil, nanoseconds: nanosecondCount(of: started.duration(to: .now)))
        var notes = Notifications<Key, Value>()
        switch result {
        case .success(let loaded):
            store(key, hash: hash, value: loaded.value, tags: tags, expiry: loaded.expiry, weight: loaded.weight,
                  condition: .whileLoading(load), notes: &notes)
        case .failure:
            forgetLoad(key, hash: hash, load)
        }
        load.finish(result.map(\.value))
        deliver(notes)
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

    private func startRefresh(
        _ key: Key, hash: UInt64, tags: [String], generation: UInt32,
        loader: @escaping @Sendable () async throws -> Loaded<Value>
    ) {
        Task { [self] in
            let started = ContinuousClock.now
            let loaded = try? await loader()
            recordLoad(success: loaded != nil, nanoseconds: nanosecondCount(of: started.duration(to: .now)))
            var notes = Notifications<Key, Value>()
            if let loaded {
                store(key, hash: hash, value: loaded.value, tags: tags, expiry: loaded.expiry, weight: loaded.weight,
                      condition: .whileGeneration(generation), notes: &notes)
            } else {
                shard(hash).state.withLock { s in
                    if let i = s.index[key], s[entry: i].generation == generation {
                        s[entry: i].refreshing = false
                    }
                }
            }
            deliver(notes)
        }
    }
}

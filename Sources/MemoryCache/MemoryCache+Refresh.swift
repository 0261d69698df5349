import Synchronization

/// The background reloads of refresh-after-write that are running, so shutdown can cancel them.
struct RefreshRegistry: Sendable {
    var tasks: [Int: Task<Void, Never>] = [:]
    var next = 0
    var shutDown = false
}

/// Refresh-after-write (stale-while-revalidate).
extension MemoryCache {
    /// Background refreshes registered and not yet finished or cancelled (for tests and diagnostics).
    public var refreshing: Int { refreshes.withLock { $0.tasks.count } }

    /// Stops background refreshes: cancels the running ones (their entries are kept, and retried
    /// later only if the cache is used again after ``resumeRefreshes()``) and starts no new ones. Reads still
    /// serve entries. ``MemoryCacheMaintenance`` calls it on graceful shutdown.
    public func cancelRefreshes() {
        let running = refreshes.withLock { r -> [Task<Void, Never>] in
            r.shutDown = true
            defer { r.tasks.removeAll() }
            return Array(r.tasks.values)
        }
        for task in running { task.cancel() }
    }

    /// Lets background refreshes start again after ``cancelRefreshes()``.
    public func resumeRefreshes() {
        refreshes.withLock { $0.shutDown = false }
    }

    /// Starts one background reload of an entry read at `generation` (the caller set its
    /// `refreshing` flag). Its value replaces the entry only if the entry is still that generation,
    /// without counting as a read; a failure keeps the entry, is counted and reported, and backs off.
    func startRefresh(
        _ key: Key, hash: UInt64, tags: [String], generation: UInt64,
        loader: @escaping @Sendable () async throws -> Loaded<Value>
    ) {
        let started = refreshes.withLock { r -> Bool in
            guard !r.shutDown else { return false }
            r.next += 1
            let id = r.next
            // Outside the context of whatever loader's lookup triggered it: it is not part of that
            // load (no false recursive-load or cycle errors, no wait-for edges for it).
            r.tasks[id] = LoadContext.$active.withValue([]) {
                LoadContext.$current.withValue(nil) {
                    Task { [self] in
                        await refresh(key, hash: hash, tags: tags, generation: generation, loader: loader)
                        _ = refreshes.withLock { $0.tasks.removeValue(forKey: id) }
                    }
                }
            }
            return true
        }
        if !started { clearRefreshing(key, hash: hash, generation: generation) }
    }

    private func refresh(
        _ key: Key, hash: UInt64, tags: [String], generation: UInt64,
        loader: @Sendable () async throws -> Loaded<Value>
    ) async {
        if Task.isCancelled || refreshes.withLock({ $0.shutDown }) {
            clearRefreshing(key, hash: hash, generation: generation)
            return
        }
        let started = ContinuousClock.now
        let result: Result<Loaded<Value>, any Error>
        do {
            result = .success(try await loader())
        } catch {
            result = .failure(error)
        }
        if case .failure = result, Task.isCancelled {
            // Cancelled by shutdown: not a failure of the data source; no backoff.
            clearRefreshing(key, hash: hash, generation: generation)
            return
        }
        recordLoad(success: (try? result.get()) != nil, nanoseconds: nanosecondCount(of: started.duration(to: .now)))
        var notes = Notifications<Key, Value>()
        switch result {
        case .success(let loaded):
            _ = store(key, hash: hash, value: loaded.value, tags: tags, expiry: loaded.expiry, weight: loaded.weight,
                  condition: .whileGeneration(generation), notes: &notes)
            // Not stored: the entry changed or went meanwhile (nothing to keep); stored: it is new.
            policyState.withLock { $0.refreshSuccesses += 1 }
        case .failure(let error):
            let now = clock.nanoseconds()
            let backoff = refreshRetryInterval
            policyState.withLock { $0.refreshFailures += 1 }
            shard(hash).state.withLock { s in
                guard let i = s.index[key], s[entry: i].generation == generation else { return }
                s[entry: i].refreshing = false
                let failures = (s.refreshBackoff[key]?.failures ?? 0) + 1
                s.refreshBackoff[key] = RefreshBackoff(failures: failures, notBefore: saturatingAdd(now, Self.delay(
                    afterFailures: failures, base: backoff, cap: max(refreshAfterWrite ?? backoff, backoff))))
            }
            if let listener = configuration.refreshFailureListener, !(error is CancellationError) {
                listener(key, error)
            }
        }
        deliver(notes)
    }

    /// The wait before retrying a refresh after `failures` failures in a row: `base` doubled per
    /// failure, at most `cap`.
    static func delay(afterFailures failures: Int, base: Int64, cap: Int64) -> Int64 {
        let doublings = min(max(0, failures - 1), 62)
        let (scaled, overflow) = base.multipliedReportingOverflow(by: Int64(1) << doublings)
        return min(overflow ? Int64.max : scaled, cap)
    }

    private func clearRefreshing(_ key: Key, hash: UInt64, generation: UInt64) {
        shard(hash).state.withLock { s in
            if let i = s.index[key], s[entry: i].generation == generation { s[entry: i].refreshing = false }
        }
    }
}

import Synchronization

/// Replaying reads, expiring entries, adapting the policy, and reporting.
extension MemoryCache {
    /// Applies buffered reads to the policy. Policy lock held.
    @inlinable
    func drain(_ p: inout PolicyState<Key>) {
        for shard in shards { drain(shard, &p) }
    }

    /// Applies one shard's buffered reads to the policy. Policy lock held.
    @inlinable
    func drain(_ shard: CacheShard<Key, Value>, _ p: inout PolicyState<Key>) {
        var hits = 0
        var misses = 0
        shard.state.withLock { s in
            p.scratch.append(contentsOf: s.reads)
            s.reads.removeAll(keepingCapacity: true)
            hits = s.sampleHits
            misses = s.sampleMisses
            s.sampleHits = 0
            s.sampleMisses = 0
        }
        p.policy.recordLookups(hits: hits, misses: misses)
        for slot in p.scratch { p.policy.recordAccess(slot) }
        p.scratch.removeAll(keepingCapacity: true)
    }

    /// Drains a full read buffer if the policy lock is free right now; readers never wait for it.
    /// Only that shard is drained: the others are replayed when their own buffers fill, on the next
    /// write, or in maintenance, whichever comes first.
    @usableFromInline
    func drainIfAvailable(_ shard: CacheShard<Key, Value>) {
        _ = policyState.withLockIfAvailable { p in drain(shard, &p) }
    }

    /// Performs pending maintenance now: applies buffered reads, removes expired entries (telling
    /// the listener), lets the hill climber adapt the window, and reports metrics.
    /// ``MemoryCacheMaintenance`` calls it periodically; call it directly with a manual clock.
    public func cleanUp() {
        var notes = Notifications<Key, Value>()
        let now = clock.nanoseconds()
        let snapshot = policyState.withLock { p -> CacheStatistics in
            drain(&p)
            expireDue(now: now, in: &p, notes: &notes)
            let evicted = p.policy.climb()
            removeEvicted(evicted, cause: .size, in: &p, notes: &notes)
            updateMirrors(p)
            return statistics(p)
        }
        deliver(notes)
        metrics.report(snapshot, count: count, weightedSize: weightedSize)
    }

    /// Removes the entries whose timers are due and that are expired (telling the listener), and
    /// reschedules those read since their timer was set. Policy lock held; no shard lock held.
    @usableFromInline
    func expireDue(now: Int64, in p: inout PolicyState<Key>, notes: inout Notifications<Key, Value>) {
        for slot in p.wheel.advance(to: now) {
            guard p.policy.isLive(slot), let key = p.keys[Int(slot)] else { continue }
            shard(p.policy.hash(of: slot)).state.withLock { s in
                guard let i = s.index[key], s[entry: i].slot == slot else { return }
                let entry = s[entry: i]
                if isExpired(entry, now: now) {
                    s.removeEntry(forKey: key)
                    forget(key, entry, cause: .expired, in: &p, notes: &notes)
                } else {
                    p.wheel.schedule(slot, at: nextExpiry(entry))  // read since: idle deadline moved
                }
            }
        }
    }

    /// A snapshot of the cache's counters.
    public var statistics: CacheStatistics {
        policyState.withLock { statistics($0) }
    }

    /// Policy lock held.
    func statistics(_ p: PolicyState<Key>) -> CacheStatistics {
        var stats = CacheStatistics()
        for shard in shards {
            shard.state.withLock { s in
                stats.hits += s.hits
                stats.misses += s.misses
            }
        }
        stats.loadSuccesses = p.loadSuccesses
        stats.loadFailures = p.loadFailures
        stats.totalLoadTime = .nanoseconds(p.loadNanoseconds)
        stats.removals = p.removals
        return stats
    }

    /// Records a finished load in the statistics.
    func recordLoad(success: Bool, nanoseconds: Int64) {
        policyState.withLock { p in
            if success { p.loadSuccesses += 1 } else { p.loadFailures += 1 }
            p.loadNanoseconds += max(0, nanoseconds)
        }
        metrics.recordLoad(success: success, nanoseconds: nanoseconds)
    }

    /// The policy's queues, for tests and diagnostics: (window, probation, protected) weights and
    /// the window's current maximum.
    public var policySnapshot: (window: Int, probation: Int, protected: Int, windowMaximum: Int) {
        policyState.withLock { p in
            (p.policy.weight(of: .window), p.policy.weight(of: .probation), p.policy.weight(of: .protected),
             p.policy.windowMaximum)
        }
    }
}

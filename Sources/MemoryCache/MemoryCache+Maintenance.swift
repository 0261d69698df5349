import Synchronization

/// Replaying reads, expiring entries, adapting the policy, and reporting.
extension MemoryCache {
    /// Applies every flagged shard's buffered reads to the policy. Policy lock held.
    /// Shards with nothing recorded are skipped without taking their locks; the work is bounded
    /// by the shard count times the read buffer size.
    @inlinable
    func drain(_ p: inout PolicyState<Key>) {
        for word in 0..<pendingShards.wordCount {
            var bits = pendingShards.take(word: word)
            while bits != 0 {
                let index = word << 6 | bits.trailingZeroBitCount
                bits &= bits &- 1
                shards[index].state.withLock { s in
                    p.scratch.append(contentsOf: s.reads)
                    s.reads.removeAll(keepingCapacity: true)
                    s.flagged = false
                }
            }
        }
        for record in p.scratch {
            // Credit the read only if the slot still holds the entry that was read.
            let slot = ReadRecord.slot(record)
            guard Int(slot) < p.slotGenerations.count, p.slotGenerations[Int(slot)] == ReadRecord.generation(record),
                  p.policy.isLive(slot) else { continue }
            p.policy.recordAccess(slot)
        }
        p.scratch.removeAll(keepingCapacity: true)
    }

    /// Drains the read buffers if the policy lock is free right now; readers never wait for it.
    @usableFromInline
    func drainIfAvailable() {
        _ = policyState.withLockIfAvailable { p in drain(&p) }
    }

    /// Performs pending maintenance now: applies buffered reads, removes expired entries (telling
    /// the listener), lets the policy move its window to the shadows' choice, and reports metrics.
    /// ``MemoryCacheMaintenance`` calls it periodically; call it directly with a manual clock.
    /// One call expires at most 1 000 entries; ``MemoryCacheMaintenance`` runs again at once while
    /// more are due. Overlapping calls are safe: metrics never count a change twice.
    public func cleanUp() {
        _ = maintain()
    }

    /// One maintenance pass; returns whether expired entries are left for another.
    func maintain() -> Bool {
        var notes = Notifications<Key, Value>()
        let now = clock.nanoseconds()
        let (snapshot, left) = policyState.withLock { p -> (CacheStatistics, Bool) in
            drain(&p)
            let left = expireDue(now: now, in: &p, notes: &notes)
            let evicted = p.policy.climb()
            removeEvicted(evicted, cause: .size, in: &p, notes: &notes)
            updateMirrors(p)
            return (statistics(p), left)
        }
        deliver(notes)
        metrics.report(snapshot, count: count, weightedSize: weightedSize)
        return left
    }

    /// Entries expired per maintenance pass or write at most (as Caffeine), so a mass expiry
    /// cannot stall a writer; the rest wait in a backlog for the next passes (reads never return
    /// them). Each due timer is taken from the wheel once, so working off N due entries is O(N).
    static var expirationsPerPass: Int { 1000 }

    /// Removes up to ``expirationsPerPass`` entries whose timers are due and that are expired
    /// (telling the listener), and reschedules those read since their timer was set. Policy lock
    /// held; no shard lock held.
    /// - Returns: whether due entries are left for a later pass
    @usableFromInline
    @discardableResult
    func expireDue(now: Int64, in p: inout PolicyState<Key>, notes: inout Notifications<Key, Value>) -> Bool {
        p.expiryBacklog.append(contentsOf: p.wheel.advance(to: now))
        var processed = 0
        while processed < Self.expirationsPerPass, let slot = p.expiryBacklog.popLast() {
            processed += 1
            guard p.policy.isLive(slot), let key = p.keys[Int(slot)] else { continue }
            shard(p.policy.hash(of: slot)).state.withLock { s in
                guard let i = s.index[key], s[entry: i].slot == slot else { return }
                let entry = s[entry: i]
                if isExpired(entry, now: now) {
                    s.removeEntry(forKey: key)
                    forget(key, entry, cause: .expired, in: &p, notes: &notes)
                } else if nextExpiry(entry) != Int64.max {
                    p.wheel.schedule(slot, at: nextExpiry(entry))  // read since: idle deadline moved
                }
            }
        }
        return !p.expiryBacklog.isEmpty
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
        for cause in RemovalCause.allCases where p.removals[cause.index] > 0 { stats.removals[cause] = p.removals[cause.index] }
        stats.refreshSuccesses = p.refreshSuccesses
        stats.refreshFailures = p.refreshFailures
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

import Synchronization

/// Storing and forgetting entries; every function here runs with the policy lock held.
extension MemoryCache {
    /// When a store may happen.
    @usableFromInline
    enum StoreCondition {
        /// Always (an explicit insert; supersedes a load in flight).
        case always
        /// Only while this load is still the key's load in flight (not invalidated or abandoned).
        case whileLoading(LoadOperation<Value>)
        /// Only while the key's entry is still the one of this generation (a refresh). The store
        /// does not count as a read of the entry.
        case whileGeneration(UInt64)
        /// Only if no store or invalidation touched the key (or its tags) after this generation.
        case unchangedSince(UInt64)
    }

    /// Stores a value under the policy lock and evicts what no longer fits.
    /// - Returns: the stored entry's generation and write time, or why it was not stored
    @inlinable
    @discardableResult
    func store(
        _ key: Key, hash: UInt64, value: Value, tags: [String], expiry: Expiry, weight: Int?,
        condition: StoreCondition, notes: inout Notifications<Key, Value>
    ) -> StoreOutcome {
        if weight != nil, case .entries = configuration.bound {
            preconditionFailure("MemoryCache: an explicit weight needs a weight-bounded cache (.weight); an entry-bounded cache counts entries")
        }
        let weight = max(0, weight ?? weigh(key, value))
        let now = clock.nanoseconds()
        let expiresAt = absoluteExpiry(expiry, now: now)  // converts instants and dates (user clock) outside the locks
        if expiresAt != Int64.max && !anyEntryExpiry.load(ordering: .relaxed) {
            anyEntryExpiry.store(true, ordering: .relaxed)
        }
        return policyState.withLock { p -> StoreOutcome in
            let shard = shard(hash)
            drain(&p)  // pending reads first (every shard that has any), so the policy sees them before this write
            // A write that would need room expires what is due first, so a full cache never evicts
            // a live entry while it keeps an expired one (before any shard lock is taken; only when
            // some entry can expire at all).
            let (needed, overflow) = p.policy.weightedSize.addingReportingOverflow(weight)
            if needsClockOnRead && (overflow || needed > maximum) {
                expireDue(now: now, in: &p, notes: &notes)
            }
            var evicted: [WTinyLFUPolicy.Eviction] = []
            var slot: Int32 = -1
            var stored = false
            var refused: RemovalCause?
            var access = true
            var tags = tags
            shard.state.withLock { s in
                switch condition {
                case .always:
                    s.loads.removeValue(forKey: key)
                case .whileLoading(let load):
                    guard s.loads[key] === load else { return }
                    s.loads.removeValue(forKey: key)
                case .whileGeneration(let generation):
                    guard let i = s.index[key], s[entry: i].generation == generation else { return }
                    access = false
                    // A refresh keeps the entry's tags (the call that triggered it may name fewer).
                    tags = Array(Set(p.slotTags[Int(s[entry: i].slot)]).union(tags))
                case .unchangedSince(let generation):
                    if let i = s.index[key], s[entry: i].generation > generation { return }
                    if p.touches.touched(key, tags: tags, since: generation) { return }
                }
                if weight > maximum || maximum == 0 || expiresAt <= now {
                    // Too heavy for the whole budget, a cache bounded at 0 (which stores nothing), or
                    // already expired: never stored, never costs a live entry its place; a stale
                    // previous value goes too.
                    if let old = s.removeEntry(forKey: key) {
                        forget(key, old, cause: .replaced, in: &p, notes: &notes)
                    }
                    p.touches.touch(key: key, at: p.nextGeneration())
                    refused = expiresAt <= now && weight <= maximum && maximum > 0 ? .expired : .rejected
                    return
                }
                if !s.refreshBackoff.isEmpty { s.refreshBackoff.removeValue(forKey: key) }
                var entry = CacheEntry(
                    value: value, slot: -1, generation: p.nextGeneration(),
                    writeTime: now, accessTime: now, expiresAt: expiresAt, refreshing: false)
                if let i = s.index[key] {
                    let old = s[entry: i]
                    notes.append(key, old.value, isExpired(old, now: now) ? .expired : .replaced)
                    p.removals[(isExpired(old, now: now) ? RemovalCause.expired : .replaced).index] += 1
                    p.untag(key, slot: old.slot)
                    slot = old.slot
                    entry.slot = slot
                    if !access { entry.accessTime = old.accessTime }  // a refresh is not a read
                    s[entry: i] = entry
                    evicted = p.policy.updateWeight(slot, to: weight, access: access)
                } else {
                    let (newSlot, victims) = p.policy.insert(hash: hash, weight: weight)
                    slot = newSlot
                    p.setKey(key, for: slot)
                    entry.slot = slot
                    s.setEntry(entry, forKey: key)
                    evicted = victims
                }
                stored = true
            }
            if let refused {
                notes.append(key, value, refused)
                p.removals[refused.index] += 1
                updateMirrors(p)
                return .refused
            }
            guard stored else { return .conditionFailed }
            p.slotGenerations[Int(slot)] = UInt32(truncatingIfNeeded: p.generation)
            p.tag(key, hash: hash, slot: slot, tags)
            let due = timeToIdle.map { min(expiresAt, saturatingAdd(now, $0)) } ?? expiresAt
            if due != Int64.max {
                p.wheel.schedule(slot, at: due)
            } else {
                p.wheel.deschedule(slot)
            }
            removeEvicted(evicted, cause: .size, in: &p, notes: &notes)
            // Adapt the window once a sample is complete (cheap otherwise), as maintenance does.
            removeEvicted(p.policy.climb(), cause: .size, in: &p, notes: &notes)
            updateMirrors(p)
            return .stored(StoreReceipt(generation: p.generation, writeTime: now))
        }
    }

    /// Removes entries the policy evicted from their shards (if they still hold that slot).
    @inlinable
    func removeEvicted(
        _ evicted: [WTinyLFUPolicy.Eviction], cause: RemovalCause, in p: inout PolicyState<Key>,
        notes: inout Notifications<Key, Value>
    ) {
        for eviction in evicted {
            guard let key = p.keys[Int(eviction.slot)] else { continue }
            p.keys[Int(eviction.slot)] = nil
            p.wheel.deschedule(eviction.slot)
            shard(eviction.hash).state.withLock { s in
                guard let i = s.index[key], s[entry: i].slot == eviction.slot,
                      let old = s.removeEntry(forKey: key) else { return }
                p.untag(key, slot: eviction.slot)
                p.touches.touch(key: key, at: old.generation)
                notes.append(key, old.value, cause)
                p.removals[cause.index] += 1
            }
        }
    }

    /// Drops a removed entry from the policy, the wheel and the tag index, and notes why.
    @inlinable
    func forget(
        _ key: Key, _ entry: CacheEntry<Value>, cause: RemovalCause, in p: inout PolicyState<Key>,
        notes: inout Notifications<Key, Value>
    ) {
        p.untag(key, slot: entry.slot)
        if p.policy.remove(entry.slot) { p.keys[Int(entry.slot)] = nil }
        p.wheel.deschedule(entry.slot)
        // A conditional insert must lose to what this entry was (a store after its token), and to
        // an explicit removal itself.
        p.touches.touch(key: key, at: cause == .explicit ? p.generation : entry.generation)
        notes.append(key, entry.value, cause)
        p.removals[cause.index] += 1
    }

    @inlinable
    func absoluteExpiry(_ expiry: Expiry, now: Int64) -> Int64 {
        var due = Int64.max
        if let ttl = timeToLive { due = min(due, saturatingAdd(now, max(0, ttl))) }
        switch expiry {
        case .never: break
        case .after(let duration):
            due = min(due, saturatingAdd(now, max(0, nanosecondCount(of: duration))))
        case .at(let instant): due = min(due, clock.nanoseconds(at: instant))
        case .atWallClock(let date): due = min(due, clock.nanoseconds(atWallClock: date))
        }
        return due
    }

    @inlinable
    func weigh(_ key: Key, _ value: Value) -> Int {
        switch configuration.bound {
        case .entries: 1
        case .weight(_, let weigher): weigher(key, value)
        }
    }

    @inlinable
    func updateMirrors(_ p: PolicyState<Key>) {
        countMirror.store(p.policy.count, ordering: .relaxed)
        weightMirror.store(p.policy.weightedSize, ordering: .relaxed)
    }

    /// Tells the listener, outside every lock.
    @inlinable
    func deliver(_ notes: Notifications<Key, Value>) {
        guard let listener = configuration.removalListener else { return }
        for (key, value, cause) in notes.items { listener(key, value, cause) }
    }
}

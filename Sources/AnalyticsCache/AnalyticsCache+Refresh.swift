import EventLogCore
import Synchronization

/// What the cache knows of a key read through it.
struct EntryInfo: Sendable {
    var query: String
    var values: [ParameterValue]
    var scope: ScopeValue
    var scopeValue: String?
    var tags: Set<String>
    /// When a client last read it, on L1's clock (nanoseconds).
    var lastRead: Int64
}

/// Key → ``EntryInfo``, sharded so that reads on many cores do not meet on one lock, with an index
/// tag → keys (so an invalidation finds its keys without scanning them all); bounded by L1 (an
/// entry L1 evicts is forgotten here).
final class EntryDirectory: Sendable {
    private final class Shard: Sendable {
        let map = Mutex<[String: EntryInfo]>([:])
    }

    private let shards: [Shard] = (0..<16).map { _ in Shard() }
    private let byTag = Mutex<[String: Set<String>]>([:])

    private func shard(_ key: String) -> Shard {
        shards[Int(UInt(bitPattern: key.hashValue) % UInt(shards.count))]
    }

    func read(_ key: String, _ info: EntryInfo) {
        let old = shard(key).map.withLock { map -> EntryInfo? in
            defer { map[key] = info }
            return map[key]
        }
        guard old?.tags != info.tags else { return }  // the index changes only with a key's tags
        byTag.withLock { index in
            for tag in old?.tags ?? [] where !info.tags.contains(tag) { index[tag]?.remove(key) }
            for tag in info.tags { index[tag, default: []].insert(key) }
        }
    }

    func info(_ key: String) -> EntryInfo? { shard(key).map.withLock { $0[key] } }

    /// Records a read of a known key.
    /// - Returns: false when the key is not known (its tags must be given with ``read(_:_:)``)
    func touch(_ key: String, lastRead: Int64) -> Bool {
        shard(key).map.withLock { map in
            guard map[key] != nil else { return false }
            map[key]?.lastRead = lastRead
            return true
        }
    }

    func forget(_ key: String) {
        guard let old = shard(key).map.withLock({ $0.removeValue(forKey: key) }) else { return }
        byTag.withLock { index in
            for tag in old.tags {
                index[tag]?.remove(key)
                if index[tag]?.isEmpty == true { index.removeValue(forKey: tag) }
            }
        }
    }

    /// The keys whose tags meet `tags` (all keys when `tags` is nil).
    /// - Complexity: O(matching keys), through the tag index; O(keys known) for nil
    func matching(_ tags: Set<String>?) -> [(String, EntryInfo)] {
        guard let tags else {
            return shards.flatMap { shard in shard.map.withLock { map in map.map { ($0.key, $0.value) } } }
        }
        let keys = byTag.withLock { index in tags.reduce(into: Set<String>()) { $0.formUnion(index[$1] ?? []) } }
        return keys.compactMap { key in info(key).map { (key, $0) } }
    }
}

extension AnalyticsCache {
    /// A snapshot of the cache's counters.
    public func statistics() -> AnalyticsCacheStatistics { counters.withLock { $0 } }

    /// After an invalidation of `tags` (nil: everything): tells the bus which results changed, and
    /// queues a refresh of the hot ones (read within the refresh window, or watched by a bus
    /// subscriber) — whether L1 held them or a load of them was in flight.
    func afterInvalidation(
        tags: Set<String>?, reason: AnalyticsUpdate.Reason, position: Int64?, eventTypes: Set<String>, aggregates: Set<AggregateID>
    ) {
        let affected = entries.matching(tags)
        guard !affected.isEmpty else { return }
        counters.withLock { $0.invalidatedEntries += affected.count }
        let now = configuration.clock.nanoseconds()
        for (key, info) in affected {
            bus.publish(AnalyticsUpdate(query: info.query, key: key, parameters: info.values, scope: info.scopeValue, reason: reason,
                                        position: position, eventTypes: eventTypes, aggregates: aggregates, result: nil))
            counters.withLock { $0.published += 1 }
            metrics.invalidated(info.query, reason: reason)
            configuration.logger.debug("invalidated", metadata: [
                "query": "\(info.query)", "key": "\(key)", "reason": "\(reason.rawValue)", "position": "\(position.map(String.init) ?? "-")",
            ])
            let recent = configuration.refreshWindow.map { window in
                let (seconds, attoseconds) = window.components
                return now - info.lastRead <= seconds * 1_000_000_000 + attoseconds / 1_000_000_000
            } ?? false
            guard recent || bus.isWatched(query: info.query, key: key, scope: info.scopeValue) else {
                entries.forget(key)
                continue
            }
            counters.withLock { $0.refreshesQueued += 1 }
            switch refreshPlan.withLock({ $0.invalidated(key) }) {
            case .enqueue: refreshEnqueue.yield(key)
            case .coalesced:
                counters.withLock { $0.coalesced += 1 }
                metrics.coalesced(info.query)
            }
        }
    }

    /// The refresh workers: each takes a queued key, waits until it stays quiet for the refresh
    /// delay (at most the longest refresh delay; coalescing a burst),
    /// recomputes it through L1 (so requests join it) and publishes the result.
    func runRefreshes() async {
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            for await key in refreshQueue {
                if Task.isCancelled { break }
                if running >= configuration.refreshConcurrency {
                    await group.next()
                    running -= 1
                }
                running += 1
                group.addTask { [self] in
                    // Debounce: wait until the key stays quiet for the delay, or the longest wait passed.
                    let deadline = ContinuousClock.now + configuration.refreshMaxDelay
                    repeat {
                        try? await Task.sleep(for: configuration.refreshDelay)
                    } while !Task.isCancelled && refreshPlan.withLock({ $0.takeDirty(key) }) && ContinuousClock.now < deadline
                    refreshPlan.withLock { $0.started(key) }
                    await refresh(key)
                    if refreshPlan.withLock({ $0.finished(key) }) { refreshEnqueue.yield(key) }
                }
            }
            group.cancelAll()
        }
    }

    func refresh(_ key: String) async {
        guard let info = entries.info(key), let query = queries.withLock({ $0[info.query] }) else { return }
        counters.withLock { $0.refreshes += 1 }
        metrics.refreshed(info.query)
        do {
            let position = invalidated.current
            let result = try await result(query, values: info.values, scope: info.scope, options: LookupOptions(), isRefresh: true)
            // Under a new data version the request has a new key: the old one is gone for good.
            let current = self.key(query, info.values, info.scope, dataVersion: probedVersionForKeys(query)).rawValue
            if current != key { entries.forget(key) }
            bus.publish(AnalyticsUpdate(query: info.query, key: current, parameters: info.values, scope: info.scopeValue, reason: .refreshed,
                                        position: position, eventTypes: [], aggregates: [], result: result))
            counters.withLock { $0.published += 1 }
        } catch {
            configuration.logger.warning("refresh failed", metadata: ["query": "\(info.query)", "key": "\(key)", "error": "\(error)"])
        }
    }
}

import DiskCache
import EventLogCore
import EventProjection
import Logging

/// What L2 records with every invalidation: the log and the position through which every
/// invalidation is complete in L2 (written in the transaction of the last removal).
struct InvalidationNote: Equatable {
    static let name = "analytics-cache.invalidated-through"
    var log: String
    var position: Int64

    var note: DiskCacheNote { DiskCacheNote(name: Self.name, value: Array("\(position)\n\(log)".utf8)) }

    init(log: String, position: Int64) {
        self.log = log
        self.position = position
    }

    init?(_ bytes: [UInt8]?) {
        guard let bytes, let text = String(validating: bytes, as: UTF8.self),
              let newline = text.firstIndex(of: "\n"), let position = Int64(text[..<newline]) else { return nil }
        self.log = String(text[text.index(after: newline)...])
        self.position = position
    }
}

extension AnalyticsCache {
    /// The most events replayed to catch L2 up after a restart; beyond it L2 is emptied instead.
    static let recoveryReplayLimit: Int64 = 10_000

    /// Reconciles L2 with the projector once per process, before L2 is read: events the projector
    /// applied but whose invalidation never reached L2 (the previous process stopped between the
    /// two, or ran without this cache) have their stale entries removed now. Lookups and
    /// ``run()`` call it; calling it first only moves the work earlier.
    /// - Returns: whether L2 can be read (false: no L2, or it could not be reconciled and is not
    ///   read by this process)
    @discardableResult
    public func recoverDiskCache() async -> Bool {
        guard let disk = configuration.disk else { return false }
        // An unstructured task, created on first use and awaited by every caller: the work is
        // shared, and one caller's cancellation must not abandon it for the others.
        let task = diskRecovery.withLock { task in
            if let task { return task }
            let started = Task { await self.reconcile(disk) }
            task = started
            return started
        }
        return await task.value && !diskDistrusted.load(ordering: .acquiring)
    }

    /// L2 when it may be read: recovered and trusted.
    func readableDisk() async -> DiskCache? {
        guard configuration.disk != nil, !diskDistrusted.load(ordering: .acquiring) else { return nil }
        return await recoverDiskCache() ? configuration.disk : nil
    }

    /// Without L2: the invalidation progress starts where the projector first started in this
    /// process (or where it stood when the cache was created): events up to there were applied
    /// before any result of this process was computed. Waits for the projector to start.
    func startWithoutDisk() async {
        if let initial = initialApplied {
            invalidated.advance(to: initial)
            return
        }
        while !Task.isCancelled {
            if let first = configuration.projector.firstCheckpoint {
                invalidated.advance(to: first)
                return
            }
            do { try await configuration.projector.waitUntilApplied(0, timeout: .seconds(3600)) } catch { return }
        }
    }

    func reconcile(_ disk: DiskCache) async -> Bool {
        do {
            let identity = try await configuration.log.identity()
            try await configuration.projector.setUp()
            let applied = try await configuration.projector.checkpoint()
            let target = InvalidationNote(log: identity, position: applied)
            let recorded = InvalidationNote(try await disk.note(named: InvalidationNote.name))
            if let recorded, recorded.log == identity, recorded.position >= applied {
                invalidated.advance(to: applied)
                return true
            }
            if let recorded, recorded.log == identity, applied - recorded.position <= Self.recoveryReplayLimit {
                // Expressions with wildcards registered later than this are not matched by
                // staleTags: their entries all go when there is any event to replay.
                var tags: Set<String> = applied > recorded.position ? [RegisteredQuery.wildcardTag] : [], next = recorded.position + 1
                while next <= applied {
                    let events = try await configuration.log.read(from: next, limit: 1_000).filter { $0.position <= applied }
                    guard let last = events.last else { break }
                    tags.formUnion(staleTags(ProjectedBatch(events: events, eventTime: configuration.projector.eventTime)))
                    next = last.position + 1
                }
                let removed = try await disk.removeAll(taggedWithAnyOf: tags, note: target.note)
                configuration.logger.notice("disk cache caught up with events applied before this start", metadata: [
                    "from": "\(recorded.position + 1)", "through": "\(applied)", "removed": "\(removed)",
                ])
            } else {
                // No record, another log, or too far behind: nothing in L2 can be vouched for.
                try await disk.removeAll(note: target.note)
                configuration.logger.notice("disk cache emptied: its invalidations cannot be matched to this log", metadata: [
                    "recorded": "\(recorded.map { "\($0.position)" } ?? "none")", "applied": "\(applied)",
                ])
            }
            // Every event through the checkpoint is now invalidated in L2, and L1 holds nothing
            // older (every load waits for this recovery before computing); later batches come
            // through the projector's commits. So a `waitUntilFresh` for a position applied before
            // this start returns (found by a review: it waited for a batch that never came).
            invalidated.advance(to: applied)
            return true
        } catch {
            diskDistrusted.store(true, ordering: .releasing)
            configuration.logger.error("disk cache could not be reconciled with the projector; L2 is not read", metadata: ["error": "\(error)"])
            return false
        }
    }
}

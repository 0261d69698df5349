import Synchronization

/// Which hot results wait for a background recomputation, coalescing bursts: a key invalidated
/// again while its refresh is queued is not queued twice, and one invalidated while its refresh
/// runs is refreshed once more afterwards (so the last refresh starts after the last event).
/// Pure state: the cache's workers drive it.
struct RefreshPlan {
    enum Step: Equatable {
        /// Queue the key for a worker.
        case enqueue
        /// Already queued, or running and now marked to run again: coalesced.
        case coalesced
    }

    private enum State { case queued(dirty: Bool), running(again: Bool) }
    private var states: [String: State] = [:]

    /// A hot key was invalidated.
    mutating func invalidated(_ key: String) -> Step {
        switch states[key] {
        case nil:
            states[key] = .queued(dirty: false)
            return .enqueue
        case .queued:
            states[key] = .queued(dirty: true)
            return .coalesced
        case .running:
            states[key] = .running(again: true)
            return .coalesced
        }
    }

    /// Whether the key was invalidated again while it waited (clears the mark): the worker waits
    /// once more, so a continuing burst is refreshed after it, not during it.
    mutating func takeDirty(_ key: String) -> Bool {
        guard case .queued(dirty: true) = states[key] else { return false }
        states[key] = .queued(dirty: false)
        return true
    }

    /// A worker takes the key.
    mutating func started(_ key: String) {
        states[key] = .running(again: false)
    }

    /// The refresh ended: whether to queue the key again (it was invalidated meanwhile).
    mutating func finished(_ key: String) -> Bool {
        if case .running(again: true) = states[key] {
            states[key] = .queued(dirty: false)
            return true
        }
        states.removeValue(forKey: key)
        return false
    }

    var pending: Int { states.count }
}

/// Counters of what the cache did (also reported to swift-metrics).
public struct AnalyticsCacheStatistics: Sendable, Equatable {
    /// Results computed by DuckDB (requests and refreshes).
    public var computations = 0
    /// Background refreshes run.
    public var refreshes = 0
    /// Invalidations of hot keys (each queues a refresh, or is coalesced into one).
    public var refreshesQueued = 0
    /// Invalidations of hot keys folded into a refresh already queued or running.
    public var coalesced = 0
    /// Entries removed by invalidation (L1).
    public var invalidatedEntries = 0
    /// Updates published on the bus.
    public var published = 0
}

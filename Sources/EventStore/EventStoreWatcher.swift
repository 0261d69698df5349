import ServiceLifecycle

/// Notices commits made by other processes on the same log and wakes this process's subscribers,
/// by polling the last position (an index lookup) every `interval`. Commits made through this
/// process's store wake subscribers directly; this service is only needed when several processes
/// write one file. Run it in a `ServiceGroup`.
public struct EventStoreWatcher: Service {
    private let lastPosition: @Sendable () async throws -> Int64
    private let signal: ChangeSignal
    private let interval: Duration

    /// Creates the watcher.
    /// - Parameters:
    ///   - store: the store whose subscribers to wake
    ///   - interval: how often to look (default 20 ms, so other processes' events arrive within
    ///     about that much plus a read)
    public init(store: SQLiteEventStore, interval: Duration = .milliseconds(20)) {
        lastPosition = { try await store.lastPosition() }
        signal = store.changes
        self.interval = interval
    }

    /// Polls until cancelled or shut down gracefully.
    public func run() async throws {
        let first = try await lastPosition()
        // Commits made before that first look were never compared with anything: a subscriber that
        // read the log before them may be waiting. Wake everyone once (a spurious wake-up only costs
        // a read of the log).
        signal.signal()
        await cancelWhenGracefulShutdown {
            var seen = first
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: interval)
                    let now = try await lastPosition()
                    if now != seen {
                        seen = now
                        signal.signal()
                    }
                } catch {
                    if Task.isCancelled { return }
                }
            }
        }
    }
}

import Logging
import ServiceLifecycle

/// Notices commits made by other processes on the same log and wakes this process's subscribers,
/// by polling the last position (an index lookup) every `interval`. Commits made through this
/// process's store wake subscribers directly; this service is only needed when several processes
/// write one file. Run it in a `ServiceGroup`.
public struct EventStoreWatcher: Service {
    private let lastPosition: @Sendable () async throws -> Int64
    private let signal: ChangeSignal
    private let interval: Duration
    private let logger: Logger

    /// Creates the watcher.
    /// - Parameters:
    ///   - store: the store whose subscribers to wake
    ///   - interval: how often to look (default 20 ms, so other processes' events arrive within
    ///     about that much plus a read)
    ///   - logger: where failed looks are reported
    public init(
        store: SQLiteEventStore, interval: Duration = .milliseconds(20),
        logger: Logger = Logger(label: "swift-analytics-cache.event-watcher")
    ) {
        lastPosition = { try await store.lastPosition() }
        signal = store.changes
        self.interval = interval
        self.logger = logger
    }

    /// Polls until cancelled or shut down gracefully.
    public func run() async throws {
        let first: Int64
        do {
            first = try await lastPosition()
        } catch is CancellationError where Task.isCancelled {
            return
        }
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
                    logger.warning("could not read the event log's last position", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}

import Logging
import ServiceLifecycle

/// Runs a disk cache's upkeep periodically: removes expired entries (so expired bytes do not wait
/// for eviction) and writes buffered read times back. Run it in a `ServiceGroup`; it stops on
/// graceful shutdown or cancellation, after a last write-back of read times.
public struct DiskCacheMaintenance: Service {
    private let cache: DiskCache
    private let interval: Duration

    /// Creates the service.
    /// - Parameters:
    ///   - cache: the cache to maintain
    ///   - interval: how often (default every 10 s)
    public init(cache: DiskCache, interval: Duration = .seconds(10)) {
        self.cache = cache
        self.interval = interval
    }

    /// One round: expired entries, then read times. Its blocking work runs on the cache's write
    /// queue, off Swift's cooperative threads.
    /// - Returns: the number of expired entries removed
    @discardableResult
    public func runOnce() async throws -> Int {
        let cache = self.cache
        return try await cache.run(on: cache.writes) {
            var removed = 0
            while true {
                let n = try cache.removeExpired(limit: 10_000)
                removed += n
                if n < 10_000 { break }
            }
            try cache.flushAccessTimes()
            return removed
        }
    }

    /// Runs a round every `interval` until cancelled or shut down gracefully.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: interval)
                    try await runOnce()
                } catch is CancellationError {
                    break
                } catch {
                    cache.configuration.logger.error("disk cache maintenance failed", metadata: ["error": "\(error)"])
                }
            }
        }
        try? await cache.run(on: cache.writes) { try cache.flushAccessTimes() }
    }
}

import ServiceLifecycle

/// Runs a cache's maintenance (``MemoryCache/cleanUp()``) periodically, so entries expire and the
/// listener hears about it even when nobody reads the cache. Run it in a `ServiceGroup`; it stops
/// on graceful shutdown or cancellation.
public struct MemoryCacheMaintenance: Service {
    private let maintain: @Sendable () -> Bool
    private let stopRefreshes: @Sendable () -> Void
    private let interval: Duration

    /// Creates the service.
    /// - Parameters:
    ///   - cache: the cache to maintain
    ///   - interval: how often; Caffeine's and moka's equivalents run about once a second
    public init<Key, Value>(cache: MemoryCache<Key, Value>, interval: Duration = .seconds(1)) {
        maintain = { [weak cache] in cache?.maintain() ?? false }
        stopRefreshes = { [weak cache] in cache?.cancelRefreshes() }
        self.interval = interval
    }

    /// Cleans up every `interval` (at once again while a mass expiry is still being worked off,
    /// 1 000 entries a pass) until cancelled or shut down gracefully; then cancels the cache's
    /// background refreshes.
    public func run() async throws {
        defer { stopRefreshes() }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: interval)
                } catch {
                    return
                }
                while maintain() && !Task.isCancelled { await Task.yield() }
            }
        }
    }
}

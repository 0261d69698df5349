import ServiceLifecycle

/// Runs a cache's maintenance (``MemoryCache/cleanUp()``) periodically, so entries expire and the
/// listener hears about it even when nobody reads the cache. Run it in a `ServiceGroup`; it stops
/// on graceful shutdown or cancellation.
public struct MemoryCacheMaintenance: Service {
    private let cleanUp: @Sendable () -> Void
    private let interval: Duration

    /// Creates the service.
    /// - Parameters:
    ///   - cache: the cache to maintain
    ///   - interval: how often; Caffeine's and moka's equivalents run about once a second
    public init<Key, Value>(cache: MemoryCache<Key, Value>, interval: Duration = .seconds(1)) {
        cleanUp = { [weak cache] in cache?.cleanUp() }
        self.interval = interval
    }

    /// Cleans up every `interval` until cancelled or shut down gracefully.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: interval)
                } catch {
                    return
                }
                cleanUp()
            }
        }
    }
}

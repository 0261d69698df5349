import CLMDB
import Logging
import Metrics

#if canImport(Glibc)
import Glibc
#endif

/// How hard each commit tries to reach the disk, mirroring redb's durability levels with LMDB's
/// flags. Whatever the mode, a process crash (kill -9, a trap) loses nothing committed: the data is
/// in the operating system's page cache the moment `put` returns.
public enum Durability: Sendable {
    /// `MDB_NOSYNC`: no flush at commit. An OS crash or power loss may lose recent commits and, as
    /// LMDB's documentation warns, may leave the file inconsistent. The next open moves such a file
    /// aside when LMDB or the check at open notices; damage that neither notices can go unseen
    /// until a read meets it (a record that fails its checksums is still never returned).
    case none
    /// `MDB_NOMETASYNC`: data pages are flushed at commit, the meta page lazily. An OS crash may
    /// lose the last transaction; the file stays consistent.
    case eventual
    /// Full `fsync` at every commit: a committed entry survives an OS crash or power loss.
    case immediate

    var flags: Int32 {
        switch self {
        case .none: MDB_NOSYNC
        case .eventual: MDB_NOMETASYNC
        case .immediate: 0
        }
    }
}

/// Wall-clock time for expiry and access order, injectable so tests never sleep.
///
/// Wall-clock (not monotonic) because the times are stored and compared after a restart.
public protocol DiskCacheClock: Sendable {
    /// Microseconds since the Unix epoch.
    func now() -> Int64
}

/// The system's real-time clock.
public struct SystemDiskCacheClock: DiskCacheClock {
    public init() {}

    public func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }
}

/// Settings of a ``DiskCache``.
public struct DiskCacheConfiguration: Sendable {
    /// The directory holding LMDB's `data.mdb` and `lock.mdb` (created if missing).
    public var path: String
    /// LMDB's map size: the most the file can grow to. Reserved address space, not memory.
    public var mapSize: Int
    /// The most record bytes (headers and values) kept; least recently read entries go first.
    public var byteBudget: Int
    /// How hard commits try to reach the disk.
    public var durability: Durability
    /// The time source.
    public var clock: any DiskCacheClock
    /// Reads are remembered in memory and written back in batches of about this many entries.
    public var accessFlushThreshold: Int
    /// Where problems (a file moved aside, a corrupt entry) are reported.
    public var logger: Logger
    /// The `cache` dimension of this cache's metrics.
    public var name: String
    /// Where metrics go (`nil`: the process-wide `MetricsSystem`).
    public var metricsFactory: (any MetricsFactory)?
    /// How long an open waits for another process's open of the same directory (which holds the
    /// open lock while it checks the files) before failing.
    public var openLockTimeout: Duration = .seconds(30)

    /// Creates a configuration.
    /// - Parameters:
    ///   - path: the directory for the cache's files
    ///   - mapSize: the largest the file may grow (default 1 GiB)
    ///   - byteBudget: the most record bytes kept (default 3/4 of `mapSize`); at most the map less
    ///     an eighth kept free for copy-on-write (opening refuses more). Entries are also evicted when
    ///     LMDB's pages in use reach that limit, whatever their record bytes
    ///   - durability: how hard commits try to reach the disk (default `.eventual`)
    ///   - clock: the time source (default: the system's real-time clock)
    ///   - accessFlushThreshold: access times buffered before a write-back (default 1 024)
    ///   - logger: where problems are reported
    ///   - name: the `cache` dimension of the metrics (default `disk`)
    ///   - metricsFactory: where metrics go (default: the process-wide `MetricsSystem`)
    public init(
        path: String, mapSize: Int = 1 << 30, byteBudget: Int? = nil, durability: Durability = .eventual,
        clock: any DiskCacheClock = SystemDiskCacheClock(), accessFlushThreshold: Int = 1024,
        logger: Logger = Logger(label: "swift-analytics-cache.disk"), name: String = "disk",
        metricsFactory: (any MetricsFactory)? = nil
    ) {
        self.path = path
        self.mapSize = mapSize
        self.byteBudget = byteBudget ?? mapSize / 4 * 3
        self.durability = durability
        self.clock = clock
        self.accessFlushThreshold = accessFlushThreshold
        self.logger = logger
        self.name = name
        self.metricsFactory = metricsFactory
    }
}

import Logging
import Metrics
import ResultFormat

#if canImport(Glibc)
import Glibc
#endif

/// An async pool of DuckDB connections on one ``Database``.
///
/// - Each statement runs on a thread of the pool's own, one per connection, so a seconds-long
///   query never blocks Swift's cooperative threads.
/// - When every connection is busy, requests wait in a FIFO queue of bounded length; past it they
///   fail at once with ``DuckDBPoolError/overloaded(queueLimit:)`` (shed load, don't pile it up).
/// - A timeout (per request, or the pool's default) interrupts the statement with
///   `duckdb_interrupt`, or drops the request if it has not started; the caller gets
///   ``DuckDBPoolError/timedOut(_:)``.
/// - Cancelling the awaiting task does the same and throws `CancellationError`; the connection is
///   reusable right after.
/// - A statement that ignores the interrupt — blocked in a read DuckDB does not interrupt, such as
///   an HTTP request of `httpfs` to a server that never answers — still answers its caller within
///   200 ms of the deadline or cancellation; its connection stays busy until DuckDB returns (bound
///   that with `Database.Configuration.httpTimeout`), and its late outcome is dropped.
///
/// **Threads.** All connections share the database's DuckDB worker threads (the `threads`
/// setting, default: core count). A running query uses its connection's thread plus whatever
/// DuckDB workers are free, so N connections give N concurrent queries, not N × `threads` cores of
/// work: with many connections, per-query parallelism drops as concurrency rises. Sensible
/// defaults: connections = core count for many short dashboard queries; fewer connections when
/// queries are long scans that parallelise well.
public final class DuckDBPool: Sendable {
    /// Pool settings.
    public struct Configuration: Sendable {
        /// Number of connections (and pool threads); default: the core count.
        public var connections: Int
        /// Maximum number of requests waiting for a connection before new ones are refused.
        public var queueLimit: Int
        /// Timeout applied to requests that give none; nil: no timeout.
        public var defaultTimeout: Duration?
        /// How long an idle pool thread polls for its next request before it sleeps. Waking a
        /// sleeping thread costs tens of microseconds on a VM; polling briefly saves that for
        /// back-to-back requests at the price of that much CPU per idle transition. Zero disables it.
        public var idleSpin: Duration
        /// The pool's name in logs and in the `pool` dimension of its metrics.
        public var name: String
        /// Where the pool logs.
        public var logger: Logger
        /// Where its metrics go; nil: the process's bootstrapped `MetricsSystem`.
        public var metricsFactory: (any MetricsFactory)?

        /// Creates a configuration.
        /// - Parameters:
        ///   - connections: number of connections, default the core count
        ///   - queueLimit: maximum waiting requests, default 1024
        ///   - defaultTimeout: timeout for requests that give none
        ///   - idleSpin: how long an idle pool thread polls before sleeping, default 50 µs
        ///   - name: the pool's name in logs and metrics
        ///   - logger: where to log
        ///   - metricsFactory: where metrics go, nil for the bootstrapped `MetricsSystem`
        public init(
            connections: Int = DuckDBPool.coreCount, queueLimit: Int = 1024, defaultTimeout: Duration? = nil,
            idleSpin: Duration = .microseconds(50), name: String = "duckdb-pool",
            logger: Logger = Logger(label: "DuckDBPool"), metricsFactory: (any MetricsFactory)? = nil
        ) {
            self.connections = max(1, connections)
            self.queueLimit = max(0, queueLimit)
            self.defaultTimeout = defaultTimeout
            self.idleSpin = max(.zero, idleSpin)
            self.name = name
            self.metricsFactory = metricsFactory
            self.logger = logger
        }
    }

    /// The database the connections belong to.
    public let database: Database
    /// The settings.
    public let configuration: Configuration
    let core: PoolCore

    /// Opens `configuration.connections` connections and starts their threads.
    /// - Parameters:
    ///   - database: the database to connect to
    ///   - configuration: pool settings
    /// - Throws: ``DuckDBError`` when a connection cannot be made
    public init(database: Database, configuration: Configuration = .init()) throws {
        self.database = database
        self.configuration = configuration
        let connections = try (0..<configuration.connections).map { _ in try database.connect() }
        core = PoolCore(
            name: configuration.name, connections: connections, queueLimit: configuration.queueLimit,
            spin: configuration.idleSpin, metricsFactory: configuration.metricsFactory)
    }

    deinit {
        core.beginShutdown()
    }

    /// Runs a parameterised statement and returns its result.
    /// - Parameters:
    ///   - sql: one statement; its prepared form is cached per connection
    ///   - parameters: values for its placeholders
    ///   - timeout: overrides the pool's default timeout
    /// - Returns: the columnar result
    /// - Throws: ``DuckDBError`` from DuckDB, ``DuckDBPoolError``, or `CancellationError`
    public func query(_ sql: String, _ parameters: [DuckDBValue] = [], timeout: Duration? = nil) async throws -> QueryResult {
        try await withConnection(timeout: timeout) { try $0.query(sql, parameters) }
    }

    /// Runs one or more statements and returns what the last produced.
    /// - Parameters:
    ///   - sql: the script
    ///   - timeout: overrides the pool's default timeout
    /// - Returns: the last statement's outcome
    /// - Throws: ``DuckDBError``, ``DuckDBPoolError``, or `CancellationError`
    public func execute(_ sql: String, timeout: Duration? = nil) async throws -> StatementOutcome {
        try await withConnection(timeout: timeout) { try $0.execute(sql) }
    }

    /// Runs `body` with a connection on a pool thread. `body` must not keep the connection.
    /// - Parameters:
    ///   - timeout: overrides the pool's default timeout
    ///   - body: the work; runs on a pool thread, so it may block
    /// - Returns: what `body` returned
    /// - Throws: what `body` threw, ``DuckDBPoolError``, or `CancellationError`
    public func withConnection<T: Sendable>(
        timeout: Duration? = nil, _ body: @escaping @Sendable (Connection) throws -> T
    ) async throws -> T {
        try await core.run(timeout: timeout ?? configuration.defaultTimeout, logger: configuration.logger, body)
    }

    /// A snapshot of the pool's state and counters.
    public var statistics: PoolStatistics { core.statistics }

    /// Refuses new requests, fails waiting ones with ``DuckDBPoolError/shutDown``, lets running
    /// ones finish, and returns when every connection is closed.
    public func shutdown() async {
        await core.shutdown()
    }

    /// The number of cores this process may use.
    public static var coreCount: Int {
        #if canImport(Glibc)
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
        return 4
        #endif
    }
}

extension PoolCore {
    func run<T: Sendable>(timeout: Duration?, logger: Logger, _ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        let job = ClosureJob(timeout: timeout, body: body)
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    job.continuation = continuation
                    submit(job)
                }
            } onCancel: {
                cancel(job)
            }
        } catch let error as DuckDBPoolError {
            logger.debug("\(error)", metadata: ["pool": "\(name)"])
            throw error
        }
    }
}

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
        /// Serve-only mode: every statement must be a SELECT (`duckdb_prepared_statement_type`),
        /// appenders are refused, and files and URLs are out of reach (see ``allowsExternalAccess``).
        public var readOnly: Bool
        /// For a ``readOnly`` pool on a database whose external access is unrestricted: whether
        /// queries may still read files and URLs (`read_csv`, `glob`, `read_text`, httpfs). When
        /// false (the default), opening the pool turns DuckDB's `enable_external_access` off for the
        /// whole database — DuckDB's setting is global and cannot be turned back on. To allow some
        /// locations (a dataset's Parquet files), open the database with
        /// `Database.Configuration.externalAccess = .only([...])` instead.
        public var allowsExternalAccess: Bool
        /// The most bytes one result may hold in memory (its values, or a streamed Arrow result's
        /// bytes plus the batch being read); past it the query fails with a `.resultTooLarge`
        /// ``DuckDBError`` naming the cap, instead of exhausting memory outside DuckDB's own
        /// `memory_limit`. Nil: no cap. Default 1 GiB.
        public var maxResultBytes: Int?

        /// Creates a configuration.
        /// - Parameters:
        ///   - connections: number of connections, default the core count
        ///   - queueLimit: maximum waiting requests, default 1024
        ///   - defaultTimeout: timeout for requests that give none
        ///   - idleSpin: how long an idle pool thread polls before sleeping, default 50 µs
        ///   - name: the pool's name in logs and metrics
        ///   - logger: where to log
        ///   - metricsFactory: where metrics go, nil for the bootstrapped `MetricsSystem`
        ///   - readOnly: SELECT statements only, no file or URL access unless allowed
        ///   - allowsExternalAccess: for a read-only pool, keep the database's external access
        ///   - maxResultBytes: the most bytes one result may hold, nil for no cap
        public init(
            connections: Int = DuckDBPool.coreCount, queueLimit: Int = 1024, defaultTimeout: Duration? = nil,
            idleSpin: Duration = .microseconds(50), name: String = "duckdb-pool",
            logger: Logger = Logger(label: "DuckDBPool"), metricsFactory: (any MetricsFactory)? = nil,
            readOnly: Bool = false, allowsExternalAccess: Bool = false, maxResultBytes: Int? = 1 << 30
        ) {
            self.maxResultBytes = maxResultBytes.map { max(0, $0) }
            self.readOnly = readOnly
            self.allowsExternalAccess = allowsExternalAccess
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
    package let core: PoolCore

    /// Opens `configuration.connections` connections and starts their threads.
    /// - Parameters:
    ///   - database: the database to connect to
    ///   - configuration: pool settings
    /// - Throws: ``DuckDBError`` when a connection cannot be made
    public init(database: Database, configuration: Configuration = .init()) throws {
        self.database = database
        self.configuration = configuration
        let connections = try (0..<configuration.connections).map { _ in try database.connect() }
        if configuration.readOnly && !configuration.allowsExternalAccess && database.configuration.externalAccess == .unrestricted,
            let first = connections.first
        {
            _ = try first.execute("SET GLOBAL enable_external_access = false")
        }
        core = PoolCore(
            name: configuration.name, connections: connections, queueLimit: configuration.queueLimit,
            spin: configuration.idleSpin, metricsFactory: configuration.metricsFactory, selectOnly: configuration.readOnly,
            maxResultBytes: configuration.maxResultBytes)
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

    /// Runs a parameterised statement and returns its result as Arrow IPC bytes, written batch by
    /// batch as DuckDB produces it (what a cache stores and serves without re-encoding).
    /// - Parameters:
    ///   - sql: one statement; its prepared form is cached per connection
    ///   - parameters: values for its placeholders
    ///   - maxRowsPerBatch: rows per record batch
    ///   - timeout: overrides the pool's default timeout
    /// - Returns: the Arrow IPC stream
    /// - Throws: ``DuckDBError`` (`.resultTooLarge` past ``Configuration/maxResultBytes``),
    ///   ``DuckDBPoolError``, or `CancellationError`
    public func queryArrow(
        _ sql: String, _ parameters: [DuckDBValue] = [], maxRowsPerBatch: Int = 65_536, timeout: Duration? = nil
    ) async throws -> [UInt8] {
        try await withConnection(timeout: timeout) { try $0.queryArrow(sql, parameters, maxRowsPerBatch: maxRowsPerBatch) }
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

    /// Refuses new requests, fails waiting ones with ``DuckDBPoolError/shutDown``, interrupts running
    /// ones (their callers get ``DuckDBPoolError/shutDown`` at once, or within 200 ms for a statement
    /// that ignores the interrupt), and returns when every connection is closed.
    public func shutdown() async {
        await core.shutdown()
    }

    /// The tables a statement reads or writes (see ``Connection/tableNames(in:qualified:)``).
    /// - Parameters:
    ///   - sql: the statement; nothing runs
    ///   - qualified: names as qualified in the SQL text
    /// - Returns: the distinct names, sorted
    /// - Throws: ``DuckDBError`` when the SQL does not parse, or the pool's errors
    public func tableNames(in sql: String, qualified: Bool = false) async throws -> [String] {
        try await withConnection { try $0.tableNames(in: sql, qualified: qualified) }
    }

    /// The kind of a statement, as DuckDB classifies it once prepared on this pool's database.
    /// - Parameter sql: one statement; nothing runs
    /// - Returns: its type (a registry accepts only ``StatementType/select`` for served queries)
    /// - Throws: ``DuckDBError`` of kind `.prepare` when it does not prepare
    public func statementType(of sql: String) async throws -> StatementType {
        try await withConnection { try $0.prepare(sql).statementType }
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

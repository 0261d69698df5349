import Logging

/// The single writer connection of a database: serialises every write (projections, bulk loads)
/// on one thread of its own, in submission order.
///
/// DuckDB allows one writer per file at a time; funnelling writes through one connection avoids
/// write-write conflicts between transactions, and its ``Appender`` makes bulk inserts cheap.
public final class DuckDBWriter: Sendable {
    /// The database written to.
    public let database: Database
    /// The timeout of writes that give none; nil: none.
    public let defaultTimeout: Duration?
    let core: PoolCore

    /// Opens the writer's connection and starts its thread.
    /// - Parameters:
    ///   - database: a database opened read-write
    ///   - queueLimit: maximum writes waiting before new ones are refused
    ///   - defaultTimeout: the timeout of writes that give none
    /// - Throws: ``DuckDBError`` when the connection cannot be made
    public init(database: Database, queueLimit: Int = 4096, defaultTimeout: Duration? = nil) throws {
        self.database = database
        self.defaultTimeout = defaultTimeout
        // A write that ignores its interrupt keeps its caller waiting for the real outcome: a
        // write reported as timed out must not commit afterwards.
        core = PoolCore(name: "duckdb-writer", connections: [try database.connect()], queueLimit: queueLimit, answersStuckJobs: false)
    }

    deinit {
        core.beginShutdown()
    }

    /// Runs `body` on the writer connection, after every write submitted before it.
    ///
    /// Unlike the read pool, a write whose statement ignores its interrupt keeps its caller until it
    /// ends, so the outcome the caller gets is the real one (a timeout or cancellation error means
    /// the write did not commit).
    /// - Parameters:
    ///   - timeout: interrupt the write after this long (default: ``defaultTimeout``)
    ///   - body: the work, e.g. `try connection.transaction { … appender … }`
    /// - Returns: what `body` returned
    /// - Throws: what `body` threw, ``DuckDBPoolError``, or `CancellationError`
    public func write<T: Sendable>(timeout: Duration? = nil, _ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await core.run(timeout: timeout ?? defaultTimeout, logger: Logger(label: "DuckDBWriter"), body)
    }

    /// Waits for queued writes to finish, then closes the connection.
    public func shutdown() async {
        await core.shutdown(drain: true)
    }
}

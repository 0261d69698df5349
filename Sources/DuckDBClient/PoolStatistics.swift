/// A snapshot of a pool's state and lifetime counters.
public struct PoolStatistics: Sendable, Equatable {
    /// Connections in the pool.
    public var connections = 0
    /// Connections waiting for work.
    public var idle = 0
    /// Statements running now.
    public var running = 0
    /// Requests waiting for a connection.
    public var queued = 0
    /// Requests whose callers got their statement's own outcome (success or DuckDB's error) since
    /// the pool started; a request counts once, under the outcome its caller received.
    public var completed = 0
    /// Requests refused because the queue was full.
    public var overloaded = 0
    /// Requests that ran out of time (interrupted or never started).
    public var timedOut = 0
    /// Requests cancelled by their callers.
    public var cancelled = 0
    /// Requests stopped by the pool's shutdown while they ran.
    public var shutDown = 0
    /// Times a job left its connection inside a transaction and the pool rolled it back.
    public var transactionsRolledBack = 0
    /// Connections closed and reopened because they could not be brought back to auto-commit.
    public var connectionsReplaced = 0
}

import Metrics

func nanoseconds(_ d: Duration) -> Int64 {
    let (seconds, attoseconds) = d.components
    return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
}

/// The pool's swift-metrics instruments, labelled with the pool's name; a no-op until the process
/// bootstraps a metrics backend.
struct PoolMetrics {
    /// Requests whose callers got their statement's own outcome (a result or DuckDB's error):
    /// `duckdb_pool_requests_total{outcome="completed"}`. Outcomes partition the requests: each
    /// counts once, as what its caller received.
    let completed: Counter
    /// Requests refused because the queue was full.
    let overloaded: Counter
    /// Requests that ran out of time.
    let timedOut: Counter
    /// Requests cancelled by their callers.
    let cancelled: Counter
    /// Requests stopped by the pool's shutdown.
    let shutDown: Counter
    /// Connections the pool had to roll back (`duckdb_pool_resets_total{action="rollback"}`) or
    /// reopen (`action="replace"`) after a job.
    let rolledBack: Counter
    let replaced: Counter
    /// Time from submission to the start on a connection.
    let wait: Metrics.Timer
    /// Time a request ran on its connection.
    let run: Metrics.Timer

    init(pool: String, factory: any MetricsFactory) {
        func requests(_ outcome: String) -> Counter {
            Counter(label: "duckdb_pool_requests_total", dimensions: [("pool", pool), ("outcome", outcome)], factory: factory)
        }
        completed = requests("completed")
        overloaded = requests("overloaded")
        timedOut = requests("timed_out")
        cancelled = requests("cancelled")
        shutDown = requests("shut_down")
        rolledBack = Counter(label: "duckdb_pool_resets_total", dimensions: [("pool", pool), ("action", "rollback")], factory: factory)
        replaced = Counter(label: "duckdb_pool_resets_total", dimensions: [("pool", pool), ("action", "replace")], factory: factory)
        wait = Metrics.Timer(label: "duckdb_pool_wait_seconds", dimensions: [("pool", pool)], factory: factory)
        run = Metrics.Timer(label: "duckdb_pool_run_seconds", dimensions: [("pool", pool)], factory: factory)
    }
}


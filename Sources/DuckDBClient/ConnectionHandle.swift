import CDuckDB
import Synchronization

/// Owns one `duckdb_connection`: closes it when the last owner — its ``Connection``, or an
/// ``InterruptHandle`` that outlived it — lets go, so an interrupt can never reach freed memory.
///
/// Interrupts are scoped by an *epoch*: a pool advances it after each job, and an
/// ``InterruptHandle`` only fires while the epoch it was made in lasts, so a handle kept past its
/// job cannot stop a later job on the same, reused connection.
final class ConnectionHandle: @unchecked Sendable {
    // @unchecked Sendable: `raw` never changes after init; the only calls made on it from other
    // threads are `duckdb_interrupt` (documented as thread-safe while the connection runs) and
    // `duckdb_disconnect` in deinit, when no other reference exists. The epoch is a Mutex.
    let raw: duckdb_connection
    /// Keeps the database open for as long as the connection is.
    let database: Database
    /// The epoch, and whether the connection was closed early (then interrupts do nothing).
    private let epoch = Mutex<(epoch: UInt64, closed: Bool)>((0, false))

    init(database: Database) throws {
        var connection: duckdb_connection?
        guard duckdb_connect(database.handle, &connection) == DuckDBSuccess, let connection else {
            throw DuckDBError(.connect, "could not connect to the database")
        }
        raw = connection
        self.database = database
    }

    deinit {
        close()
    }

    /// Disconnects now (the pool replacing or retiring a connection), even while an
    /// ``InterruptHandle`` still holds this object; later interrupts do nothing. Idempotent.
    /// Its ``Connection`` (and so its prepared statements) must be gone.
    func close() {
        epoch.withLock { state in
            guard !state.closed else { return }
            state.closed = true
            var c: duckdb_connection? = raw
            duckdb_disconnect(&c)
        }
    }

    /// The current epoch.
    var currentEpoch: UInt64 { epoch.withLock { $0.epoch } }

    /// Ends the current epoch: handles made before stop working. Interrupts in flight finish first.
    func advanceEpoch() { epoch.withLock { $0.epoch &+= 1 } }

    /// Interrupts the running statement if `made` is still the current epoch.
    func interrupt(epoch made: UInt64) {
        epoch.withLock { state in
            if state.epoch == made && !state.closed { duckdb_interrupt(raw) }
        }
    }

    /// Interrupts the running statement, whatever the epoch (the pool, under its own lock).
    func interrupt() {
        epoch.withLock { state in
            if !state.closed { duckdb_interrupt(raw) }
        }
    }
}

/// What a connection's statements must obey and what they may have left behind; shared by a
/// ``Connection`` and its prepared statements, on the connection's thread only.
final class SessionState {
    /// Only SELECT statements may run (a pool's read-only mode).
    var selectOnly = false
    /// A transaction statement ran since the last reset: the connection may be inside an open or
    /// aborted transaction.
    var mayBeInTransaction = false
    /// Results may hold at most this many bytes (a pool's `maxResultBytes`).
    var maxResultBytes: Int?
    /// A statement ran that changes the session for later statements (SET, USE, PREPARE, ATTACH,
    /// CREATE — a TEMP view can hide a table —, LOAD, PRAGMA …): a pool replaces the connection
    /// after the job rather than let the next caller inherit it.
    var changedSession = false
}

/// Interrupts the statement a connection is running; safe to use from any thread.
///
/// The handle keeps the connection's DuckDB handle alive, so using it after the connection is gone
/// is harmless. An interrupt that arrives when nothing runs has no effect on later statements. A
/// handle taken inside a ``DuckDBPool`` job stops working when that job ends.
public struct InterruptHandle: Sendable {
    let handle: ConnectionHandle
    let epoch: UInt64

    /// Asks DuckDB to stop the running statement; it fails with an interrupted error.
    public func interrupt() { handle.interrupt(epoch: epoch) }
}

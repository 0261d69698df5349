import CLMDB
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An LMDB return code that is not success, with the operation that returned it.
public struct LMDBError: Error, Sendable, CustomStringConvertible {
    /// LMDB's (or errno's) code, e.g. `MDB_MAP_FULL`.
    public var code: Int32
    /// What was being done.
    public var operation: String

    public var description: String {
        "LMDB \(operation): \(String(cString: mdb_strerror(code))) (\(code))"
    }

    /// Whether the map (the file's maximum size) is full.
    public var isMapFull: Bool { code == MDB_MAP_FULL }
}

@inline(__always)
func check(_ code: Int32, _ operation: @autoclosure () -> String) throws(LMDBError) {
    guard code == MDB_SUCCESS else { throw LMDBError(code: code, operation: operation()) }
}

/// An open LMDB environment and its named databases.
///
/// `@unchecked Sendable`: an `MDB_env` may be used from any thread (LMDB documents the environment
/// handle as thread-safe); transactions are created and finished inside one call on one thread,
/// and the environment is opened with `MDB_NOTLS`, so read transactions are not tied to threads.
/// The `MDB_dbi` handles are plain integers, fixed after `init`.
final class LMDBEnvironment: @unchecked Sendable {
    let env: OpaquePointer
    /// Run once the environment is closed (in `deinit`): what must not happen while it is still
    /// open — the process's registration of the directory, which lets another open start.
    let afterClose = Mutex<(@Sendable () -> Void)?>(nil)
    let entries: MDB_dbi, tags: MDB_dbi, expiry: MDB_dbi, access: MDB_dbi, lru: MDB_dbi, meta: MDB_dbi

    /// Opens (creating if needed) the environment in directory `path`.
    init(path: String, mapSize: Int, flags: Int32) throws(LMDBError) {
        var env: OpaquePointer?
        try check(mdb_env_create(&env), "env_create")
        guard let env else { throw LMDBError(code: ENOMEM, operation: "env_create") }
        do {
            try check(mdb_env_set_mapsize(env, mapSize), "set_mapsize")
            try check(mdb_env_set_maxdbs(env, 8), "set_maxdbs")
            try check(mdb_env_open(env, path, UInt32(bitPattern: flags | MDB_NOTLS), 0o644), "open \(path)")
            // Reader slots of processes that were killed would otherwise pin old pages forever.
            var dead: Int32 = 0
            try check(mdb_reader_check(env, &dead), "reader_check")
        } catch {
            mdb_env_close(env)
            throw error
        }
        var handles: [MDB_dbi] = []
        var txn: OpaquePointer?
        do {
            try check(mdb_txn_begin(env, nil, 0, &txn), "txn_begin")
            for (name, extra) in [("entries", 0), ("tags", MDB_DUPSORT), ("expiry", 0), ("access", 0), ("lru", 0), ("meta", 0)] {
                var dbi: MDB_dbi = 0
                try check(mdb_dbi_open(txn, name, UInt32(MDB_CREATE | extra), &dbi), "dbi_open \(name)")
                handles.append(dbi)
            }
            try check(mdb_txn_commit(txn), "commit")
        } catch {
            if txn != nil, handles.count < 6 { mdb_txn_abort(txn) }
            mdb_env_close(env)
            throw error
        }
        self.env = env
        (entries, tags, expiry, access, lru, meta) = (handles[0], handles[1], handles[2], handles[3], handles[4], handles[5])
    }

    deinit {
        mdb_env_close(env)
        pthread_rwlock_destroy(resizeLock)
        resizeLock.deallocate()
        afterClose.withLock { $0 }?()
    }

    /// Held shared by every transaction of this process, exclusively while adopting a map size
    /// another process set (LMDB allows that only with no transaction active in this process).
    private let resizeLock: UnsafeMutablePointer<pthread_rwlock_t> = {
        let lock = UnsafeMutablePointer<pthread_rwlock_t>.allocate(capacity: 1)
        pthread_rwlock_init(lock, nil)
        return lock
    }()

    /// Begins a transaction with the resize lock held shared; when another process grew the map
    /// past this process's size (`MDB_MAP_RESIZED`), adopts the new size and begins again.
    private func begin(_ flags: Int32, _ what: String) throws(LMDBError) -> OpaquePointer? {
        while true {
            pthread_rwlock_rdlock(resizeLock)
            var txn: OpaquePointer?
            let code = mdb_txn_begin(env, nil, UInt32(flags), &txn)
            if code == 0 { return txn }
            pthread_rwlock_unlock(resizeLock)
            guard code == MDB_MAP_RESIZED else { throw LMDBError(code: code, operation: what) }
            // Wait (bounded) for this process's other transactions to end. A caller that began
            // this transaction inside another one (a body of `withValue` writing, say) would wait
            // for itself: after a second it gets the error instead of a deadlock.
            var deadline = timespec()
            clock_gettime(CLOCK_REALTIME, &deadline)
            deadline.tv_sec += 1
            guard pthread_rwlock_timedwrlock(resizeLock, &deadline) == 0 else { throw LMDBError(code: code, operation: what) }
            let adopted = mdb_env_set_mapsize(env, 0)
            pthread_rwlock_unlock(resizeLock)
            try check(adopted, "set_mapsize (adopting another process's)")
        }
    }

    /// Runs `body` in a read-only transaction; what it sees stays valid until it returns.
    func read<R>(_ body: (Transaction) throws -> R) throws -> R {
        let txn = try begin(MDB_RDONLY, "read txn_begin")
        defer {
            mdb_txn_abort(txn)
            pthread_rwlock_unlock(resizeLock)
        }
        return try body(Transaction(txn: txn, environment: self, hooks: nil))
    }

    /// Runs `body` in the write transaction and commits it; aborts it if `body` throws.
    /// LMDB admits one write transaction at a time: a second writer waits here.
    func write<R>(_ body: (Transaction) throws -> R) throws -> R {
        let txn = try begin(0, "write txn_begin")
        defer { pthread_rwlock_unlock(resizeLock) }
        let hooks = TransactionHooks()
        let result: R
        do {
            result = try body(Transaction(txn: txn, environment: self, hooks: hooks))
        } catch {
            mdb_txn_abort(txn)
            for undo in hooks.onAbort { undo() }
            throw error
        }
        do {
            try check(mdb_txn_commit(txn), "commit")
        } catch {
            for undo in hooks.onAbort { undo() }
            throw error
        }
        return result
    }

    /// Releases reader slots held by processes that died (they pin pages that could be reused).
    func clearStaleReaders() {
        var dead: Int32 = 0
        _ = mdb_reader_check(env, &dead)
    }

    /// Flushes the data to disk (for `.none` and `.eventual` durability).
    func sync() throws(LMDBError) { try check(mdb_env_sync(env, 1), "sync") }

    /// LMDB's page size.
    var pageSize: Int {
        var stat = MDB_stat()
        mdb_env_stat(env, &stat)
        return Int(stat.ms_psize)
    }

    /// The map's size and the pages in use.
    func usage() -> (mapSize: Int, usedBytes: Int) {
        var info = MDB_envinfo()
        var stat = MDB_stat()
        mdb_env_info(env, &info)
        mdb_env_stat(env, &stat)
        return (info.me_mapsize, (info.me_last_pgno + 1) * Int(stat.ms_psize))
    }
}

/// One LMDB transaction, valid inside the closure that received it.
/// What to undo in memory when a write transaction does not commit; used on the transaction's
/// thread only.
final class TransactionHooks {
    var onAbort: [() -> Void] = []
    /// Pages the transaction's removals may have copied (each B-tree leaf touched, and a leaf of
    /// each tag's own tree): what bounds how much one transaction may evict.
    var dirtyEstimate = 0
}

struct Transaction {
    let txn: OpaquePointer?
    let environment: LMDBEnvironment
    /// Nil for read transactions.
    let hooks: TransactionHooks?

    /// The value stored under `key`, valid until the transaction ends, or `nil`.
    func get(_ dbi: MDB_dbi, _ key: UnsafeRawBufferPointer) throws(LMDBError) -> UnsafeRawBufferPointer? {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val()
        let code = mdb_get(txn, dbi, &k, &v)
        if code == MDB_NOTFOUND { return nil }
        try check(code, "get")
        return UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)
    }

    func put(_ dbi: MDB_dbi, _ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, flags: Int32 = 0) throws(LMDBError) {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        let code = mdb_put(txn, dbi, &k, &v, UInt32(flags))
        if code == MDB_KEYEXIST { return }
        try check(code, "put")
    }

    /// Deletes `key` (with `value`: that one duplicate); returns whether something was deleted.
    @discardableResult
    func delete(_ dbi: MDB_dbi, _ key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer? = nil) throws(LMDBError) -> Bool {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        let code: Int32
        if let value {
            var v = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
            code = mdb_del(txn, dbi, &k, &v)
        } else {
            code = mdb_del(txn, dbi, &k, nil)
        }
        if code == MDB_NOTFOUND { return false }
        try check(code, "del")
        return true
    }

    /// Empties a database.
    func drop(_ dbi: MDB_dbi) throws(LMDBError) { try check(mdb_drop(txn, dbi, 0), "drop") }

    /// Visits entries in key order from `start` (or the first), until `body` returns false. With
    /// `duplicatesOf`, visits only the duplicates of that key (a DUPSORT database).
    func scan(
        _ dbi: MDB_dbi, from start: UnsafeRawBufferPointer? = nil, duplicatesOf: Bool = false,
        _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(txn, dbi, &cursor), "cursor_open")
        defer { mdb_cursor_close(cursor) }
        var k = MDB_val(mv_size: start?.count ?? 0, mv_data: UnsafeMutableRawPointer(mutating: start?.baseAddress))
        var v = MDB_val()
        var op = start == nil ? MDB_FIRST : (duplicatesOf ? MDB_SET_KEY : MDB_SET_RANGE)
        while true {
            let code = mdb_cursor_get(cursor, &k, &v, op)
            if code == MDB_NOTFOUND { return }
            try check(code, "cursor_get")
            let keep = try body(UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size),
                                UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
            if !keep { return }
            op = duplicatesOf ? MDB_NEXT_DUP : MDB_NEXT
        }
    }

    /// The map's pages in use as of the last commit: up to the last page ever used, less the free
    /// pages LMDB can hand out again (every record of its free list but the newest: pages freed by
    /// the last transaction are reusable only after the next one). Counts everything — B-trees,
    /// duplicate sub-pages, the free list itself. Read transactions only (LMDB refuses a cursor on
    /// its free list in a write transaction).
    func usedPages() throws(LMDBError) -> Int {
        var info = MDB_envinfo()
        mdb_env_info(environment.env, &info)
        var free = 0
        var newest = 0
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(txn, 0, &cursor), "cursor_open free")  // FREE_DBI
        defer { mdb_cursor_close(cursor) }
        var k = MDB_val(), v = MDB_val()
        var op = MDB_FIRST
        while mdb_cursor_get(cursor, &k, &v, op) == 0 {
            op = MDB_NEXT
            guard v.mv_size >= MemoryLayout<Int>.size, let data = v.mv_data else { continue }
            let count = data.loadUnaligned(as: Int.self)  // an ID list: its length, then the page numbers
            free += count
            newest = count
        }
        return info.me_last_pgno + 1 - (free - newest)
    }

    /// The pages a database occupies in this transaction's view (branch, leaf and overflow pages).
    func pages(_ dbi: MDB_dbi) throws(LMDBError) -> Int {
        var stat = MDB_stat()
        try check(mdb_stat(txn, dbi, &stat), "stat")
        return stat.ms_branch_pages + stat.ms_leaf_pages + stat.ms_overflow_pages
    }

    /// The number of entries in a database.
    func count(_ dbi: MDB_dbi) throws(LMDBError) -> Int {
        var stat = MDB_stat()
        try check(mdb_stat(txn, dbi, &stat), "stat")
        return stat.ms_entries
    }
}

import CLMDB
import Dispatch
import Foundation
import Logging
import Synchronization

/// L2: a persistent cache of byte values on LMDB, with expiry, tags and a byte budget.
///
/// Entries survive restarts and crashes (see ``Durability``). Each is stored as a record with its
/// full key, times, tags and a CRC-32C of the value (``EntryRecord``); a record that fails its
/// checks is a miss, logged and deleted. A file that cannot be opened or fails the checks at open
/// is moved aside (renamed `…corrupt-<time>`) and the cache starts empty — never a crash loop.
///
/// The methods without `async` block on disk I/O and LMDB's writer lock: call them from threads
/// that may block. The `async` methods run the same work on Dispatch queues, off Swift's
/// cooperative threads.
///
/// Reads do not write: the time of each read is kept in memory and written back in batches (with
/// the next write, or by ``flushAccessTimes()``), coarse to the second. When the record bytes would
/// pass ``DiskCacheConfiguration/byteBudget``, or LMDB's map is full, the least recently read
/// entries are evicted.
public final class DiskCache: Sendable {
    let configuration: DiskCacheConfiguration
    let lmdb: LMDBEnvironment
    /// LMDB's page size, read at open.
    let pageSize: Int
    /// Read times not yet written back: key hash → seconds since the epoch.
    let pendingAccess = Mutex<[UInt64: Int64]>([:])
    let metrics: DiskCacheMetrics
    /// Failure injection for tests: called inside a put's write transaction after its evictions
    /// and before its insert; what it throws aborts the transaction. Always `nil` outside tests.
    let faultAfterEviction = Mutex<(@Sendable () throws -> Void)?>(nil)
    /// Whether a write-back of read times is already queued.
    private let flushQueued = Atomic<Bool>(false)
    private let writeQueue = DispatchQueue(label: "swift-analytics-cache.disk.write")
    let readQueue = DispatchQueue(label: "swift-analytics-cache.disk.read", attributes: .concurrent)

    /// Where the files went when they had to be moved aside at open, if they had to.
    public let movedAsidePath: String?
    /// Held shared for the cache's life: tells other processes' opens that these files are in use.
    private let holders: FileLock
    /// The directory's identity, registered for this process while the cache is open.
    let directoryID: DirectoryID

    /// Opens or creates the cache.
    ///
    /// The path is resolved first (symbolic links, `.`, `..`, a trailing `/`), so every spelling of
    /// one directory coordinates as one. Opens of a directory are serialised across processes by a
    /// lock file inside it (`open.lock`); every open cache holds a shared lock on `holders.lock`
    /// beside it. An open that finds it held knows the files are in use by a live process that
    /// already checked them, so it neither walks nor ever moves them aside. A directory can be open
    /// once per process (LMDB's rule: a second environment on the same files would drop the first
    /// one's locks): a second open throws. When files are moved aside, the copies moved aside
    /// before are deleted (unless a live process holds one), so only the newest stays.
    /// - Parameter configuration: where and how
    /// - Throws: when the environment cannot be opened for a reason that is not damage (permissions,
    ///   a map size the system refuses, LMDB's reader table full, another process's incompatible
    ///   map size, the directory already open in this process, another open holding the open lock
    ///   past ``DiskCacheConfiguration/openLockTimeout``): those files are left alone. A damaged or
    ///   incompatible file, or one whose previous open check never finished (it crashed the
    ///   process), is moved aside instead — unless another live process has it open: then the open
    ///   fails and the files stay.
    public init(configuration: DiskCacheConfiguration) throws {
        var configuration = configuration
        configuration.path = try Self.resolvedPath(configuration.path)
        self.configuration = configuration
        metrics = DiskCacheMetrics(name: configuration.name, factory: configuration.metricsFactory)
        let logger = configuration.logger
        let path = configuration.path
        let marker = path + "/open-check.marker"
        var openLock = try Self.takeOpenLock(path, timeout: configuration.openLockTimeout)
        defer { openLock.unlock() }
        var holders = try FileLock(path: path + "/holders.lock")
        var aside: String?
        var shared: LMDBEnvironment?
        var registered: DirectoryID?
        var alone = try holders.tryLock(exclusive: true)
        // A holder can also be a child process of this one between its fork and its exec (it holds
        // a copy of every descriptor, the lock's too, for those moments). Where joining would
        // leave files that need an open alone (a check that keeps dying, damage, another format),
        // wait briefly — under the open lock, so no other open starts — for them to be ours alone.
        // Files a live process really holds stay held.
        let transientHolderWait = min(configuration.openLockTimeout, .seconds(2))
        let unfinishedChecks = (try? String(contentsOfFile: marker, encoding: .utf8)).flatMap { Int($0) } ?? 0
        if !alone, unfinishedChecks >= Self.unfinishedChecksBeforeMovingAside {
            Self.waitingForTransientHolder.withLock { $0 }?()
            alone = try holders.lock(exclusive: true, timeout: transientHolderWait)
        }
        if !alone {
            // Another live process has these files open and checked them when it opened them:
            // join it. Whatever goes wrong here is reported, never cured by moving its files.
            try holders.lock(exclusive: false)
            let id = try Self.register(path)
            do {
                shared = try Self.openShared(configuration)
            } catch where error is IncompatibleFormat || Self.isDamage(error) {
                Self.unregister(id)
                holders.unlock()
                Self.waitingForTransientHolder.withLock { $0 }?()
                alone = try holders.lock(exclusive: true, timeout: transientHolderWait)
                guard alone else { throw (error as? IncompatibleFormat)?.error(configuration.path) ?? error }
            } catch {
                Self.unregister(id)
                throw error
            }
            if !alone { registered = id }
        }
        let lmdb: LMDBEnvironment
        if let shared, let registered {
            lmdb = shared
            directoryID = registered
        } else {
            var id = try Self.register(path)
            func moveAside(_ reason: String) throws -> String {
                let moved = try Self.moveAside(path, reason: reason, clock: configuration.clock, logger: logger)
                // The new directory, locked before anyone else can enter it.
                let newLock = try Self.takeOpenLock(path, timeout: configuration.openLockTimeout)
                openLock.unlock()
                openLock = newLock
                // The registration names a directory by its inode, which went with the copy: the
                // new directory is the one open now (and the copy may be opened to salvage it).
                Self.unregister(id)
                id = try Self.register(path)
                holders = try FileLock(path: path + "/holders.lock")
                guard try holders.tryLock(exclusive: true) else {
                    throw DiskCacheError(description: "another process opened \(path) while it was being moved aside")
                }
                return moved
            }
            do {
                // The marker counts opens whose check never finished. One may be a process killed
                // while opening; three in a row mean the check dies on a damaged page: do not walk
                // that file again, or every restart would crash the same way. Only a process alone
                // with the files (holding the open lock) writes it, so concurrent opens cannot add
                // to each other's count.
                // Read before the wait above; unchanged since (only an open holding the open lock
                // writes it, and this one holds it).
                let unfinished = unfinishedChecks
                if unfinished >= Self.unfinishedChecksBeforeMovingAside {
                    aside = try moveAside("\(unfinished) opens in a row died checking the file")
                }
                do {
                    lmdb = try Self.openChecked(configuration, marker: marker, unfinished: aside == nil ? unfinished : 0)
                } catch where aside == nil && Self.isDamage(error) {
                    aside = try moveAside("\(error)")
                    lmdb = try Self.openChecked(configuration, marker: marker, unfinished: 0)
                }
                try holders.lock(exclusive: false)  // under the open lock: no other open sees it free meanwhile
            } catch {
                Self.unregister(id)
                throw error
            }
            directoryID = id
            if let aside { Self.removeOlderCopies(of: path, keeping: aside, logger: logger) }
        }
        self.lmdb = lmdb
        // Unregistered once the environment is closed, not in this object's deinit (which runs
        // before its properties are released): an open of the directory that sees it unregistered
        // must not meet this environment still open (a second environment on the files in one
        // process, whose close would drop the other's locks).
        let registeredID = directoryID
        lmdb.afterClose.withLock { $0 = { Self.unregister(registeredID) } }
        self.holders = holders
        movedAsidePath = aside
        pageSize = lmdb.pageSize
        let room = configuration.mapSize - Self.headroom(mapSize: configuration.mapSize, pageSize: pageSize)
        guard configuration.byteBudget <= room else {
            throw DiskCacheError(description: "a byte budget of \(configuration.byteBudget) bytes does not fit a map of \(configuration.mapSize) bytes: "
                + "at most \(max(0, room)) bytes of entries, keeping \(Self.headroom(mapSize: configuration.mapSize, pageSize: pageSize)) free for eviction and removal")
        }
    }

    // No deinit: the directory is unregistered when the environment closes (see `init`).

    /// Whether an open failure means the files are damaged or of another format (rather than,
    /// say, permissions or resources, which moving the files aside would not cure).
    static let unfinishedChecksBeforeMovingAside = 3

    static func isDamage(_ error: any Error) -> Bool {
        if error is OpenProblem { return true }
        guard let lmdb = error as? LMDBError else { return false }
        return [MDB_INVALID, MDB_CORRUPTED, MDB_PAGE_NOTFOUND, MDB_VERSION_MISMATCH, MDB_PANIC, MDB_BAD_TXN].contains(lmdb.code)
    }

    /// Opens the environment and checks it: format version, and every index walked once (a
    /// damaged B-tree page is reported by LMDB here rather than later).
    private static func openChecked(_ configuration: DiskCacheConfiguration, marker: String, unfinished: Int) throws -> LMDBEnvironment {
        try FileManager.default.createDirectory(atPath: configuration.path, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: marker, contents: Data(String(unfinished + 1).utf8)) else {
            throw DiskCacheError(description: "cannot write in \(configuration.path)")
        }
        defer { try? FileManager.default.removeItem(atPath: marker) }
        let lmdb = try LMDBEnvironment(
            path: configuration.path, mapSize: configuration.mapSize, flags: configuration.durability.flags)
        try lmdb.write { txn in
            let stored = try Meta.version(txn)
            switch stored {
            case nil:
                guard try txn.count(lmdb.entries) == 0 else { throw OpenProblem.missingVersion }
                try Meta.setVersion(txn)
            case Meta.currentVersion?:
                break
            case let other?:
                throw OpenProblem.version(other)
            }
            var entries = 0
            try txn.scan(lmdb.entries) { _, _ in entries += 1; return true }
            for dbi in [lmdb.tags, lmdb.expiry, lmdb.access, lmdb.lru] { try txn.scan(dbi) { _, _ in true } }
            guard entries == (try txn.count(lmdb.access)) else { throw OpenProblem.indexes }
        }
        return lmdb
    }

    enum OpenProblem: Error {
        case missingVersion
        case version(UInt32)
        case indexes
    }

    // MARK: Reading

    /// Calls `body` with the value stored for `key`, in place (valid only inside `body`).
    /// - Parameters:
    ///   - key: the entry's key
    ///   - body: receives the value's bytes, inside LMDB's read transaction
    /// - Returns: what `body` returned, or `nil` on a miss (absent, expired or corrupt)
    /// - Throws: ``LMDBError`` for I/O failures, or what `body` throws
    public func withValue<R>(forKey key: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R? {
        try withRecord(forKey: key) { value, _ in try body(value) }
    }

    /// The value stored for `key` with when it was stored and when it expires (for an HTTP `Age`
    /// and `Cache-Control: max-age`), copied.
    /// - Parameter key: the entry's key
    /// - Returns: the entry, or `nil` on a miss (absent, expired or corrupt)
    public func entry(forKey key: String) throws -> DiskCacheEntry? {
        try withRecord(forKey: key) { value, record in
            DiskCacheEntry(value: Array(value), createdAt: record.createdAt, expiresAt: record.expiresAt == .max ? nil : record.expiresAt)
        }
    }

    /// Calls `body` with the value and the record's header of `key`'s live entry.
    func withRecord<R>(forKey key: String, _ body: (UnsafeRawBufferPointer, EntryRecord) throws -> R) throws -> R? {
        let hash = KeyHash.of(key)
        let hashKey = KeyHash.bytes(hash)
        let now = configuration.clock.now()
        var corrupt: EntryRecord.Problem?
        let result: R? = try lmdb.read { txn in
            try hashKey.withUnsafeBytes { k in
                guard let bytes = try txn.get(lmdb.entries, k) else { return nil }
                let record: EntryRecord
                let value: UnsafeRawBufferPointer
                do throws(EntryRecord.Problem) {
                    record = try EntryRecord.decode(bytes)
                    value = try record.verifyValue(in: bytes)
                } catch {
                    corrupt = error
                    return nil
                }
                guard record.key == key, record.expiresAt > now else { return nil }
                return try body(value, record)
            }
        }
        if let corrupt {
            configuration.logger.warning("corrupt disk cache entry, deleting it", metadata: ["key": "\(key)", "problem": "\(corrupt)"])
            metrics.record(.corruptEntry)
            do {
                _ = try lmdb.write { txn in
                    // Only if it is still the corrupt record: a writer may have replaced it meanwhile.
                    let stillCorrupt = try hashKey.withUnsafeBytes { k in
                        try txn.get(lmdb.entries, k).map { bytes in
                            (try? EntryRecord.decode(bytes).verifyValue(in: bytes)) == nil
                        } ?? false
                    }
                    return stillCorrupt ? try removeEntries([hash], txn) : 0
                }
            } catch {
                configuration.logger.error("could not delete a corrupt disk cache entry", metadata: ["key": "\(key)", "error": "\(error)"])
            }
        }
        metrics.record(result == nil ? .miss : .hit)
        if result != nil { recordAccess(hash, at: now) }
        return result
    }

    /// The value stored for `key`, copied.
    /// - Parameter key: the entry's key
    /// - Returns: the value, or `nil` on a miss (absent, expired or corrupt)
    public func value(forKey key: String) throws -> [UInt8]? {
        try withValue(forKey: key) { Array($0) }
    }

    /// The value stored for `key`, copied, read off Swift's cooperative threads.
    public func value(forKey key: String) async throws -> [UInt8]? {
        let value = try await run(on: readQueue) { try self.value(forKey: key) }
        scheduleAccessFlushIfDue()
        return value
    }

    /// The entry stored for `key` with its times (see the synchronous ``entry(forKey:)``), read off
    /// Swift's cooperative threads.
    public func entry(forKey key: String) async throws -> DiskCacheEntry? {
        let entry = try await run(on: readQueue) { try self.entry(forKey: key) }
        scheduleAccessFlushIfDue()
        return entry
    }

    /// The invalidation generation (see the synchronous ``generation()``), read off Swift's
    /// cooperative threads.
    public func generation() async throws -> UInt64 {
        try await run(on: readQueue) { try self.generation() }
    }

    /// Queues a write-back of read times on the write queue once enough are buffered; the read that
    /// notices does not wait for it.
    func scheduleAccessFlushIfDue() {
        guard accessFlushDue, !flushQueued.exchange(true, ordering: .acquiringAndReleasing) else { return }
        writeQueue.async {
            defer { self.flushQueued.store(false, ordering: .releasing) }
            do {
                try self.flushAccessTimes()
            } catch {
                self.configuration.logger.warning("writing back read times failed", metadata: ["error": "\(error)"])
            }
        }
    }

    func recordAccess(_ hash: UInt64, at now: Int64) {
        let seconds = now / 1_000_000
        pendingAccess.withLock { pending in
            // Lossy past a bound: access order is a hint, memory is not.
            if pending.count < 64 * configuration.accessFlushThreshold || pending[hash] != nil {
                pending[hash] = seconds
            }
        }
    }

    // MARK: Async plumbing

    func run<R: Sendable>(on queue: DispatchQueue, _ work: @escaping @Sendable () throws -> R) async throws -> R {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try work() }) }
        }
    }

    var writes: DispatchQueue { writeQueue }
}

/// The `meta` database: format version and the record-byte total.
enum Meta {
    static let currentVersion: UInt32 = 1
    static let versionKey = Array("format-version".utf8)
    static let bytesKey = Array("record-bytes".utf8)
    static let generationKey = Array("invalidation-generation".utf8)

    /// The invalidation generation: advanced by every removal request (not by evictions or
    /// expiry, which make nothing stale).
    static func generation(_ txn: Transaction) throws -> UInt64 {
        try generationKey.withUnsafeBytes { k in
            guard let v = try txn.get(txn.environment.meta, k), v.count == 8 else { return 0 }
            return UInt64(littleEndian: v.loadUnaligned(as: UInt64.self))
        }
    }

    static func advanceGeneration(_ txn: Transaction) throws {
        let next = try generation(txn) &+ 1
        try generationKey.withUnsafeBytes { k in
            try withUnsafeBytes(of: next.littleEndian) { try txn.put(txn.environment.meta, k, $0) }
        }
    }

    static func version(_ txn: Transaction) throws -> UInt32? {
        try versionKey.withUnsafeBytes { k in
            guard let v = try txn.get(txn.environment.meta, k), v.count == 4 else { return nil }
            return UInt32(littleEndian: v.loadUnaligned(as: UInt32.self))
        }
    }

    static func setVersion(_ txn: Transaction) throws {
        try versionKey.withUnsafeBytes { k in
            try withUnsafeBytes(of: currentVersion.littleEndian) { try txn.put(txn.environment.meta, k, $0) }
        }
    }

    static func bytes(_ txn: Transaction) throws -> Int {
        try bytesKey.withUnsafeBytes { k in
            guard let v = try txn.get(txn.environment.meta, k), v.count == 8 else { return 0 }
            return Int(Int64(littleEndian: v.loadUnaligned(as: Int64.self)))
        }
    }

    static func setBytes(_ txn: Transaction, _ value: Int) throws {
        try bytesKey.withUnsafeBytes { k in
            try withUnsafeBytes(of: Int64(value).littleEndian) { try txn.put(txn.environment.meta, k, $0) }
        }
    }
}

/// An entry read with its times.
public struct DiskCacheEntry: Sendable, Equatable {
    /// The value's bytes.
    public var value: [UInt8]
    /// When it was stored, µs since the Unix epoch (the cache's clock).
    public var createdAt: Int64
    /// When it stops being returned, µs since the Unix epoch, or nil for never.
    public var expiresAt: Int64?
}

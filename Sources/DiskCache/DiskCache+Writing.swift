import CLMDB

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thrown inside a put's transaction whose evictions reached the transaction's page budget.
struct EvictionBudgetSpent: Error {}

/// Why a value was not stored.
public struct DiskCacheError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

extension DiskCache {
    /// The longest tag accepted, in UTF-8 bytes.
    public static let maxTagBytes = 4096

    /// The invalidation generation: advanced by every ``removeValue(forKey:)``,
    /// ``removeAll(taggedWith:)`` and ``removeAll()`` — in every process sharing the files — and by
    /// nothing else. Read it before loading a value; store the value with
    /// `put(_:forKey:expiresAt:tags:ifGenerationIs:)`.
    /// - Returns: the current generation
    public func generation() throws -> UInt64 {
        try lmdb.read { try Meta.generation($0) }
    }

    /// Stores `value` under `key`, replacing any entry with that key, evicting the least recently
    /// read entries while the budget would be exceeded.
    ///
    /// With `ifGenerationIs`, the store happens only if no removal (of any key or tag) committed
    /// since that ``generation()`` was read — checked inside the write transaction, so a load that
    /// raced an invalidation can never store its value after the invalidation removed the old one.
    /// The check is deliberately coarse: any invalidation refuses, and the value is then simply not
    /// cached (never a stale entry).
    /// - Parameters:
    ///   - value: the bytes
    ///   - key: the entry's key
    ///   - expiresAt: when the entry stops being returned (µs since the Unix epoch), or `nil`
    ///   - tags: the entry's tags, for ``removeAll(taggedWith:)``
    ///   - ifGenerationIs: store only if the generation is still this one
    /// - Returns: whether the value was stored
    /// - Throws: ``DiskCacheError`` when the record alone exceeds the budget or cannot fit the map
    ///   even when the cache is empty; ``LMDBError`` for I/O failures
    @discardableResult
    public func put(
        _ value: UnsafeRawBufferPointer, forKey key: String, expiresAt: Int64? = nil, tags: [String] = [],
        ifGenerationIs expected: UInt64? = nil
    ) throws -> Bool {
        let now = configuration.clock.now()
        if let long = tags.first(where: { $0.utf8.count > Self.maxTagBytes }) {
            throw DiskCacheError(description: "a tag of \(long.utf8.count) bytes is longer than \(Self.maxTagBytes)")
        }
        let record = EntryRecord.encode(key: key, value: value, createdAt: now, expiresAt: expiresAt ?? .max, tags: tags)
        guard record.count <= configuration.byteBudget else {
            throw DiskCacheError(description: "a record of \(record.count) bytes exceeds the budget of \(configuration.byteBudget)")
        }
        let hash = KeyHash.of(key)
        let started = ContinuousClock.now
        defer { metrics.putTime.record(duration: ContinuousClock.now - started) }
        let needed = pagesNeeded(forRecordOf: record.count, tags: tags)
        // MDB_MAP_FULL aborts the transaction; evict in a new one and try again.
        let patience = MapFullPatience()
        for attempt in 0... {
            do {
                // Writes are serialised on one queue: the committed state read here is the one
                // the write transaction starts from (bar another process's write).
                let used = try lmdb.read { try $0.usedPages() }
                let evicted = try lmdb.write { txn -> Int? in
                    if let expected, try Meta.generation(txn) != expected { return nil }
                    try writeBackAccess(txn)
                    let replaced = try removeEntry(hash, txn) ?? 0
                    var total = try Meta.bytes(txn) - replaced
                    // Two limits: the record bytes of the budget, and the LMDB pages the map can
                    // give the entries and their indexes while keeping headroom for eviction and
                    // removal (small records cost far more pages than their bytes suggest: counting
                    // bytes alone filled the map at 67–81 % of the budget). Pages in use = what the
                    // last commit used (free list, duplicate sub-pages and pinned pages included)
                    // plus how the counted B-trees grew or shrank in this transaction.
                    let baseline = try used - livePages(txn)
                    var evicted = 0
                    while try total + record.count > configuration.byteBudget || baseline + livePages(txn) + needed > pageLimit {
                        // Evicting entries with many tags copies many pages: past the budget of
                        // one transaction, evict in transactions of their own first.
                        if evicted > 0, (txn.hooks?.dirtyEstimate ?? 0) + needed > dirtyPageBudget { throw EvictionBudgetSpent() }
                        guard let freed = try evictOldest(txn) else { break }
                        if freed > 0 { evicted += 1 }  // 0: a stale access-order key, no entry
                        total -= freed
                    }
                    try faultAfterEviction.withLock { $0 }?()
                    try insert(hash, record: record, tags: tags, expiresAt: expiresAt, now: now, txn)
                    try Meta.setBytes(txn, total + record.count)
                    return evicted
                }
                guard let evicted else { return false }  // an invalidation committed since the load began
                // Counted once committed: an aborted transaction evicted nothing.
                for _ in 0..<evicted { metrics.record(.eviction) }
                return true
            } catch is EvictionBudgetSpent {
                let evicted = try evictInSteps(untilRoomFor: record.count, pages: needed)
                for _ in 0..<evicted { metrics.record(.eviction) }
                if attempt >= Self.mapFullAttempts {
                    throw DiskCacheError(description: "a record of \(record.count) bytes does not fit the map of \(configuration.mapSize) bytes")
                }
            } catch let error as LMDBError where error.isMapFull {
                metrics.record(.mapFull)
                lmdb.clearStaleReaders()  // a killed process's reader slot pins freed pages
                // Evicting helps the first tries; past them the pages are pinned by a reader, and
                // evicting on every try of the patience would empty the cache for one write.
                let evicted = attempt < Self.mapFullAttempts ? (try? lmdb.write { txn in try evictForSpace(pages: needed, txn) }) ?? 0 : 0
                for _ in 0..<evicted { metrics.record(.eviction) }
                // LMDB reuses the pages a transaction frees only two transactions later: commit a
                // no-op so the retry can use them.
                try? lmdb.write { txn in try Meta.setBytes(txn, try Meta.bytes(txn)) }
                // A record that does not fit an empty map never will; otherwise the pages may be
                // pinned by another process's reader for a moment: wait for it to move on.
                let empty = (try? lmdb.read { try $0.count(lmdb.entries) }) == 0
                if patience.spent(after: attempt) || (evicted == 0 && empty) {
                    throw DiskCacheError(description: "a record of \(record.count) bytes does not fit the map of \(configuration.mapSize) bytes")
                }
                Self.waitForReaders(attempt)
            }
        }
        fatalError("unreachable: the loop returns or throws")
    }

    /// Tries a write gets when LMDB reports the map full, at least, before giving up.
    static let mapFullAttempts = 8

    /// How long a write keeps trying when LMDB reports the map full, at least: another process's
    /// reader can be descheduled in the middle of a read on a loaded machine (the crash test's
    /// reading process, under CPU contention, outlasted 8 tries of 1–32 ms).
    static let mapFullPatience: Duration = .seconds(2)

    /// When a write that meets a full map gives up: after ``mapFullAttempts`` tries and
    /// ``mapFullPatience``, whichever comes later.
    struct MapFullPatience {
        let started = ContinuousClock.now

        func spent(after attempt: Int) -> Bool {
            attempt >= DiskCache.mapFullAttempts && ContinuousClock.now - started >= DiskCache.mapFullPatience
        }
    }

    /// Waits 1, 2, 4, … 32 ms: another process's read transaction pins the pages freed since it
    /// began, until it ends (reads are short; a waiting write lets it finish).
    static func waitForReaders(_ attempt: Int) {
        usleep(UInt32(1_000 << min(attempt, 5)))
    }

    /// The pages the entries and their indexes may occupy: the map less the headroom that
    /// copy-on-write needs to evict and remove when the cache is full.
    var pageLimit: Int { (configuration.mapSize - Self.headroom(mapSize: configuration.mapSize, pageSize: pageSize)) / pageSize }

    /// The part of the map kept free of entries: an eighth, and at least 64 pages.
    static func headroom(mapSize: Int, pageSize: Int) -> Int { max(mapSize / 8, 64 * pageSize) }

    /// The pages a record and its index entries may take: its own (overflow) pages when it is
    /// larger than a node fits in a leaf, else a share of one, plus a page per index that might
    /// split, plus its tags' index entries (their keys and the record's hash, with node overhead,
    /// at half-full leaves after splits, and a page of each tag's own tree; found by a review: 60 day tags on a small value filled a
    /// 4 MiB map that counted only the record).
    func pagesNeeded(forRecordOf bytes: Int, tags: [String] = []) -> Int {
        // A tag with many entries is a nested tree of its own: each may copy a page.
        let distinct = Set(tags)
        let tagBytes = distinct.reduce(0) { $0 + KeyHash.tagKey($1).count + 8 + 24 }
        let tagPages = distinct.isEmpty ? 0 : distinct.count + (2 * tagBytes + pageSize - 1) / pageSize + 2
        return (bytes + 64 + pageSize - 1) / pageSize + 4 + tagPages
    }

    /// The pages the entries and every index occupy now.
    func livePages(_ txn: Transaction) throws -> Int {
        var total = 0
        for dbi in [lmdb.entries, lmdb.tags, lmdb.expiry, lmdb.access, lmdb.lru, lmdb.meta] { total += try txn.pages(dbi) }
        return total
    }

    /// Stores `value` under `key` (see the synchronous `put`), off Swift's cooperative threads.
    /// - Returns: whether the value was stored (false: an invalidation since `ifGenerationIs`)
    @discardableResult
    public func put(
        _ value: [UInt8], forKey key: String, expiresAt: Int64? = nil, tags: [String] = [], ifGenerationIs expected: UInt64? = nil
    ) async throws -> Bool {
        try await run(on: writes) {
            try value.withUnsafeBytes { try self.put($0, forKey: key, expiresAt: expiresAt, tags: tags, ifGenerationIs: expected) }
        }
    }

    /// Removes the entry for `key`.
    /// - Returns: whether there was one
    @discardableResult
    public func removeValue(forKey key: String) throws -> Bool {
        let hash = KeyHash.of(key)
        return try writeMakingRoom { txn in
            // Even for an absent key: a load of it may be in flight.
            try Meta.advanceGeneration(txn)
            try writeBackAccess(txn)
            guard let size = try removeEntry(hash, txn, requireKey: key) else { return false }
            try Meta.setBytes(txn, try Meta.bytes(txn) - size)
            return true
        }
    }

    /// Removes every entry carrying `tag`.
    /// - Returns: how many entries were removed
    /// - Complexity: O(entries with that tag × log entries)
    @discardableResult
    public func removeAll(taggedWith tag: String) throws -> Int {
        try removeAll(taggedWithAnyOf: [tag])
    }

    /// Removes every entry carrying any of `tags`, in as few transactions (and so as few syncs
    /// to disk) as the map's headroom allows: one for an invalidation of a few hundred entries,
    /// however many tags it names. Loads that began before the call may not store afterwards.
    ///
    /// With `note`, the note is written in the transaction that completes the removal: whoever
    /// reads it (``note(named:)``, even after a crash) knows the removal is complete.
    /// - Parameters:
    ///   - tags: the tags
    ///   - note: a note to record with the last removal (name, value), or nil
    /// - Returns: how many entries were removed
    /// - Complexity: O(entries with those tags × log entries)
    @discardableResult
    public func removeAll(taggedWithAnyOf tags: some Sequence<String>, note: DiskCacheNote? = nil) throws -> Int {
        var pending = Array(Set(tags.map(KeyHash.tagKey))).sorted { $0.lexicographicallyPrecedes($1) }[...]
        var removed = 0
        // In transactions of at most `removalChunk` entries: one transaction removing thousands
        // of entries copies every page it touches, more than a full map's headroom holds.
        let chunk = removalChunk
        var first = true
        repeat {
            let (count, done) = try writeMakingRoom { txn -> (Int, Int) in
                // With the first chunk: loads that began before it may not store afterwards.
                if first { try Meta.advanceGeneration(txn) }
                var budget = chunk, count = 0, done = 0
                for tagKey in pending {
                    guard budget > 0 else { break }
                    let (removedHere, scanned, exhausted) = try removeChunk(taggedWith: tagKey, atMost: budget, txn)
                    count += removedHere
                    budget -= scanned
                    if !exhausted { break }
                    done += 1
                }
                if done == pending.count, let note { try Meta.setNote(txn, note) }
                return (count, done)
            }
            first = false
            removed += count
            pending = pending.dropFirst(done)
        } while !pending.isEmpty
        return removed
    }

    /// Removes up to `limit` of the entries `tagKey`'s index lists, with their index entries.
    /// - Returns: the entries removed, the index entries scanned, and whether the tag has no
    ///   more index entries
    func removeChunk(taggedWith tagKey: [UInt8], atMost limit: Int, _ txn: Transaction) throws -> (Int, Int, Bool) {
        var hashes: [UInt64] = []
        try tagKey.withUnsafeBytes { k in
            try txn.scan(lmdb.tags, from: k, duplicatesOf: true) { _, value in
                if value.count == 8 { hashes.append(UInt64(bigEndian: value.loadUnaligned(as: UInt64.self))) }
                return hashes.count <= limit
            }
        }
        let exhausted = hashes.count <= limit
        if !exhausted { hashes.removeLast() }
        // Only entries that carry the tag (or whose record no longer decodes): an index entry can
        // outlive its record's tags (a corrupt record deleted, then the key stored again). Either
        // way the tag's index entry goes.
        let carrying = try hashes.filter { hash in
            try KeyHash.bytes(hash).withUnsafeBytes { k in
                guard let bytes = try txn.get(lmdb.entries, k) else { return false }
                guard let record = try? EntryRecord.decode(bytes) else { return true }
                return record.tags.contains { KeyHash.tagKey($0) == tagKey }
            }
        }
        let count = try removeEntries(carrying, txn)
        try tagKey.withUnsafeBytes { t in
            for hash in hashes { _ = try KeyHash.bytes(hash).withUnsafeBytes { try txn.delete(lmdb.tags, t, value: $0) } }
        }
        return (count, max(1, hashes.count), exhausted)
    }

    /// The most entries one removal transaction removes: removing an entry copies at most a leaf
    /// of each of its five trees and their branches (16 pages, generously), and the headroom must
    /// hold them all (8 entries per transaction in a 4 MiB map, 2 048 in 1 GiB).
    var removalChunk: Int { max(1, Self.headroom(mapSize: configuration.mapSize, pageSize: pageSize) / pageSize / 16) }

    /// Runs a removal; when LMDB's map is full (pages pinned by a reader, a budget the headroom
    /// could not cover), releases dead readers' slots, lets freed pages become reusable and tries
    /// again, so invalidations keep working on a full cache.
    func writeMakingRoom<R>(_ body: (Transaction) throws -> R) throws -> R {
        let patience = MapFullPatience()
        for attempt in 0... {
            do {
                return try lmdb.write(body)
            } catch let error as LMDBError where error.isMapFull && !patience.spent(after: attempt) {
                metrics.record(.mapFull)
                lmdb.clearStaleReaders()
                // Freed pages are reusable two commits later: two no-op commits.
                for _ in 0..<2 { try? lmdb.write { txn in try Meta.setBytes(txn, try Meta.bytes(txn)) } }
                Self.waitForReaders(attempt)
            }
        }
        fatalError("unreachable")
    }

    /// Removes the entry for `key`, off Swift's cooperative threads.
    /// - Returns: whether there was one
    @discardableResult
    public func removeValue(forKey key: String) async throws -> Bool {
        try await run(on: writes) { try self.removeValue(forKey: key) }
    }

    /// Removes every entry carrying `tag`, off Swift's cooperative threads.
    /// - Returns: how many entries were removed
    @discardableResult
    public func removeAll(taggedWith tag: String) async throws -> Int {
        try await run(on: writes) { try self.removeAll(taggedWith: tag) }
    }

    /// Removes every entry (notes stay), off Swift's cooperative threads.
    /// - Parameter note: a note to record in the same transaction, or nil
    public func removeAll(note: DiskCacheNote? = nil) async throws {
        try await run(on: writes) { try self.removeAll(note: note) }
    }

    /// Removes every entry carrying any of `tags`, off Swift's cooperative threads.
    /// - Parameters:
    ///   - tags: the tags
    ///   - note: a note to record with the last removal, or nil
    /// - Returns: how many entries were removed
    @discardableResult
    public func removeAll(taggedWithAnyOf tags: Set<String>, note: DiskCacheNote? = nil) async throws -> Int {
        try await run(on: writes) { try self.removeAll(taggedWithAnyOf: tags, note: note) }
    }

    /// Removes every entry (notes stay).
    /// - Parameter note: a note to record in the same transaction, or nil
    public func removeAll(note: DiskCacheNote? = nil) throws {
        try writeMakingRoom { txn in
            try Meta.advanceGeneration(txn)
            for dbi in [lmdb.entries, lmdb.tags, lmdb.expiry, lmdb.access, lmdb.lru] { try txn.drop(dbi) }
            try Meta.setBytes(txn, 0)
            if let note { try Meta.setNote(txn, note) }
        }
        pendingAccess.withLock { $0.removeAll() }
    }

    // MARK: Inside a write transaction

    /// Writes the record and its index entries.
    func insert(_ hash: UInt64, record: [UInt8], tags: [String], expiresAt: Int64?, now: Int64, _ txn: Transaction) throws {
        let hashKey = KeyHash.bytes(hash)
        try hashKey.withUnsafeBytes { k in
            try record.withUnsafeBytes { try txn.put(lmdb.entries, k, $0) }
            for tag in Set(tags) {
                try KeyHash.tagKey(tag).withUnsafeBytes { try txn.put(lmdb.tags, $0, k, flags: MDB_NODUPDATA) }
            }
            if let expiresAt, expiresAt != .max {
                try KeyHash.timeKey(expiresAt, hash).withUnsafeBytes { try txn.put(lmdb.expiry, $0, UnsafeRawBufferPointer(start: nil, count: 0)) }
            }
            try setAccess(hash, seconds: now / 1_000_000, txn)
        }
    }

    /// Sets an entry's access time in both access indexes.
    func setAccess(_ hash: UInt64, seconds: Int64, _ txn: Transaction) throws {
        let hashKey = KeyHash.bytes(hash)
        try hashKey.withUnsafeBytes { k in
            if let old = try txn.get(lmdb.access, k), old.count == 8 {
                let oldSeconds = Int64(littleEndian: old.loadUnaligned(as: Int64.self))
                if oldSeconds == seconds { return }
                try KeyHash.timeKey(oldSeconds, hash).withUnsafeBytes { _ = try txn.delete(lmdb.lru, $0) }
            }
            try withUnsafeBytes(of: seconds.littleEndian) { try txn.put(lmdb.access, k, $0) }
            try KeyHash.timeKey(seconds, hash).withUnsafeBytes { try txn.put(lmdb.lru, $0, UnsafeRawBufferPointer(start: nil, count: 0)) }
        }
    }

    /// Removes the entry stored under `hash` and its index entries.
    /// - Parameter requireKey: remove only if the record is this key's (not another key's with the
    ///   same hash)
    /// - Returns: the record's size, or `nil` when there was no such entry
    @discardableResult
    func removeEntry(_ hash: UInt64, _ txn: Transaction, requireKey: String? = nil) throws -> Int? {
        let hashKey = KeyHash.bytes(hash)
        return try hashKey.withUnsafeBytes { k -> Int? in
            guard let bytes = try txn.get(lmdb.entries, k) else { return nil }
            let size = bytes.count
            // A corrupt header leaves tag and expiry index entries behind; both indexes tolerate them.
            let record = try? EntryRecord.decode(bytes)
            if let requireKey, record?.key != requireKey { return nil }
            txn.hooks?.dirtyEstimate += 5 + (size + pageSize - 1) / pageSize + Set(record?.tags ?? []).count
            if let record {
                for tag in Set(record.tags) { _ = try KeyHash.tagKey(tag).withUnsafeBytes { try txn.delete(lmdb.tags, $0, value: k) } }
                if record.expiresAt != .max {
                    _ = try KeyHash.timeKey(record.expiresAt, hash).withUnsafeBytes { try txn.delete(lmdb.expiry, $0) }
                }
            }
            if let old = try txn.get(lmdb.access, k), old.count == 8 {
                let seconds = Int64(littleEndian: old.loadUnaligned(as: Int64.self))
                _ = try KeyHash.timeKey(seconds, hash).withUnsafeBytes { try txn.delete(lmdb.lru, $0) }
                try txn.delete(lmdb.access, k)
            }
            try txn.delete(lmdb.entries, k)
            return size
        }
    }

    /// Removes the entries stored under `hashes` and takes their bytes off the total.
    /// - Returns: how many there were
    func removeEntries(_ hashes: some Sequence<UInt64>, _ txn: Transaction) throws -> Int {
        var removed = 0, freed = 0
        for hash in hashes {
            if let size = try removeEntry(hash, txn) {
                removed += 1
                freed += size
            }
        }
        if freed > 0 { try Meta.setBytes(txn, try Meta.bytes(txn) - freed) }
        return removed
    }

    /// Evicts the least recently read entry (the caller counts it once its transaction commits).
    /// - Returns: the record bytes freed, or `nil` when the cache is empty
    func evictOldest(_ txn: Transaction) throws -> Int? {
        var oldest: UInt64?
        try txn.scan(lmdb.lru) { key, _ in
            oldest = KeyHash.parseTimeKey(key)?.hash
            return false
        }
        guard let oldest else { return nil }
        guard let size = try removeEntry(oldest, txn) else {
            // An access-order key without its entry: drop it (copied: the cursor's key points into
            // the map, valid only until an update) and report progress.
            var stale: [UInt8] = []
            try txn.scan(lmdb.lru) { key, _ in
                stale = Array(key)
                return false
            }
            _ = try stale.withUnsafeBytes { try txn.delete(lmdb.lru, $0) }
            return 0
        }
        return size
    }

    /// The pages one transaction's evictions may copy: half the headroom.
    var dirtyPageBudget: Int { max(8, Self.headroom(mapSize: configuration.mapSize, pageSize: pageSize) / pageSize / 2) }

    /// Evicts the least recently read entries in transactions of their own, each within
    /// ``dirtyPageBudget``, until a record of `bytes` bytes fits the byte budget and the map's
    /// pages in use — measured after each commit, nested tag trees included — leave room for
    /// `pages` more below the page limit.
    /// - Returns: how many entries were evicted
    func evictInSteps(untilRoomFor bytes: Int, pages: Int) throws -> Int {
        var evicted = 0
        for _ in 0..<10_000 {
            // Freed pages are reusable two commits later: measure after two no-op commits.
            for _ in 0..<2 { try? lmdb.write { txn in try Meta.setBytes(txn, try Meta.bytes(txn)) } }
            let used = try lmdb.read { try $0.usedPages() }
            let (count, room) = try writeMakingRoom { txn -> (Int, Bool) in
                var count = 0, bytesFreed = 0
                let fitsBytes = { try Meta.bytes(txn) - bytesFreed + bytes <= self.configuration.byteBudget }
                let room = try fitsBytes() && used + pages <= pageLimit
                guard !room else { return (0, true) }
                while (txn.hooks?.dirtyEstimate ?? 0) <= dirtyPageBudget || count == 0 {
                    guard let size = try evictOldest(txn) else { break }
                    if size > 0 { count += 1 }
                    bytesFreed += size
                    if size == 0, try txn.count(lmdb.lru) == 0 { break }
                    // Only bytes over budget: evict just enough of them in this step.
                    if used + pages <= pageLimit, try fitsBytes() { break }
                }
                try Meta.setBytes(txn, try Meta.bytes(txn) - bytesFreed)
                return (count, false)
            }
            evicted += count
            if room || count == 0 { break }
        }
        return evicted
    }

    /// After `MDB_MAP_FULL` (pages pinned by a reader, say): evicts the least recently read entries
    /// until `pages` pages are free for the retried write — only what the write needs, and no more
    /// than one transaction's page budget.
    /// - Returns: how many entries were evicted
    func evictForSpace(pages: Int, _ txn: Transaction) throws -> Int {
        let start = try livePages(txn)
        var evicted = 0
        var freed = 0
        while try start - livePages(txn) < pages, evicted == 0 || (txn.hooks?.dirtyEstimate ?? 0) <= dirtyPageBudget,
              let size = try evictOldest(txn)
        {
            if size > 0 { evicted += 1 }
            freed += size
            if size == 0, try txn.count(lmdb.lru) == 0 { break }
        }
        try Meta.setBytes(txn, try Meta.bytes(txn) - freed)
        return evicted
    }
}

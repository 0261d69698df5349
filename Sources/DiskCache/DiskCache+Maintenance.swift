extension DiskCache {
    /// Removes entries whose expiry time has passed, oldest first, in transactions the map's
    /// headroom can hold (like every removal: a sweep of thousands of entries on a full map would
    /// otherwise need more free pages than it has), each retried when a reader pins the pages.
    /// - Parameter limit: the most expiry-index entries visited in this call
    /// - Returns: how many entries were removed
    /// - Complexity: O(removed × log entries), through the expiry index
    @discardableResult
    public func removeExpired(limit: Int = 10_000) throws -> Int {
        let now = configuration.clock.now()
        let chunk = removalChunk
        var visited = 0, removed = 0
        while visited < limit {
            let budget = min(chunk, limit - visited)
            let (handled, count) = try writeMakingRoom { txn -> (Int, Int) in
                var due: [(key: [UInt8], hash: UInt64)] = []
                try txn.scan(lmdb.expiry) { key, _ in
                    guard let (time, hash) = KeyHash.parseTimeKey(key), time <= now, due.count < budget else { return false }
                    due.append((Array(key), hash))
                    return true
                }
                var expired: [UInt64] = []
                for (key, hash) in due {
                    // The entry may have been replaced with a later expiry: only remove what is due.
                    let record = try KeyHash.bytes(hash).withUnsafeBytes { k in
                        try txn.get(lmdb.entries, k).flatMap { try? EntryRecord.decode($0) }
                    }
                    if let record, record.expiresAt <= now { expired.append(hash) }
                    _ = try key.withUnsafeBytes { try txn.delete(lmdb.expiry, $0) }
                }
                return (due.count, try removeEntries(expired, txn))
            }
            visited += handled
            removed += count
            if handled < budget { break }
        }
        return removed
    }

    /// Writes the buffered read times back, so the access order survives a restart.
    public func flushAccessTimes() throws {
        try lmdb.write { txn in try writeBackAccess(txn) }
    }

    /// Writes back the buffered read times inside an open write transaction.
    func writeBackAccess(_ txn: Transaction) throws {
        let pending = pendingAccess.withLock { pending -> [UInt64: Int64] in
            defer { pending.removeAll(keepingCapacity: true) }
            return pending
        }
        // Taken out now, put back if the transaction does not commit (newer reads win).
        txn.hooks?.onAbort.append { [self] in
            self.pendingAccess.withLock { current in
                for (hash, seconds) in pending where (current[hash] ?? .min) < seconds { current[hash] = seconds }
            }
        }
        for (hash, seconds) in pending {
            let exists = try KeyHash.bytes(hash).withUnsafeBytes { try txn.get(lmdb.access, $0) != nil }
            if exists { try setAccess(hash, seconds: seconds, txn) }
        }
    }

    /// Whether enough reads are buffered to be worth a write-back.
    var accessFlushDue: Bool {
        pendingAccess.withLock { $0.count } >= configuration.accessFlushThreshold
    }

    /// Forces committed data to disk (useful with `.none` and `.eventual` durability).
    public func sync() throws { try lmdb.sync() }

    /// Counts and sizes.
    public struct Statistics: Sendable, Equatable {
        /// Entries stored.
        public var entries: Int
        /// Record bytes stored (what the budget counts).
        public var recordBytes: Int
        /// The budget.
        public var byteBudget: Int
        /// Bytes of the map in use (B-tree pages, free pages included).
        public var usedMapBytes: Int
        /// Reads that returned a value, and reads that did not, since open.
        public var hits: Int, misses: Int
        /// Entries found corrupt (and deleted) since open.
        public var corruptEntries: Int
        /// Entries evicted for the budget or the map since open.
        public var evictions: Int
        /// Writes that hit `MDB_MAP_FULL` and were retried after evicting.
        public var mapFullRecoveries: Int
    }

    /// The current counts and sizes.
    public func statistics() throws -> Statistics {
        let (entries, bytes) = try lmdb.read { txn in (try txn.count(lmdb.entries), try Meta.bytes(txn)) }
        let c = metrics.snapshot
        return Statistics(
            entries: entries, recordBytes: bytes, byteBudget: configuration.byteBudget, usedMapBytes: lmdb.usage().usedBytes,
            hits: c.hits, misses: c.misses, corruptEntries: c.corruptEntries, evictions: c.evictions,
            mapFullRecoveries: c.mapFullRecoveries)
    }

    /// Checks that the indexes and the byte total agree with the entries: every entry's record
    /// decodes and has its tag, expiry and access index entries, every index entry points to an
    /// entry that lists it, and the byte total is the records' sum.
    /// - Returns: the problems found (empty when consistent)
    /// - Complexity: O(entries + index entries)
    public func consistencyProblems() throws -> [String] {
        try lmdb.read { txn in
            var problems: [String] = []
            var records: [UInt64: EntryRecord] = [:]
            var total = 0
            try txn.scan(lmdb.entries) { key, value in
                let hash = UInt64(bigEndian: key.loadUnaligned(as: UInt64.self))
                total += value.count
                if let record = try? EntryRecord.decode(value) {
                    records[hash] = record
                } else {
                    problems.append("entry \(hash) does not decode")
                }
                return true
            }
            if total != (try Meta.bytes(txn)) { problems.append("byte total \(try Meta.bytes(txn)), records hold \(total)") }
            var tagged = Set<[UInt8]>()
            try txn.scan(lmdb.tags) { key, value in
                let hash = UInt64(bigEndian: value.loadUnaligned(as: UInt64.self))
                tagged.insert(Array(key) + Array(value))
                if let record = records[hash], !record.tags.contains(where: { KeyHash.tagKey($0) == Array(key) }) {
                    problems.append("tag index lists entry \(hash) under a tag it does not carry")
                } else if records[hash] == nil {
                    problems.append("tag index lists missing entry \(hash)")
                }
                return true
            }
            var expiring = Set<UInt64>(), accessed = Set<UInt64>(), ordered = Set<UInt64>()
            try txn.scan(lmdb.expiry) { key, _ in
                if let (time, hash) = KeyHash.parseTimeKey(key) {
                    expiring.insert(hash)
                    if records[hash]?.expiresAt != time { problems.append("expiry index entry for \(hash) disagrees") }
                }
                return true
            }
            try txn.scan(lmdb.access) { key, _ in
                accessed.insert(UInt64(bigEndian: key.loadUnaligned(as: UInt64.self)))
                return true
            }
            try txn.scan(lmdb.lru) { key, _ in
                if let (_, hash) = KeyHash.parseTimeKey(key) { ordered.insert(hash) }
                return true
            }
            for (hash, record) in records {
                let hashKey = KeyHash.bytes(hash)
                for tag in record.tags where !tagged.contains(KeyHash.tagKey(tag) + hashKey) {
                    problems.append("entry \(record.key) misses tag \(tag) in the index")
                }
                if record.expiresAt != .max, !expiring.contains(hash) { problems.append("entry \(record.key) misses its expiry") }
                if !accessed.contains(hash) || !ordered.contains(hash) { problems.append("entry \(record.key) misses its access time") }
            }
            if accessed.count != records.count || ordered.count != records.count {
                problems.append("access indexes hold \(accessed.count) and \(ordered.count) entries for \(records.count)")
            }
            return problems
        }
    }
}

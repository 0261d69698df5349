/// A small named value kept beside the entries (in the `meta` database), written in the same
/// transaction as a removal: e.g. "invalidations are complete through log position P". Notes are
/// never evicted, expired or removed with the entries.
public struct DiskCacheNote: Sendable, Equatable {
    /// The note's name (at most ``DiskCacheNote/maxNameBytes`` UTF-8 bytes).
    public var name: String
    /// Its value (at most ``DiskCacheNote/maxValueBytes``).
    public var value: [UInt8]

    /// The longest name, in UTF-8 bytes.
    public static let maxNameBytes = 200
    /// The longest value, in bytes.
    public static let maxValueBytes = 4096

    /// - Parameters:
    ///   - name: the note's name
    ///   - value: its value
    public init(name: String, value: [UInt8]) {
        self.name = name
        self.value = value
    }
}

extension DiskCache {
    /// The value of the note `name`, as the last committed write left it.
    /// - Parameter name: the note's name
    /// - Returns: its value, or nil if it was never written
    public func note(named name: String) throws -> [UInt8]? {
        let key = Meta.noteKey(name)
        return try lmdb.read { txn in try key.withUnsafeBytes { k in try txn.get(lmdb.meta, k).map { Array($0) } } }
    }

    /// The value of the note `name`, read off Swift's cooperative threads.
    /// - Parameter name: the note's name
    /// - Returns: its value, or nil if it was never written
    public func note(named name: String) async throws -> [UInt8]? {
        try await run(on: readQueue) { try self.note(named: name) }
    }
}

extension Meta {
    static func noteKey(_ name: String) -> [UInt8] { Array("note:".utf8) + Array(name.utf8) }

    static func setNote(_ txn: Transaction, _ note: DiskCacheNote) throws {
        guard note.name.utf8.count <= DiskCacheNote.maxNameBytes, note.value.count <= DiskCacheNote.maxValueBytes else {
            throw DiskCacheError(description: "a note must have a name of at most \(DiskCacheNote.maxNameBytes) bytes and a value of at most \(DiskCacheNote.maxValueBytes)")
        }
        try noteKey(note.name).withUnsafeBytes { k in
            try note.value.withUnsafeBytes { try txn.put(txn.environment.meta, k, $0) }
        }
    }
}

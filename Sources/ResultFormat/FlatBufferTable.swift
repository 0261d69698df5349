/// A bounds-checked view of one FlatBuffers table inside a buffer.
///
/// Every read checks that it stays inside the buffer (and scalars inside the table), so lying
/// offsets in the metadata become ``ArchiveError``s. Reads are unaligned: the buffer may sit at any
/// address (an LMDB page, a network frame).
struct FlatBufferTable {
    let buffer: UnsafeRawBufferPointer
    /// The table's position in `buffer`.
    let position: Int
    private let vtable: Int
    private let vtableSize: Int
    private let tableSize: Int

    /// Opens the root table of a FlatBuffer.
    @inline(__always)
    static func root(of buffer: UnsafeRawBufferPointer) throws -> FlatBufferTable {
        let offset = try buffer.checkedLoad(UInt32.self, at: 0)
        return try FlatBufferTable(buffer: buffer, position: Int(offset))
    }

    @inline(__always)
    init(buffer: UnsafeRawBufferPointer, position: Int) throws {
        self.buffer = buffer
        self.position = position
        let back = Int(try buffer.checkedLoad(Int32.self, at: position))
        let vtable = position - back
        guard vtable >= 0, vtable <= buffer.count - 4 else {
            throw ArchiveError(.malformedMetadata, "vtable of the table at \(position) lies outside the metadata")
        }
        let vtableSize = Int(try buffer.checkedLoad(UInt16.self, at: vtable))
        let tableSize = Int(try buffer.checkedLoad(UInt16.self, at: vtable + 2))
        guard vtableSize >= 4, vtableSize % 2 == 0, vtableSize <= buffer.count - vtable,
              tableSize >= 4, tableSize <= buffer.count - position
        else {
            throw ArchiveError(.malformedMetadata, "table at \(position) has an impossible vtable")
        }
        self.vtable = vtable
        self.vtableSize = vtableSize
        self.tableSize = tableSize
    }

    /// The field's offset inside the table, or `nil` when absent.
    @inline(__always)
    private func fieldOffset(_ slot: Int, size: Int) throws -> Int? {
        let entry = 4 + 2 * slot
        guard entry + 2 <= vtableSize else { return nil }
        // Inside the vtable, which `init` checked lies inside the buffer.
        let offset = Int(buffer.uncheckedLoad(UInt16.self, at: vtable + entry))
        guard offset != 0 else { return nil }
        guard offset >= 4, offset + size <= tableSize else {
            throw ArchiveError(.malformedMetadata, "field \(slot) of the table at \(position) lies outside it")
        }
        return position + offset
    }

    /// A scalar field, or its default when absent.
    @inline(__always)
    func scalar<T: FixedWidthInteger>(_ slot: Int, default defaultValue: T) throws -> T {
        guard let at = try fieldOffset(slot, size: MemoryLayout<T>.size) else { return defaultValue }
        return buffer.uncheckedLoad(T.self, at: at)  // inside the table (checked by `fieldOffset`)
    }

    /// Whether a field is present.
    @inline(__always)
    func has(_ slot: Int) throws -> Bool { try fieldOffset(slot, size: 1) != nil }

    /// The position a reference field points to, or `nil` when absent.
    @inline(__always)
    private func target(_ slot: Int) throws -> Int? {
        guard let at = try fieldOffset(slot, size: 4) else { return nil }
        return at + Int(buffer.uncheckedLoad(UInt32.self, at: at))  // inside the table
    }

    /// A sub-table field, or `nil` when absent.
    @inline(__always)
    func table(_ slot: Int) throws -> FlatBufferTable? {
        guard let at = try target(slot) else { return nil }
        return try FlatBufferTable(buffer: buffer, position: at)
    }

    /// A vector field: its element count and the position of its first element, or `nil` when absent.
    /// - Parameter elementSize: bytes per element, to check the vector fits in the buffer
    @inline(__always)
    func vector(_ slot: Int, elementSize: Int) throws -> (count: Int, start: Int)? {
        guard let at = try target(slot) else { return nil }
        let count = Int(try buffer.checkedLoad(UInt32.self, at: at))
        let start = at + 4
        guard count <= (buffer.count - start) / elementSize else {
            throw ArchiveError(.truncated, "vector of \(count) elements at \(at) runs past the metadata")
        }
        return (count, start)
    }

    /// The tables of a vector-of-tables field (empty when absent).
    func tables(_ slot: Int) throws -> [FlatBufferTable] {
        guard let (count, start) = try vector(slot, elementSize: 4) else { return [] }
        var result: [FlatBufferTable] = []
        result.reserveCapacity(count)
        for i in 0..<count {
            let at = start + 4 * i
            result.append(try FlatBufferTable(buffer: buffer, position: at + Int(try buffer.checkedLoad(UInt32.self, at: at))))
        }
        return result
    }

    /// A string field, or `nil` when absent.
    func string(_ slot: Int) throws -> String? {
        guard let (count, start) = try vector(slot, elementSize: 1) else { return nil }
        let bytes = UnsafeRawBufferPointer(rebasing: buffer[start..<(start + count)])
        if ArchivedResult.isASCII(bytes) { return String(decoding: bytes, as: UTF8.self) }
        guard let string = String(validating: bytes, as: UTF8.self) else {
            throw ArchiveError(.invalidData, "a name in the metadata is not valid UTF-8")
        }
        return string
    }
}

extension UnsafeRawBufferPointer {
    /// Loads a little-endian integer at any alignment, checking the bytes are inside the buffer.
    @inline(__always)
    func checkedLoad<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) throws -> T {
        guard offset >= 0, offset <= count - MemoryLayout<T>.size else {
            throw ArchiveError(.truncated, "read of \(MemoryLayout<T>.size) bytes at \(offset) past the end (\(count) bytes)")
        }
        return T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// Loads a little-endian integer at any alignment where the caller has checked the bounds.
    @inline(__always)
    func uncheckedLoad<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

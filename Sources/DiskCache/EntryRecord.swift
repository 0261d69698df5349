/// The bytes stored for one cache entry: a self-describing header, then the value, starting 8-byte
/// aligned relative to the record.
///
/// Layout (little-endian):
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 4 | magic `ACR1` |
/// | 4 | 2 | format version (``formatVersion``) |
/// | 6 | 2 | flags (0) |
/// | 8 | 4 | header length = the value's offset, a multiple of 8 |
/// | 12 | 4 | CRC-32C of the header, computed with this field zero |
/// | 16 | 4 | CRC-32C of the value |
/// | 20 | 4 | key length |
/// | 24 | 8 | created at, µs since the Unix epoch |
/// | 32 | 8 | expires at, µs since the Unix epoch (`Int64.max`: never) |
/// | 40 | 8 | value length |
/// | 48 | 4 | tag count |
/// | 52 | 4 | reserved (0) |
/// | 56 | … | key (UTF-8), then each tag as a 2-byte length and UTF-8, zero padding to 8 |
/// | header length | value length | the value |
///
/// The full key is kept because LMDB stores the entry under a 64-bit hash of it.
struct EntryRecord: Equatable {
    static let magic: UInt32 = 0x3152_4341  // "ACR1" little-endian
    static let formatVersion: UInt16 = 1
    static let fixedHeader = 56

    var key: String
    var createdAt: Int64
    var expiresAt: Int64
    var tags: [String]
    var valueLength: Int
    var valueChecksum: UInt32
    /// Where the value starts in the record.
    var valueOffset: Int

    /// Why a stored record cannot be used.
    enum Problem: Error, Equatable {
        case truncated
        case badMagic
        case unknownVersion(UInt16)
        case headerChecksum
        case valueChecksum
        case malformed(String)
    }

    /// Builds the record for `value`.
    static func encode(
        key: String, value: UnsafeRawBufferPointer, createdAt: Int64, expiresAt: Int64, tags: [String]
    ) -> [UInt8] {
        var header: [UInt8] = []
        header.reserveCapacity(fixedHeader + key.utf8.count + tags.reduce(0) { $0 + 2 + $1.utf8.count } + 8)
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { header.append(contentsOf: $0) } }
        put(magic)
        put(formatVersion)
        put(UInt16(0))
        put(UInt32(0))  // header length, patched below
        put(UInt32(0))  // header checksum, patched below
        put(CRC32C.checksum(value))
        put(UInt32(key.utf8.count))
        put(createdAt)
        put(expiresAt)
        put(UInt64(value.count))
        put(UInt32(tags.count))
        put(UInt32(0))
        header.append(contentsOf: key.utf8)
        for tag in tags {
            let utf8 = Array(tag.utf8.prefix(Int(UInt16.max)))
            put(UInt16(utf8.count))
            header.append(contentsOf: utf8)
        }
        header.append(contentsOf: repeatElement(0, count: (8 - header.count % 8) % 8))
        let length = UInt32(header.count)
        withUnsafeBytes(of: length.littleEndian) { header.replaceSubrange(8..<12, with: $0) }
        let headerChecksum = header.withUnsafeBytes { CRC32C.checksum($0) }
        withUnsafeBytes(of: headerChecksum.littleEndian) { header.replaceSubrange(12..<16, with: $0) }
        header.append(contentsOf: value)
        return header
    }

    /// Reads and checks a record's header (not the value's checksum: see ``verifyValue(in:)``).
    /// - Parameter bytes: a whole record, at any alignment
    /// - Throws: ``Problem`` for anything that does not add up
    static func decode(_ bytes: UnsafeRawBufferPointer) throws(Problem) -> EntryRecord {
        guard bytes.count >= fixedHeader else { throw .truncated }
        func load<T: FixedWidthInteger>(_ at: Int, _: T.Type) -> T {
            T(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: T.self))
        }
        guard load(0, UInt32.self) == magic else { throw .badMagic }
        let version = load(4, UInt16.self)
        guard version == formatVersion else { throw .unknownVersion(version) }
        let headerLength = Int(load(8, UInt32.self))
        guard headerLength >= fixedHeader, headerLength % 8 == 0, headerLength <= bytes.count else {
            throw .malformed("header length \(headerLength)")
        }
        var crcInput = Array(bytes[0..<headerLength])
        crcInput.replaceSubrange(12..<16, with: [0, 0, 0, 0])
        guard crcInput.withUnsafeBytes({ CRC32C.checksum($0) }) == load(12, UInt32.self) else { throw .headerChecksum }
        let keyLength = Int(load(20, UInt32.self))
        let valueLength = load(40, UInt64.self)
        let tagCount = Int(load(48, UInt32.self))
        guard valueLength == UInt64(bytes.count - headerLength) else { throw .malformed("value length \(valueLength)") }
        guard keyLength <= headerLength - fixedHeader else { throw .malformed("key length \(keyLength)") }
        var position = fixedHeader + keyLength
        let key = String(decoding: bytes[fixedHeader..<position], as: UTF8.self)
        var tags: [String] = []
        for _ in 0..<min(tagCount, headerLength) {
            guard position + 2 <= headerLength else { throw .malformed("tags") }
            let length = Int(load(position, UInt16.self))
            position += 2
            guard position + length <= headerLength else { throw .malformed("tags") }
            tags.append(String(decoding: bytes[position..<(position + length)], as: UTF8.self))
            position += length
        }
        guard tags.count == tagCount else { throw .malformed("tag count \(tagCount)") }
        return EntryRecord(
            key: key, createdAt: load(24, Int64.self), expiresAt: load(32, Int64.self), tags: tags,
            valueLength: Int(valueLength), valueChecksum: load(16, UInt32.self), valueOffset: headerLength)
    }

    /// The value's bytes inside `bytes`, after checking them against the stored checksum.
    /// - Throws: ``Problem/valueChecksum`` when they differ
    func verifyValue(in bytes: UnsafeRawBufferPointer) throws(Problem) -> UnsafeRawBufferPointer {
        let value = UnsafeRawBufferPointer(rebasing: bytes[valueOffset..<(valueOffset + valueLength)])
        guard CRC32C.checksum(value) == valueChecksum else { throw .valueChecksum }
        return value
    }
}

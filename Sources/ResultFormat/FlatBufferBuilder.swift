/// The minimal FlatBuffers builder the Arrow IPC metadata needs: tables with scalar, offset and
/// union fields, vectors of offsets and of structs, strings.
///
/// Like every FlatBuffers builder it writes back to front: an object is finished before the object
/// that refers to it, so every reference (`uoffset_t`) points forward, as the format requires. The
/// bytes are kept reversed while building (appending is cheap) and flipped once by ``finish(root:)``.
/// Offsets returned by the builder count bytes from the end of the final buffer.
///
/// Only what Arrow's `Message.fbs` and `Schema.fbs` use is here: no vtable sharing, no nested
/// flatbuffers. Written from the FlatBuffers binary format description.
struct FlatBufferBuilder {
    /// A finished object: its distance from the end of the buffer.
    struct Offset: Equatable {
        var value: Int
    }

    /// The bytes written so far, last byte of the final buffer first.
    private var reversed: [UInt8] = []
    /// The largest alignment any written value needs; the final size is a multiple of it.
    private var maxAlign = 1
    /// Field slot → the field's distance from the end, for the table being built.
    private var fields: [(slot: Int, at: Int)] = []
    private var tableStart = 0

    init(capacity: Int = 256) {
        reversed.reserveCapacity(capacity)
    }

    /// The distance from the end of the buffer to the next byte written.
    var size: Int { reversed.count }

    // MARK: Raw writing

    /// Pads so that after writing `additional` more bytes the position is a multiple of `alignment`.
    mutating func prepare(alignment: Int, additional: Int) {
        maxAlign = max(maxAlign, alignment)
        let pad = (alignment - (reversed.count + additional) % alignment) % alignment
        for _ in 0..<pad { reversed.append(0) }
    }

    /// Writes an integer in front of what was written, little-endian, without alignment.
    private mutating func put<T: FixedWidthInteger>(_ value: T) {
        // Reversed storage: most significant byte first, so the final buffer is little-endian.
        var shift = T.bitWidth - 8
        while shift >= 0 {
            reversed.append(UInt8(truncatingIfNeeded: value >> T(shift)))
            shift -= 8
        }
    }

    /// Writes an aligned scalar in front of what was written.
    mutating func prepend<T: FixedWidthInteger>(_ value: T) {
        prepare(alignment: MemoryLayout<T>.size, additional: MemoryLayout<T>.size)
        put(value)
    }

    /// Writes a reference to `target`, relative to the reference's own position.
    mutating func prepend(_ target: Offset) {
        prepare(alignment: 4, additional: 4)
        put(UInt32(reversed.count + 4 - target.value))
    }

    // MARK: Objects

    /// Writes a string: length, UTF-8 bytes, a terminating zero.
    /// - Returns: its offset
    mutating func createString(_ string: String) -> Offset {
        let utf8 = Array(string.utf8)
        prepare(alignment: 4, additional: utf8.count + 1)
        reversed.append(0)
        reversed.append(contentsOf: utf8.reversed())
        put(UInt32(utf8.count))
        return Offset(value: reversed.count)
    }

    /// Writes a vector of references.
    /// - Returns: its offset
    mutating func createVector(_ elements: [Offset]) -> Offset {
        prepare(alignment: 4, additional: elements.count * 4)
        for element in elements.reversed() { prepend(element) }
        put(UInt32(elements.count))
        return Offset(value: reversed.count)
    }

    /// Writes a vector of structs made of `Int64` fields (Arrow's `FieldNode` and `Buffer`).
    /// - Parameter structs: each struct's fields in declaration order
    /// - Returns: its offset
    mutating func createStructVector(_ structs: [(Int64, Int64)]) -> Offset {
        prepare(alignment: 4, additional: structs.count * 16)
        prepare(alignment: 8, additional: structs.count * 16)
        for element in structs.reversed() {
            put(element.1)
            put(element.0)
        }
        put(UInt32(structs.count))
        return Offset(value: reversed.count)
    }

    /// Begins a table; add its fields, then call ``endTable()``.
    mutating func startTable() {
        fields.removeAll(keepingCapacity: true)
        tableStart = reversed.count
    }

    /// Adds a scalar field, unless it equals the schema's default (which readers assume).
    mutating func add<T: FixedWidthInteger>(_ value: T, slot: Int, default defaultValue: T) {
        guard value != defaultValue else { return }
        prepend(value)
        fields.append((slot, reversed.count))
    }

    /// Adds a scalar field even when it equals the default.
    mutating func addForced<T: FixedWidthInteger>(_ value: T, slot: Int) {
        prepend(value)
        fields.append((slot, reversed.count))
    }

    /// Adds a reference field.
    mutating func add(_ target: Offset, slot: Int) {
        prepend(target)
        fields.append((slot, reversed.count))
    }

    /// Finishes the table: writes its vtable just before it.
    /// - Returns: the table's offset
    mutating func endTable() -> Offset {
        prepend(Int32(0))  // the vtable reference, patched below
        let object = reversed.count
        let slotCount = (fields.map(\.slot).max() ?? -1) + 1
        var entries = [UInt16](repeating: 0, count: slotCount)
        for field in fields { entries[field.slot] = UInt16(object - field.at) }
        for entry in entries.reversed() { put(entry) }
        put(UInt16(object - tableStart))
        put(UInt16(4 + 2 * slotCount))
        let vtable = reversed.count
        // The table starts with `table - vtable` as a signed offset; the vtable lies before it.
        patch(Int32(vtable - object), at: object)
        fields.removeAll(keepingCapacity: true)
        return Offset(value: object)
    }

    /// Overwrites the four bytes of a 32-bit value that starts `distance` bytes from the end.
    private mutating func patch(_ value: Int32, at distance: Int) {
        let bits = UInt32(bitPattern: value)
        for k in 0..<4 {
            reversed[distance - 1 - k] = UInt8(truncatingIfNeeded: bits >> UInt32(8 * k))
        }
    }

    /// Writes the root reference and returns the finished buffer.
    /// - Parameter root: the root table
    /// - Returns: the FlatBuffer, its size a multiple of the largest alignment used
    mutating func finish(root: Offset) -> [UInt8] {
        prepare(alignment: maxAlign, additional: 4)
        prepend(root)
        return reversed.reversed()
    }
}

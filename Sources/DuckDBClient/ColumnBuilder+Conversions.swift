import CDuckDB
import ResultFormat

/// Row validity of one DuckDB vector (nil mask: every row valid).
struct ValidityView {
    let mask: UnsafeMutablePointer<UInt64>?

    @inline(__always)
    subscript(row: Int) -> Bool {
        guard let mask else { return true }
        return mask[row &>> 6] & (1 &<< UInt64(row & 63)) != 0
    }

    /// Calls `body` for each null row below `count`.
    @inline(__always)
    func forEachNull(below count: Int, _ body: (Int) -> Void) {
        guard let mask else { return }
        let words = (count + 63) / 64
        for w in 0..<words {
            var nulls = ~mask[w]
            while nulls != 0 {
                let bit = nulls.trailingZeroBitCount
                let row = w * 64 + bit
                if row >= count { break }
                body(row)
                nulls &= nulls &- 1
            }
        }
    }
}

extension ColumnBuilder {
    /// A vector of values laid out as `T`, with null rows zeroed.
    @inline(__always)
    static func copy<T>(_ data: UnsafeMutableRawPointer, _ count: Int, _ valid: ValidityView, zero: T) -> [T] {
        var array = Array(UnsafeBufferPointer(start: data.assumingMemoryBound(to: T.self), count: count))
        valid.forEachNull(below: count) { array[$0] = zero }
        return array
    }

    /// A vector converted value by value from `Source`; null rows get `zero` and their (undefined)
    /// source values are not converted.
    @inline(__always)
    static func map<Source, Target>(
        _ data: UnsafeMutableRawPointer, as source: Source.Type, _ count: Int, _ valid: ValidityView, zero: Target,
        _ convert: (Source) -> Target
    ) -> [Target] {
        let input = data.assumingMemoryBound(to: Source.self)
        return Array(unsafeUninitializedCapacity: count) { out, initialized in
            guard let base = out.baseAddress else { return }
            if valid.mask == nil {
                for i in 0..<count { (base + i).initialize(to: convert(input[i])) }
            } else {
                for i in 0..<count { (base + i).initialize(to: valid[i] ? convert(input[i]) : zero) }
            }
            initialized = count
        }
    }

    /// `count` zero values of the kind of `empty`.
    static func zeros(_ empty: ColumnValues, _ count: Int) -> ColumnValues {
        switch empty {
        case .boolean: .boolean(Array(repeating: false, count: count))
        case .int8: .int8(Array(repeating: 0, count: count))
        case .int16: .int16(Array(repeating: 0, count: count))
        case .int32: .int32(Array(repeating: 0, count: count))
        case .int64: .int64(Array(repeating: 0, count: count))
        case .uint8: .uint8(Array(repeating: 0, count: count))
        case .uint16: .uint16(Array(repeating: 0, count: count))
        case .uint32: .uint32(Array(repeating: 0, count: count))
        case .uint64: .uint64(Array(repeating: 0, count: count))
        case .float: .float(Array(repeating: 0, count: count))
        case .double: .double(Array(repeating: 0, count: count))
        case .utf8: .utf8(VariableLengthValues(unchecked: Array(repeating: 0, count: count + 1), bytes: []))
        case .binary: .binary(VariableLengthValues(unchecked: Array(repeating: 0, count: count + 1), bytes: []))
        case .interval: .interval(Array(repeating: Interval(months: 0, days: 0, micros: 0), count: count))
        case .int128: .int128(Array(repeating: 0, count: count))
        case .uint128: .uint128(Array(repeating: 0, count: count))
        case .list, .structure: empty  // nested columns are built from their children, never zero-filled
        }
    }

    /// A vector of `duckdb_string_t` as offsets and bytes, each allocated once at its exact size.
    /// Strings of at most 12 bytes are inlined in the 16-byte struct; longer ones are behind its pointer.
    /// - Throws: ``DuckDBError`` `.resultTooLarge` when the strings' bytes pass `budget` (counted
    ///   before anything is copied)
    static func strings(_ data: UnsafeMutableRawPointer, _ count: Int, _ valid: ValidityView, budget: Int? = nil) throws -> VariableLengthValues {
        @inline(__always) func length(_ i: Int) -> Int {
            valid[i] ? Int((data + i * 16).load(as: UInt32.self)) : 0
        }
        var total = 0
        let offsets = Array(unsafeUninitializedCapacity: count + 1) { out, initialized in
            out.initializeElement(at: 0, to: 0)
            for i in 0..<count {
                total += length(i)
                out.initializeElement(at: i + 1, to: total)
            }
            initialized = count + 1
        }
        if let budget, total > budget {
            throw DuckDBError(.resultTooLarge, "\(total) bytes of strings in one vector pass the result cap")
        }
        let bytes = [UInt8](unsafeUninitializedCapacity: total) { out, initialized in
            if var cursor = UnsafeMutableRawPointer(out.baseAddress) {
                for i in 0..<count {
                    let n = length(i)
                    guard n > 0 else { continue }
                    let string = data + i * 16
                    if n <= 12 {
                        cursor.copyMemory(from: string + 4, byteCount: n)
                    } else if let pointer = string.load(fromByteOffset: 8, as: UnsafeRawPointer?.self) {
                        cursor.copyMemory(from: pointer, byteCount: n)
                    } else {
                        cursor.initializeMemory(as: UInt8.self, repeating: 0, count: n)
                    }
                    cursor += n
                }
            }
            initialized = total
        }
        return VariableLengthValues(unchecked: offsets, bytes: bytes)
    }

    /// The (lower, upper) halves of the 128-bit value at `index` (DuckDB's hugeint layout).
    @inline(__always)
    static func load128(_ data: UnsafeMutableRawPointer, _ index: Int) -> (UInt64, Int64) {
        (data.load(fromByteOffset: index * 16, as: UInt64.self), data.load(fromByteOffset: index * 16 + 8, as: Int64.self))
    }

    /// A signed 128-bit integer as the nearest double (exactly rounded when it fits 64 bits).
    static func double(lower: UInt64, upper: Int64) -> Double {
        if upper == 0 && lower <= UInt64(Int64.max) { return Double(Int64(lower)) }
        if upper == -1 && lower > UInt64(Int64.max) { return Double(Int64(bitPattern: lower)) }
        return Double(upper) * 18_446_744_073_709_551_616.0 + Double(lower)
    }

    /// An unsigned 128-bit integer as the nearest double.
    static func double(lower: UInt64, unsignedUpper upper: UInt64) -> Double {
        if upper == 0 { return Double(lower) }
        return Double(upper) * 18_446_744_073_709_551_616.0 + Double(lower)
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends DuckDB's UUID (a hugeint with the top bit flipped) in 8-4-4-4-12 form.
    static func appendUUID(lower: UInt64, upper: Int64, to values: inout VariableLengthValues) {
        let high = UInt64(bitPattern: upper) ^ (1 << 63)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 36) { out in
            var o = 0
            for (n, word) in [high, lower].enumerated() {
                for nibble in 0..<16 {
                    let position = n * 16 + nibble
                    if position == 8 || position == 12 || position == 16 || position == 20 {
                        out[o] = UInt8(ascii: "-")
                        o += 1
                    }
                    out[o] = hexDigits[Int(word >> UInt64(60 - nibble * 4) & 0xF)]
                    o += 1
                }
            }
            values.append(UnsafeRawBufferPointer(out))
        }
    }
}

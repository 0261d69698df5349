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
    /// Appends a vector of values laid out as `T`, then zeroes the rows that are null.
    @inline(__always)
    static func copy<T>(_ data: UnsafeMutableRawPointer, _ count: Int, into array: inout [T], valid: ValidityView, zero: T) {
        let base = array.count
        array.append(contentsOf: UnsafeBufferPointer(start: data.assumingMemoryBound(to: T.self), count: count))
        valid.forEachNull(below: count) { array[base + $0] = zero }
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

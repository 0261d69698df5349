extension Validity {
    /// The bits of `rows`, starting at bit `rows.lowerBound`, as one word (`bits` ≤ 64 of them).
    private func word(at bit: Int, bits: Int) -> UInt64 {
        let index = bit &>> 6
        let shift = UInt64(bit & 63)
        var w = words[index] &>> shift
        if shift != 0, index + 1 < words.count { w |= words[index + 1] &<< (64 - shift) }
        return bits == 64 ? w : w & ((1 &<< UInt64(bits)) &- 1)
    }

    /// The number of null rows among `rows`.
    /// - Parameter rows: a range inside `0..<count`
    /// - Complexity: O(rows.count / 64)
    public func nullCount(in rows: Range<Int>) -> Int {
        precondition(rows.lowerBound >= 0 && rows.upperBound <= count, "rows outside the bitmap")
        var valid = 0
        var bit = rows.lowerBound
        while bit < rows.upperBound {
            let bits = min(64, rows.upperBound - bit)
            valid += word(at: bit, bits: bits).nonzeroBitCount
            bit += bits
        }
        return rows.count - valid
    }

    /// Appends the bits of `rows` as an Arrow validity bitmap: `(rows.count + 7) / 8` bytes, bit 0
    /// of the first byte for `rows.lowerBound`, unused high bits of the last byte zero.
    /// - Parameters:
    ///   - rows: a range inside `0..<count`
    ///   - out: the buffer to append to
    public func appendBitmap(rows: Range<Int>, to out: inout [UInt8]) {
        precondition(rows.lowerBound >= 0 && rows.upperBound <= count, "rows outside the bitmap")
        var bit = rows.lowerBound
        var remainingBytes = (rows.count + 7) / 8
        while bit < rows.upperBound {
            let bits = min(64, rows.upperBound - bit)
            let w = word(at: bit, bits: bits)
            withUnsafeBytes(of: w.littleEndian) { bytes in
                let take = min(8, remainingBytes)
                out.append(contentsOf: bytes.prefix(take))
                remainingBytes -= take
            }
            bit += bits
        }
    }
}

/// Which rows of a column hold a value: a bitmap, least significant bit first, bit set = valid.
///
/// This is the layout of both DuckDB's validity masks and Arrow's validity bitmaps, so chunks can be
/// appended word by word and written out without re-packing.
public struct Validity: Sendable, Equatable {
    /// The bitmap words; bits past ``count`` are zero.
    public private(set) var words: [UInt64]
    /// The number of rows covered.
    public private(set) var count: Int
    /// The number of null rows.
    public private(set) var nullCount: Int

    /// An empty bitmap.
    public init() {
        words = []
        count = 0
        nullCount = 0
    }

    /// A bitmap from per-row flags.
    /// - Parameter valid: `true` for each row that holds a value
    public init<S: Sequence>(_ valid: S) where S.Element == Bool {
        self.init()
        for v in valid { append(v) }
    }

    /// Whether row `index` holds a value.
    /// - Parameter index: the row, `0..<count`
    /// - Complexity: O(1)
    @inlinable
    public func isValid(_ index: Int) -> Bool {
        words[index &>> 6] & (1 &<< UInt64(index & 63)) != 0
    }

    /// Appends one row.
    /// - Parameter valid: whether it holds a value
    public mutating func append(_ valid: Bool) {
        if count & 63 == 0 { words.append(0) }
        if valid {
            words[count &>> 6] |= 1 &<< UInt64(count & 63)
        } else {
            nullCount += 1
        }
        count += 1
    }

    /// Appends `rowCount` rows that all hold values.
    /// - Parameter rowCount: the number of rows
    public mutating func appendValid(_ rowCount: Int) {
        appendConstant(rowCount, valid: true)
    }

    /// Appends `rowCount` rows that are all null.
    /// - Parameter rowCount: the number of rows
    public mutating func appendNull(_ rowCount: Int) {
        appendConstant(rowCount, valid: false)
    }

    private mutating func appendConstant(_ rowCount: Int, valid: Bool) {
        guard rowCount > 0 else { return }
        var remaining = rowCount
        // Finish the partial last word.
        let used = count & 63
        if used != 0 {
            let take = min(64 - used, remaining)
            if valid {
                let mask: UInt64 = take == 64 ? ~0 : ((1 &<< UInt64(take)) &- 1)
                words[words.count - 1] |= mask &<< UInt64(used)
            }
            remaining -= take
        }
        let full = remaining / 64
        if full > 0 { words.append(contentsOf: repeatElement(valid ? ~0 : 0, count: full)) }
        let tail = remaining & 63
        if tail > 0 { words.append(valid ? (1 &<< UInt64(tail)) &- 1 : 0) }
        count += rowCount
        if !valid { nullCount += rowCount }
    }

    /// Appends `rowCount` rows from a bitmap in the same layout (DuckDB's validity mask).
    /// - Parameters:
    ///   - source: at least `(rowCount + 63) / 64` words; bits past `rowCount` are ignored
    ///   - rowCount: the number of rows to take
    /// - Complexity: O(rowCount / 64)
    public mutating func append(bitmap source: UnsafePointer<UInt64>, rowCount: Int) {
        guard rowCount > 0 else { return }
        let sourceWords = (rowCount + 63) / 64
        let tailBits = rowCount & 63
        let shift = count & 63
        var nulls = 0
        if shift == 0 {
            words.reserveCapacity(words.count + sourceWords)
            for i in 0..<sourceWords {
                var w = source[i]
                if i == sourceWords - 1, tailBits != 0 { w &= (1 &<< UInt64(tailBits)) &- 1 }
                let bits = (i == sourceWords - 1 && tailBits != 0) ? tailBits : 64
                nulls += bits - w.nonzeroBitCount
                words.append(w)
            }
        } else {
            // Merge into the partial last word, carrying the high bits into the next one.
            var remaining = rowCount
            for i in 0..<sourceWords {
                var w = source[i]
                let bits = min(64, remaining)
                if bits < 64 { w &= (1 &<< UInt64(bits)) &- 1 }
                nulls += bits - w.nonzeroBitCount
                words[words.count - 1] |= w &<< UInt64(shift)
                let spill = shift + bits - 64
                if spill > 0 { words.append(w &>> UInt64(64 - shift)) }
                remaining -= bits
            }
        }
        count += rowCount
        nullCount += nulls
    }
}

import ResultFormat
import Testing
import TestSupport

@Suite struct ValidityTests {
    @Test(arguments: [1, 2, 3, 42])
    func bitmapChunksOfAnySizeAppendLikeRowByRow(seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        var fast = Validity()
        var expected: [Bool] = []
        for _ in 0..<60 {
            let rows = Int.random(in: 0...300, using: &rng)
            let kind = Int.random(in: 0..<4, using: &rng)
            var words = (0..<((rows + 63) / 64 + 1)).map { _ in UInt64.random(in: .min ... .max, using: &rng) }
            switch kind {
            case 0: fast.appendValid(rows); expected += repeatElement(true, count: rows)
            case 1: fast.appendNull(rows); expected += repeatElement(false, count: rows)
            default:
                if kind == 3 { words = words.map { $0 | 0xFFFF_FFFF_0000_0000 } }
                words.withUnsafeBufferPointer { fast.append(bitmap: $0.baseAddress!, rowCount: rows) }
                for r in 0..<rows { expected.append(words[r / 64] & (1 << UInt64(r % 64)) != 0) }
            }
        }
        #expect(fast.count == expected.count)
        #expect(fast.nullCount == expected.filter { !$0 }.count)
        #expect((0..<expected.count).allSatisfy { fast.isValid($0) == expected[$0] })
        #expect(fast == Validity(expected), "bits past the count must stay zero")
    }

    @Test func columnsWithoutNullsDropTheirBitmap() throws {
        let column = try Column(name: "a", type: .int64, values: .int64([1, 2]), validity: Validity([true, true]))
        #expect(column.validity == nil)
        #expect(!column.isNull(0) && !column.isNull(1))
        let withNull = try Column(name: "a", type: .int64, values: .int64([1, 0]), validity: Validity([true, false]))
        #expect(withNull.isNull(1) && withNull.value(at: 1) == .null)
    }
}

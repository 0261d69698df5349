import Foundation
import ResultFormat
import Testing
import TestSupport

/// Seeded random mutation of valid streams: every mutant must open or fail with an
/// ``ArchiveError``; one that opens must answer every accessor and encoder with a value or an
/// error; one that passes `validate()` must answer every accessor without an error.
///
/// `ARCHIVE_FUZZ_ITERATIONS` sets the count (default 20 000 in `make test`);
/// `ARCHIVE_FUZZ_SEED` the seed. The count run before resolving is in docs/benchmarks.md.
@Suite struct ArchiveFuzzTests {
    static let interesting32: [UInt32] = [0, 1, 2, 7, 8, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0xFFFF_FFF8]

    static func mutate(_ input: [UInt8], _ g: inout SeededRandom) -> [UInt8] {
        var bytes = input
        for _ in 0...g.below(3) {
            guard !bytes.isEmpty else { break }
            let at = g.below(bytes.count)
            switch g.below(7) {
            case 0: bytes[at] ^= 1 << UInt8(g.below(8))
            case 1: bytes[at] = [0, 0xFF, 0x7F, 0x80, 0xC0, 0xFE][g.below(6)]
            case 2:
                let aligned = at & ~3
                guard aligned + 4 <= bytes.count else { continue }
                var value = interesting32[g.below(interesting32.count)]
                if g.below(2) == 0 {
                    let old = bytes[aligned..<(aligned + 4)].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
                    value = old &+ UInt32(bitPattern: Int32(g.below(17)) - 8)
                }
                withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(aligned..<(aligned + 4), with: $0) }
            case 3:
                let aligned = at & ~7
                guard aligned + 8 <= bytes.count else { continue }
                let value: Int64 = [0, -1, .max, .min, 1 << 32, 1 << 20][g.below(6)]
                withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(aligned..<(aligned + 8), with: $0) }
            case 4: bytes.removeSubrange(at...)
            case 5: bytes.removeSubrange(at..<min(bytes.count, at + 1 + g.below(16)))
            default:
                let length = min(bytes.count - at, 1 + g.below(64))
                let chunk = Array(bytes[at..<(at + length)])
                bytes.insert(contentsOf: chunk, at: g.below(bytes.count + 1))
            }
        }
        return bytes
    }

    struct Outcome {
        var rejected = 0, opened = 0, validated = 0, accessorErrors = 0
    }

    /// Exercises everything a reader may call; returns whether `validate()` passed.
    static func exercise(_ archive: ArchivedResult, _ outcome: inout Outcome) {
        let valid = (try? archive.validate()) != nil
        if valid { outcome.validated += 1 }
        let rows = min(archive.rowCount, 200)
        for c in 0..<archive.columnCount {
            let column = archive.column(c)
            for row in 0..<rows {
                _ = column.isNull(row)
                do {
                    _ = try column.value(at: row)
                } catch {
                    outcome.accessorErrors += 1
                    #expect(!valid, "an accessor failed after validate() passed: \(error)")
                }
            }
        }
        for encode in [{ try JSONResultEncoder().encode(archive) }, { try JSONResultEncoder(layout: .columns).encode(archive) },
                       { try CSVResultEncoder().encode(archive) }, { _ = try archive.materialize(); return [] }] {
            do { _ = try encode() } catch { #expect(!valid, "an encoder failed after validate() passed: \(error)") }
        }
    }

    @Test func mutatedStreamsNeverTrapAndValidatedOnesAlwaysRead() throws {
        let environment = ProcessInfo.processInfo.environment
        let iterations = environment["ARCHIVE_FUZZ_ITERATIONS"].flatMap(Int.init) ?? 20_000
        var g = SeededRandom(seed: environment["ARCHIVE_FUZZ_SEED"].flatMap(UInt64.init) ?? 0xA11CE)
        let seeds: [[UInt8]] = try [
            ArrowIPCWriter(maxRowsPerBatch: 9).encode(try arrowSample(rows: 20)),
            ArrowIPCWriter().encode(try arrowSample(rows: 5, nullEvery: 2, seed: 4)),
            ArrowIPCWriter().encode(try arrowSample(rows: 0)),
            ArrowIPCWriter().encode(try arrowSample(rows: 3, allNull: true)),
            ArrowIPCWriter(maxRowsPerBatch: 4).encode(try nestedSample(rows: 12)),
            ArrowIPCWriter().encode(try nestedSample(rows: 3, seed: 9)),
        ]
        for seed in seeds {  // the seeds themselves are valid
            var outcome = Outcome()
            Self.exercise(try ArchivedResult(bytes: seed), &outcome)
            #expect(outcome.validated == 1 && outcome.accessorErrors == 0)
        }
        var outcome = Outcome()
        for _ in 0..<iterations {
            let mutant = Self.mutate(seeds[g.below(seeds.count)], &g)
            do {
                let archive = try ArchivedResult(bytes: mutant)
                outcome.opened += 1
                Self.exercise(archive, &outcome)
            } catch is ArchiveError {
                outcome.rejected += 1
            }
        }
        print("archive fuzz: \(iterations) mutants, \(outcome.rejected) rejected at open, \(outcome.opened) opened, \(outcome.validated) validated, \(outcome.accessorErrors) accessor errors")
        // The mutator reaches both sides: neither everything rejected nor everything accepted.
        #expect(outcome.opened + outcome.rejected == iterations)
        #expect(iterations < 100 || (outcome.rejected > iterations / 20 && outcome.opened > iterations / 20))
    }
}

/// The entry points the JSON and CSV encoders share: a ``QueryResult`` or an ``ArchivedResult`` in,
/// bytes (whole or in chunks) out, around each encoder's own loop over raw batches.
extension TextEncoding {
    /// An encoder's loop: appends the text of `batches` to `out`, handing `out` to `sink` and
    /// emptying it whenever it reaches `flushAt` bytes.
    typealias Loop = (_ batches: [RawBatch], _ out: inout [UInt8], _ flushAt: Int, _ sink: ([UInt8]) throws -> Void) throws -> Void

    static func encode(_ result: QueryResult, bytesPerValue: Int, _ loop: Loop) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(16 + result.rowCount * max(1, result.columns.count) * bytesPerValue)
        trusted { try result.withRawBatches { try loop($0, &out, .max) { _ in } } }
        return out
    }

    static func encode(_ archive: ArchivedResult, bytesPerValue: Int, _ loop: Loop) throws -> [UInt8] {
        var out: [UInt8] = []
        // Clamped: the sizes come from the archive, which may claim far more than it holds.
        out.reserveCapacity(min(1 << 26, 16 + archive.rowCount.multipliedReportingOverflow(by: max(1, archive.columnCount) * bytesPerValue).partialValue.magnitude.clampedToInt))
        try archive.withRawBatches { try loop($0, &out, .max) { _ in } }
        return out
    }

    static func write(_ archive: ArchivedResult, chunkSize: Int, to sink: ([UInt8]) throws -> Void, _ loop: Loop) throws {
        var out: [UInt8] = []
        out.reserveCapacity(min(1 << 26, chunkSize) + 4096)
        try withoutActuallyEscaping(sink) { sink in
            try archive.withRawBatches { try loop($0, &out, chunkSize, sink) }
        }
        if !out.isEmpty { try sink(out) }
    }
}

extension UInt {
    /// The value as an `Int`, `Int.max` when it does not fit.
    var clampedToInt: Int { self > UInt(Int.max) ? Int.max : Int(self) }
}

/// The entry points the JSON and CSV encoders share: a ``QueryResult`` or an ``ArchivedResult`` in,
/// bytes out — whole, pushed to a sink in chunks, or pulled chunk by chunk — around each encoder's
/// own resumable loop over raw batches.
extension TextEncoding {
    /// Where an encoder's output stands: encoders append from here and leave it where they stopped.
    struct Cursor: Sendable {
        enum Phase: Sendable { case start, body, done }
        var phase = Phase.start
        var batch = 0
        var row = 0
        var column = 0
        /// Whether a value (or row) has been written in the current list, for separators.
        var started = false
    }

    /// An encoder's loop: appends text from the cursor on until `out` holds `limit` bytes or the
    /// output is complete (the cursor's phase is then `.done`).
    typealias Loop = @Sendable (_ batches: [RawBatch], _ cursor: inout Cursor, _ out: inout [UInt8], _ limit: Int) throws -> Void

    static func encode(_ result: QueryResult, bytesPerValue: Int, _ loop: Loop) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(min(1 << 26, 16 + result.rowCount.multipliedReportingOverflow(by: max(1, result.columns.count) * bytesPerValue).partialValue.magnitude.clampedToInt))
        var cursor = Cursor()
        trusted { try result.withRawBatches { try loop($0, &cursor, &out, .max) } }
        return out
    }

    static func encode(_ archive: ArchivedResult, bytesPerValue: Int, _ loop: Loop) throws -> [UInt8] {
        var out: [UInt8] = []
        // Clamped: the sizes come from the archive, which may claim far more than it holds.
        out.reserveCapacity(min(1 << 26, 16 + archive.rowCount.multipliedReportingOverflow(by: max(1, archive.columnCount) * bytesPerValue).partialValue.magnitude.clampedToInt))
        var cursor = Cursor()
        try archive.withRawBatches { try loop($0, &cursor, &out, .max) }
        return out
    }

    static func write(_ archive: ArchivedResult, chunkSize: Int, to sink: ([UInt8]) throws -> Void, _ loop: Loop) throws {
        var out: [UInt8] = []
        out.reserveCapacity(min(1 << 26, max(1, chunkSize)) + 4096)
        var cursor = Cursor()
        try archive.withRawBatches { batches in
            while cursor.phase != .done {
                try loop(batches, &cursor, &out, min(max(1, chunkSize), 1 << 30))
                if !out.isEmpty {
                    try sink(out)
                    out.removeAll(keepingCapacity: true)
                }
            }
        }
    }
}

/// Encoded bytes of a result, produced chunk by chunk as they are pulled — for an HTTP response
/// body that streams a large result without holding its text, and stops encoding when the client
/// goes away (iteration ends, or the task is cancelled).
///
/// Each `next()` encodes about `chunkSize` bytes (one row or value may overshoot it) from where
/// the previous one stopped; nothing is encoded ahead of the consumer.
public struct EncodedChunks: AsyncSequence, Sendable {
    public typealias Element = [UInt8]

    enum Source: Sendable {
        case archive(ArchivedResult)
        case result(QueryResult)
    }

    let source: Source
    let chunkSize: Int
    let loop: TextEncoding.Loop
    /// Whether the loop only moves forward through the batches (JSON rows, CSV): each pull then
    /// describes only the batches from the cursor's on, not all of them again.
    let forwardOnly: Bool

    /// Pulls chunks; throws ``ArchiveError`` for a malformed archive, `CancellationError` when
    /// the consuming task is cancelled.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let chunks: EncodedChunks
        var cursor = TextEncoding.Cursor()

        public mutating func next() async throws -> [UInt8]? {
            try nextChunk()
        }

        /// The next chunk, or nil when the output is complete.
        public mutating func nextChunk() throws -> [UInt8]? {
            guard cursor.phase != .done else { return nil }
            try Task.checkCancellation()
            var out: [UInt8] = []
            let limit = Swift.min(Swift.max(1, chunks.chunkSize), 1 << 30)
            out.reserveCapacity(Swift.min(limit, 1 << 20) + 1024)
            let loop = chunks.loop
            var position = cursor
            switch chunks.source {
            case .archive(let archive):
                let first = chunks.forwardOnly ? Swift.min(position.batch, Swift.max(0, archive.batchCount - 1)) : 0
                position.batch -= first
                try archive.withRawBatches(from: first) { try loop($0, &position, &out, limit) }
                position.batch += first
            case .result(let result):
                TextEncoding.trusted { try result.withRawBatches { try loop($0, &position, &out, limit) } }
            }
            cursor = position
            return out.isEmpty && cursor.phase == .done ? nil : out
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(chunks: self) }
}

extension UInt {
    /// The value as an `Int`, `Int.max` when it does not fit.
    var clampedToInt: Int { self > UInt(Int.max) ? Int.max : Int(self) }
}

import EventStore
import Foundation
import GRDB
import Testing
import TestSupport

/// Payload validation: strict JSON, as fast as a scan, refusing what PostgreSQL's `jsonb` refuses.
@Suite struct JSONValidationTests {
    static let valid = [
        "0", "-0", "1.5e10", "-12.25E-3", "true", "false", "null", #""""#, #""a\"b\\c\/d\b\f\n\r\t""#,
        #""\u00e9\uD83D\uDE00""#, "[]", "{}", " [1, 2 , {\"a\" : [null]}] ", #"{"a":{"b":{"c":[1,[2,[3]]]}}}"#,
        "\"é😀\"", "[1e5,2E+5,3e-5]", "\n\t{\"k\":\"v\"}\r\n",
    ]
    static let invalid = [
        "", " ", "01", "1.", ".5", "-", "+1", "1e", "1e+", "tru", "nul", "True", "[1,]", "[,1]", "{\"a\":1,}",
        "{a:1}", "{\"a\" 1}", "{\"a\":}", "[1 2]", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\u12G4\"", "[", "{", "]", "}",
        "[1]]", "{}{}", "1 2", "\"tab\there\"", "'single'", "NaN", "Infinity", "[1,2", "{\"a\":[}",
    ]

    @Test func acceptsAndRefusesWhatJSONSerializationDoesOnACorpus() {
        for text in Self.valid {
            #expect(JSONValidator.problem(in: text) == nil, "\(text)")
            #expect((try? JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed)) != nil, "corpus: \(text)")
        }
        for text in Self.invalid {
            #expect(JSONValidator.problem(in: text) != nil, "\(text)")
        }
    }

    @Test func refusesNULAndUnpairedSurrogatesAsPostgreSQLDoes() {
        #expect(JSONValidator.problem(in: #"{"a":"x\u0000y"}"#)?.reason.contains("NUL") == true)
        #expect(JSONValidator.problem(in: "\"x\u{0}y\"") != nil)
        #expect(JSONValidator.problem(in: #""\uD83D""#) != nil)  // a high surrogate alone
        #expect(JSONValidator.problem(in: #""\uDE00""#) != nil)  // a low one alone
        #expect(JSONValidator.problem(in: #""\uD83Dx""#) != nil)
        #expect(JSONValidator.problem(in: #""\uD83D\u0041""#) != nil)
        #expect(JSONValidator.problem(in: #""\uD83D\uDE00""#) == nil)
    }

    @Test func deepNestingIsRefusedWithoutRecursion() {
        let deep = String(repeating: "[", count: 1_000_000) + String(repeating: "]", count: 1_000_000)
        #expect(JSONValidator.problem(in: deep)?.reason.contains("nesting") == true)
        let fine = String(repeating: "[", count: JSONValidator.maxDepth) + String(repeating: "]", count: JSONValidator.maxDepth)
        #expect(JSONValidator.problem(in: fine) == nil)
    }

    /// The reference is SQLite's own `json_valid` (RFC 8259; Foundation's parser is not: it
    /// accepts trailing commas and refuses numbers beyond a Double's range).
    @Test func agreesWithSQLitesJSONValidOnMutatedDocuments() throws {
        let sqlite = try DatabaseQueue()
        var random = SeededRandom(seed: 99)
        let alphabet = Array(#"{}[]":,.-+eE0123456789 tfnrulasx\"#.utf8)
        var disagreements: [String] = []
        for round in 0..<20_000 {
            let object: Any = ["n": round, "s": "v\(round)", "a": [1.5, true, NSNull(), ["k": "é"]], "neg": -round]
            var bytes = [UInt8](try JSONSerialization.data(withJSONObject: object))
            for _ in 0..<(1 + random.below(3)) {
                let at = random.below(bytes.count)
                switch random.below(3) {
                case 0: bytes[at] = alphabet[random.below(alphabet.count)]
                case 1: bytes.remove(at: at)
                default: bytes.insert(alphabet[random.below(alphabet.count)], at: at)
                }
            }
            guard let text = String(validating: bytes, as: UTF8.self) else { continue }
            let ours = JSONValidator.problem(in: text) == nil
            let theirs = try sqlite.read { try Bool.fetchOne($0, sql: "SELECT json_valid(?)", arguments: [text]) } ?? false
            if ours != theirs { disagreements.append(text) }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(5))")
    }

    @Test func appendsRefuseNULAndInvalidJSONWithAClearError() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let log = try store(dir)
        let error = await #expect(throws: EventStoreError.self) {
            _ = try await log.append([NewEvent(type: "E", payload: #"{"a":"\u0000"}"#)], to: AggregateID(type: "t", id: "1"), expectedVersion: .any)
        }
        #expect(error?.kind == .invalidJSON && error?.message.contains("NUL") == true)
        #expect(try await log.lastPosition() == 0)
    }

    @Test func aSubscriptionHoldsAtMostItsByteBoundButAlwaysOneEvent() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let log = try SQLiteEventStore(
            path: dir.appendingPathComponent("events.sqlite").path, configuration: .init(subscriptionBatchBytes: 10_000))
        let big = #"{"pad":""# + String(repeating: "x", count: 3_000) + #""}"#
        let huge = #"{"pad":""# + String(repeating: "y", count: 50_000) + #""}"#
        for _ in 1...9 { _ = try await log.append([NewEvent(type: "E", payload: big)], to: AggregateID(type: "t", id: "1"), expectedVersion: .any) }
        _ = try await log.append([NewEvent(type: "E", payload: huge)], to: AggregateID(type: "t", id: "1"), expectedVersion: .any)
        var iterator = log.subscribe(from: 1, batchSize: 1000).makeAsyncIterator()
        var sizes: [Int] = []
        var delivered = 0
        while delivered < 10, let batch = try await iterator.nextBatch(maxCount: 1000) {
            sizes.append(batch.count)
            delivered += batch.count
            #expect(batch.count == 1 || batch.reduce(0) { $0 + $1.payload.utf8.count + $1.metadata.utf8.count } <= 10_000)
        }
        // 3 × ~3 KB per batch, then the 50 KB event alone.
        #expect(sizes == [3, 3, 3, 1])
    }
}

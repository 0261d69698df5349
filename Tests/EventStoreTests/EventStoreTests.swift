import EventStore
import Foundation
import GRDB
import Synchronization
import Testing
import TestSupport

func store(_ dir: URL, batch: Int = 512, maxPayload: Int = 1 << 20) throws -> SQLiteEventStore {
    try SQLiteEventStore(
        path: dir.appendingPathComponent("events.sqlite").path,
        configuration: .init(maxPayloadBytes: maxPayload, subscriptionBatchSize: batch))
}

func event(_ type: String = "Happened", _ n: Int = 0) -> NewEvent {
    NewEvent(type: type, payload: #"{"n":\#(n)}"#)
}

/// A count several tasks update.
final class SharedCount: Sendable {
    private let count = Atomic<Int64>(0)
    func add(_ n: Int64) { count.add(n, ordering: .relaxed) }
    var value: Int64 { count.load(ordering: .relaxed) }
}

@Suite struct EventStoreTests {
    @Test func appendsAreNumberedAndReadBackInOrder() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let log = try store(dir)
        let order = AggregateID(type: "order", id: "1"), customer = AggregateID(type: "customer", id: "1")
        #expect(try await log.lastPosition() == 0)
        let first = try await log.append([event("Placed", 1), event("Paid", 2)], to: order, expectedVersion: .noStream)
        #expect(first.map(\.position) == [1, 2] && first.map(\.version) == [1, 2])
        _ = try await log.append([event("Registered")], to: customer, expectedVersion: .any)
        let third = try await log.append([event("Shipped", 3)], to: order, expectedVersion: .exact(2))
        #expect(third.map(\.position) == [4] && third.map(\.version) == [3])
        #expect(try await log.read(aggregate: order).map(\.type) == ["Placed", "Paid", "Shipped"])
        #expect(try await log.read(from: 2, limit: 2).map(\.position) == [2, 3])
        #expect(try await log.lastPosition() == 4)
        let all = try await log.read(from: 1, limit: 100)
        #expect(all.first?.payload == #"{"n":1}"# && all.first?.metadata == "{}" && all.first?.aggregate == order)
    }

    @Test func concurrentExactAppendsHaveOneWinnerPerVersion() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let log = try store(dir)
        let contested = AggregateID(type: "account", id: "x")
        let outcomes = try await withThrowingTaskGroup(of: (wins: Int, conflicts: Int).self) { group in
            for writer in 0..<8 {
                group.addTask {
                    var wins = 0, conflicts = 0
                    for attempt in 0..<25 {
                        let current = try await log.read(aggregate: contested).last?.version ?? 0
                        do {
                            _ = try await log.append([event("Deposited", writer * 100 + attempt)], to: contested,
                                                     expectedVersion: current == 0 ? .noStream : .exact(current))
                            wins += 1
                        } catch let error as EventStoreError {
                            guard case .versionConflict(_, let actual) = error.kind, actual > current else { throw error }
                            #expect(error.message.contains("expected version") && error.message.contains("actual \(actual)"))
                            conflicts += 1
                        }
                        // Unrelated appends interleave with the contested ones.
                        _ = try await log.append([event()], to: AggregateID(type: "noise", id: "\(writer)"), expectedVersion: .any)
                    }
                    return (wins, conflicts)
                }
            }
            var total = (wins: 0, conflicts: 0)
            for try await outcome in group { total = (total.wins + outcome.wins, total.conflicts + outcome.conflicts) }
            return total
        }
        let versions = try await log.read(aggregate: contested).map(\.version)
        #expect(versions == Array(1...Int64(outcomes.wins)))
        #expect(outcomes.wins + outcomes.conflicts == 200 && outcomes.conflicts > 0)
        let positions = try await log.read(from: 1, limit: 10_000).map(\.position)
        #expect(positions == Array(1...Int64(outcomes.wins + 200)))  // gap-free
    }

    @Test func badInputIsRefusedWithAClearErrorAndNothingWritten() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let log = try store(dir, maxPayload: 100)
        let a = AggregateID(type: "order", id: "1")
        _ = try await log.append([event()], to: a, expectedVersion: .noStream)
        let cases: [([NewEvent], ExpectedVersion, EventStoreError.Kind, String)] = [
            ([event(), NewEvent(type: "T", payload: "{not json")], .any, .invalidJSON, "payload is not valid JSON"),
            ([NewEvent(type: "T", payload: "{}", metadata: "[1,")], .any, .invalidJSON, "metadata is not valid JSON"),
            ([NewEvent(type: "T", payload: #"{"s":"\#(String(repeating: "x", count: 200))"}"#)], .any, .tooLarge, "exceeds the limit of 100"),
            ([event()], .exact(0), .invalidArgument, "versions start at 1"),
            ([event()], .exact(-3), .invalidArgument, "versions start at 1"),
            ([], .any, .invalidArgument, "at least one event"),
            ([NewEvent(type: "", payload: "{}")], .any, .invalidArgument, "has no type"),
            ([event()], .noStream, .versionConflict(expected: .noStream, actual: 1), "expected version none (no stream), actual 1"),
            ([event()], .exact(5), .versionConflict(expected: .exact(5), actual: 1), "expected version 5, actual 1"),
        ]
        for (events, expected, kind, message) in cases {
            let error = await #expect(throws: EventStoreError.self) { try await log.append(events, to: a, expectedVersion: expected) }
            #expect(error?.kind == kind, "\(message)")
            #expect(error?.message.contains(message) == true, "\(error?.message ?? "") should say \(message)")
        }
        #expect(try await log.lastPosition() == 1)
        #expect(try await log.read(aggregate: a).count == 1)
    }

    @Test func aWriteLockHeldPastTheTimeoutIsABusyErrorAndWritesNothing() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let path = dir.appendingPathComponent("events.sqlite").path
        let log = try SQLiteEventStore(path: path, configuration: .init(busyTimeout: .milliseconds(200)))
        // Another connection (as another process would) takes the write lock and keeps it.
        var holding = Configuration()
        holding.allowsUnsafeTransactions = true  // the point: a transaction left open across accesses
        let other = try DatabaseQueue(path: path, configuration: holding)
        try await other.writeWithoutTransaction { db in try db.execute(sql: "BEGIN IMMEDIATE") }
        let error = await #expect(throws: EventStoreError.self) {
            try await log.append([event()], to: AggregateID(type: "a", id: "1"), expectedVersion: .any)
        }
        #expect(error?.kind == .busy)
        try await other.writeWithoutTransaction { db in try db.execute(sql: "ROLLBACK") }
        #expect(try await log.lastPosition() == 0)
        _ = try await log.append([event()], to: AggregateID(type: "a", id: "1"), expectedVersion: .any)
        #expect(try await log.lastPosition() == 1)
    }

    @Test func subscriptionsStartedDuringAppendsSeeEveryLaterEventOnceInOrder() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let log = try store(dir, batch: 7)  // small batches: many catch-up reads, a slow reader re-reads the log
        let total: Int64 = 1500
        let appended = SharedCount()
        // A bound against a hang, not a speed check: 1 500 synced appends on a busy CI disk.
        try await withTimeLimit(.seconds(180), "the subscriptions") {
          try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<2 {
                group.addTask {
                    var random = SeededRandom(seed: UInt64(writer + 1))
                    var done: Int64 = 0
                    while done < total / 2 {
                        let size = min(Int64(1 + random.below(9)), total / 2 - done)
                        let events = (0..<size).map { event("E", Int($0)) }
                        _ = try await log.append(events, to: AggregateID(type: "w", id: "\(writer)"), expectedVersion: .any)
                        done += size
                        appended.add(size)
                        await Task.yield()
                    }
                }
            }
            var random = SeededRandom(seed: 99)
            for subscriber in 0..<6 {
                // Start at a random moment, from a random position at or before the end so far.
                let waitFor = Int64(random.below(Int(total)))
                let slow = subscriber % 2 == 1
                let startSeed = random.next()
                group.addTask {
                    while appended.value < waitFor {
                        try Task.checkCancellation()
                        await Task.yield()
                    }
                    let last = try await log.lastPosition()
                    let start = last == 0 ? 1 : 1 + Int64(startSeed % UInt64(last))
                    var expected = start
                    for try await event in log.subscribe(from: start) {
                        #expect(event.position == expected, "subscriber \(subscriber) from \(start)")
                        if event.position != expected { return }
                        expected += 1
                        if slow { for _ in 0..<3 { await Task.yield() } }
                        if expected > total { break }
                    }
                    #expect(expected == total + 1)
                }
            }
            try await group.waitForAll()
          }
        }
    }
}

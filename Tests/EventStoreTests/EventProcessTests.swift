import DuckDBClient
import EventProjection
import EventStore
import EventWorkload
import Foundation
import ServiceLifecycle
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The event store and projector with real processes: a child appending or projecting is
/// SIGKILLed at random moments; another process's appends reach this process's subscribers.
@Suite struct EventProcessTests {
    /// A running `event-store-child`.
    static func child(_ arguments: [String]) throws -> ChildProcess {
        try ChildProcess("event-store-child", arguments)
    }

    @Test func aKilledAppenderLeavesOnlyWholeAppends() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let path = dir.appendingPathComponent("events.sqlite").path
        var random = SeededRandom(seed: 12)
        var nextBatch = 0
        for cycle in 0..<10 {
            var child = try Self.child(["append", path, String(nextBatch), "5", "1000000"])
            _ = await child.lines(atLeast: random.below(40))
            let reported = await child.kill()
            #expect(child.wasKilled, "cycle \(cycle): the child ended by itself: \(child.errorOutput)")
            let log = try SQLiteEventStore(path: path)
            let events = try await log.read(from: 1, limit: 1_000_000)
            // Gap-free, and every append whole: its 5 events or none.
            #expect(events.map(\.position) == Array(stride(from: 1, through: Int64(events.count), by: 1)), "cycle \(cycle)")
            var perBatch: [String: Int] = [:]
            for event in events { perBatch[event.metadata, default: 0] += 1 }
            #expect(perBatch.values.allSatisfy { $0 == 5 }, "cycle \(cycle): a partial append is visible")
            // Everything reported as committed is there; at most the one in flight beyond it.
            let batches = events.count / 5
            let reportedEnd = (reported.last.map { Int($0) + 1 }) ?? nextBatch
            #expect(batches == reportedEnd || batches == reportedEnd + 1, "cycle \(cycle): \(batches) batches, \(reportedEnd) reported")
            nextBatch = batches
        }
        // Not vacuous: the kills landed among committed appends, not all before the first.
        #expect(nextBatch >= 10, "only \(nextBatch) appends committed over 10 cycles")
    }

    @Test func anotherProcessesAppendsReachASubscriberHere() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let path = dir.appendingPathComponent("events.sqlite").path
        let log = try SQLiteEventStore(path: path)
        _ = try await log.append([event()], to: AggregateID(type: "here", id: "1"), expectedVersion: .any)
        let watcher = EventStoreWatcher(store: log, interval: .milliseconds(20))
        try await withTimeLimit(.seconds(30), "delivery of another process's events") {
          try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await watcher.run() }
            // The subscriber catches up (empty log beyond position 1) while the other process starts.
            var iterator = log.subscribe(from: 2).makeAsyncIterator()
            var child = try Self.child(["append", path, "0", "3", "20"])
            var received: [RecordedEvent] = []
            var delays: [Int64] = []
            while received.count < 60, let event = try await iterator.next() {
                received.append(event)
                delays.append(Int64(Date().timeIntervalSince1970 * 1_000_000) - event.recordedAt)
            }
            _ = await child.lines(atLeast: 20)
            child.process.waitUntilExit()
            #expect(received.map(\.position) == Array(2...61))
            #expect(Set(received.map(\.metadata)).count == 20)
            let worst = delays.max() ?? 0
            print("cross-process delivery: worst \(worst / 1000) ms over \(delays.count) events")
            // Latency is measured in `bench events` (goal 100 ms); here only delivery within the
            // time limit counts: a loaded CI machine (parallel tests, other processes) saw 2.4 s.
            #expect(worst < 20_000_000)
            group.cancelAll()
          }
        }
    }

    @Test func aWatcherStartedAfterAnotherProcessesCommitsStillWakesWaitingSubscribers() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let path = dir.appendingPathComponent("events.sqlite").path
        let log = try SQLiteEventStore(path: path)
        // The subscriber reads the log and waits; then the other process commits everything; only
        // then does the watcher take its first look (regression: it used to take that look as its
        // baseline and never wake the subscriber).
        _ = try await log.append([event()], to: AggregateID(type: "here", id: "1"), expectedVersion: .any)
        let first = SharedCount()
        let received = try await withTimeLimit(.seconds(30), "delivery after the watcher's start") {
          try await withThrowingTaskGroup(of: [Int64].self) { group in
            group.addTask {
                var positions: [Int64] = []
                for try await event in log.subscribe(from: 1) {
                    positions.append(event.position)
                    first.add(1)
                    if positions.count == 31 { break }
                }
                return positions
            }
            // Position 1 delivered: the subscriber is back to reading the log, then waiting.
            while first.value == 0 {
                try Task.checkCancellation()  // the time limit ends this wait too
                await Task.yield()
            }
            var child = try Self.child(["append", path, "0", "3", "10"])
            _ = await child.lines(atLeast: 10)
            child.process.waitUntilExit()
            group.addTask {
                try await EventStoreWatcher(store: log, interval: .milliseconds(20)).run()
                return []
            }
            var result: [Int64] = []
            for try await positions in group where !positions.isEmpty {
                result = positions
                group.cancelAll()
            }
            return result
          }
        }
        #expect(received == Array(1...31))
    }

    @Test func aProjectorKilledAtRandomPointsEndsWithTheFullProjection() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let storePath = dir.appendingPathComponent("events.sqlite").path
        let duckPath = dir.appendingPathComponent("projection.duckdb").path
        let log = try SQLiteEventStore(path: storePath)
        let orders = EventWorkload.orders(count: 3000)
        for (aggregate, event) in orders { _ = try await log.append([event], to: aggregate, expectedVersion: .any) }
        let last = try await log.lastPosition()

        var random = SeededRandom(seed: 5)
        var cycles = 0
        var done = false
        while !done {
            cycles += 1
            var child = try Self.child(["project", storePath, duckPath])
            let seen = await child.lines(atLeast: cycles > 30 ? 1_000_000 : random.below(20), until: last)
            done = seen.last == last
            _ = await child.kill()
            #expect(cycles < 200)
            if cycles >= 200 { break }
        }

        // The projection of the whole log, computed here, against what the killed runs left.
        let connection = try Database(path: duckPath).connect()
        #expect(try connection.query("SELECT position FROM projector_checkpoints WHERE projector = 'orders'").row(0) == [.int(last)])
        let facts = try connection.query("SELECT position, order_id, customer, amount FROM order_facts ORDER BY position")
        let placed = try await log.read(from: 1, limit: 10_000).filter { $0.type == "OrderPlaced" }
        #expect(facts.rowCount == placed.count, "no fact lost or duplicated")
        for (row, event) in zip(0..<facts.rowCount, placed) {
            let (customer, amount) = EventWorkload.placed(event.payload)
            #expect(facts.row(row) == [.int(event.position), .string(event.aggregate.id), .string(customer), .int(amount)])
        }
        var totals: [String: (Int64, Int64)] = [:]
        for event in placed {
            let (customer, amount) = EventWorkload.placed(event.payload)
            totals[customer, default: (0, 0)].0 += 1
            totals[customer, default: (0, 0)].1 += amount
        }
        let stored = try connection.query("SELECT customer, orders, amount FROM customer_totals WHERE customer <> 'cancelled' ORDER BY customer")
        #expect(stored.rowCount == totals.count)
        for row in 0..<stored.rowCount {
            guard case .string(let customer) = stored.row(row)[0], let expected = totals[customer] else { Issue.record("row \(row)"); continue }
            #expect(Array(stored.row(row)[1...]) == [.int(expected.0), .int(expected.1)], "customer \(customer)")
        }
        #expect(try connection.query("SELECT cancellations FROM customer_totals WHERE customer = 'cancelled'").row(0) == [.int(1000)])
        print("projector crash test: \(cycles) runs (all but the last killed) for \(last) events")
    }
}

import DuckDBClient
import EventProjection
import EventStore
import Foundation
import Testing
import TestSupport

/// After each commit the projector tells every consumer what it applied, and `waitUntilApplied`
/// gives read-your-writes: once it returns, DuckDB reflects the append.
@Suite struct ProjectionNotificationTests {
    static let facts = Projection(
        name: "facts", eventTypes: ["Placed", "Paid"],
        setupSQL: "CREATE TABLE IF NOT EXISTS facts (position BIGINT, kind VARCHAR)",
        apply: .appender(table: "facts") { [.int($0.position), .string($0.type)] })

    @Test func everyConsumerSeesEveryBatchAfterItCommittedInOrder() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let log = try store(dir)
        let writer = try DuckDBWriter(database: try Database(path: nil))
        let projector = Projector(name: "p", log: log, writer: writer, projections: [Self.facts], batchSize: 3)
        let consumers = [projector.commits(), projector.commits()]
        try await withThrowingTaskGroup(of: [ProjectedBatch].self) { group in
            group.addTask { try await projector.run(); return [] }
            for consumer in consumers {
                group.addTask {
                    var seen: [ProjectedBatch] = []
                    for try await batch in consumer {
                        // Published after the commit: DuckDB already holds the batch.
                        let count = try await writer.write { try $0.query("SELECT count(*) FROM facts").row(0) }
                        #expect(count.first.flatMap { if case .int(let n) = $0 { n } else { nil } } ?? 0 >= batch.positions.upperBound)
                        seen.append(batch)
                        if batch.positions.upperBound == 10 { break }
                    }
                    return seen
                }
            }
            for n in 1...10 {
                _ = try await log.append([event(n % 2 == 0 ? "Paid" : "Placed", n)], to: AggregateID(type: "order", id: "\(n % 3)"), expectedVersion: .any)
            }
            var results: [[ProjectedBatch]] = []
            for _ in consumers { if let seen = try await group.next() { results.append(seen) } }
            group.cancelAll()
            for seen in results {
                // Contiguous, in order, covering 1...10 once.
                #expect(seen.flatMap { Array($0.positions) } == Array(1...10))
                #expect(seen.allSatisfy { $0.positions.count <= 3 })
                #expect(seen.reduce(into: Set<String>()) { $0.formUnion($1.eventTypes) } == ["Placed", "Paid"])
                #expect(seen.reduce(into: Set<AggregateID>()) { $0.formUnion($1.aggregates) }.count == 3)
                #expect(seen.allSatisfy { $0.eventTimes.lowerBound > 0 })
            }
            #expect(results.count == 2)
        }
        await writer.shutdown()
    }

    @Test func waitUntilAppliedReturnsOnlyOnceDuckDBReflectsTheAppend() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let log = try store(dir)
        let writer = try DuckDBWriter(database: try Database(path: nil))
        let projector = Projector(name: "p", log: log, writer: writer, projections: [Self.facts])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await projector.run() }
            for n in 1...20 {
                let recorded = try await log.append([event("Placed", n)], to: AggregateID(type: "order", id: "\(n)"), expectedVersion: .any)
                let position = try #require(recorded.last?.position)
                try await projector.waitUntilApplied(position, timeout: .seconds(30))
                let rows = try await writer.write { try $0.query("SELECT max(position) FROM facts").row(0) }
                #expect(rows == [.int(position)], "read-your-writes at \(position)")
            }
            // A position nobody appended: bounded by the timeout.
            await #expect(throws: ProjectorTimeout.self) { try await projector.waitUntilApplied(1000, timeout: .milliseconds(50)) }
            // And cancellable: the wait ends with the task, long before its timeout.
            let waiting = Task { try await projector.waitUntilApplied(1000, timeout: .seconds(3600)) }
            waiting.cancel()
            await #expect(throws: CancellationError.self) { try await waiting.value }
            group.cancelAll()
        }
        // Stopped: a wait for what it will not apply fails at once instead of waiting its timeout.
        await #expect(throws: ProjectorStopped.self) { try await projector.waitUntilApplied(1000, timeout: .seconds(3600)) }
        await writer.shutdown()
    }

    @Test func aConsumerThatFallsBehindItsBufferGetsWhatWasBufferedThenWhatItMissed() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let log = try store(dir)
        for n in 1...5 { _ = try await log.append([event("Placed", n)], to: AggregateID(type: "order", id: "1"), expectedVersion: .any) }
        let writer = try DuckDBWriter(database: try Database(path: nil))
        let projector = Projector(name: "p", log: log, writer: writer, projections: [Self.facts], batchSize: 1)
        let slow = projector.commits(bufferLimit: 2)
        #expect(try await projector.catchUp() == 5)
        var received: [ClosedRange<Int64>] = []
        let missed = await #expect(throws: ProjectedBatchesMissed.self) {
            for try await batch in slow { received.append(batch.positions) }
        }
        #expect(received == [1...1, 2...2])
        #expect(missed?.after == 2)
        await writer.shutdown()
    }

    @Test func aStoppedProjectorFailsItsWaitersAndEndsItsConsumersWithItsError() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let log = try store(dir)
        _ = try await log.append([event("Placed", 1)], to: AggregateID(type: "order", id: "1"), expectedVersion: .any)
        let broken = Projection(
            name: "broken", eventTypes: ["Placed"], setupSQL: "",
            apply: .statement(sql: "INSERT INTO missing_table VALUES (?)") { [.int($0.position)] })
        let writer = try DuckDBWriter(database: try Database(path: nil))
        let projector = Projector(
            name: "p", log: log, writer: writer, projections: [broken],
            failurePolicy: ProjectionFailurePolicy(onBadEvent: .stop, retries: 0, initialBackoff: .zero))
        let consumer = projector.commits()
        let waiter = Task { try await projector.waitUntilApplied(1, timeout: .seconds(3600)) }
        await #expect(throws: ProjectionFailure.self) { try await projector.run() }
        await #expect(throws: ProjectionFailure.self) { try await waiter.value }
        await #expect(throws: ProjectionFailure.self) { for try await _ in consumer {} }
        await writer.shutdown()
    }
}

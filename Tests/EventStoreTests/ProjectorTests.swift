import DuckDBClient
import EventProjection
@testable import EventStore
import Foundation
import GRDB
import Testing
import TestSupport

@Suite struct ProjectorTests {
    struct Refused: Error {}

    @Test func aFailingBatchRollsBackAndEveryEventBeforeTheBadOneIsAppliedAlone() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let log = try store(dir)
        for n in 1...10 { _ = try await log.append([event("E", n)], to: AggregateID(type: "a", id: "1"), expectedVersion: .any) }
        let writer = try DuckDBWriter(database: try Database(path: dir.appendingPathComponent("p.duckdb").path))
        let attempts = SharedCount()
        let facts = Projection(
            name: "facts", eventTypes: ["E"], setupSQL: "CREATE TABLE IF NOT EXISTS facts (position BIGINT)",
            apply: .appender(table: "facts") { event in
                if event.position == 7 {
                    attempts.add(1)
                    throw Refused()
                }
                return [.int(event.position)]
            })
        let policy = ProjectionFailurePolicy(onBadEvent: .stop, retries: 2, initialBackoff: .zero)
        let projector = Projector(name: "p", log: log, writer: writer, projections: [facts], batchSize: 4, failurePolicy: policy)
        let failure = await #expect(throws: ProjectionFailure.self) { _ = try await projector.catchUp() }
        #expect(failure?.position == 7 && failure?.underlying is Refused)
        // Batches 1–4 committed; 5–8 failed 3 times at 7 and left nothing; then 5 and 6 alone,
        // and 7 alone 3 times.
        #expect(attempts.value == 6)
        #expect(try await projector.checkpoint() == 6)
        let rows = try await writer.write { try $0.query("SELECT count(*), max(position) FROM facts").row(0) }
        #expect(rows == [.int(6), .int(6)])
        // Every restart stops on it again (the `.stop` policy), and applies nothing twice.
        await #expect(throws: ProjectionFailure.self) { _ = try await projector.catchUp() }
        #expect(try await writer.write { try $0.query("SELECT count(*) FROM facts").row(0) } == [.int(6)])
        await writer.shutdown()
    }

    @Test func eventsOfOtherTypesPassByButAdvanceTheCheckpoint() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let log = try store(dir)
        for n in 1...6 { _ = try await log.append([event(n % 2 == 0 ? "Kept" : "Other", n)], to: AggregateID(type: "a", id: "1"), expectedVersion: .any) }
        let writer = try DuckDBWriter(database: try Database(path: nil))
        let kept = Projection(
            name: "kept", eventTypes: ["Kept"], setupSQL: "CREATE TABLE IF NOT EXISTS kept (position BIGINT, payload VARCHAR)",
            apply: .statement(sql: "INSERT INTO kept VALUES (?, ?)") { [.int($0.position), .string($0.payload)] })
        let projector = Projector(name: "k", log: log, writer: writer, projections: [kept], batchSize: 100)
        #expect(try await projector.catchUp() == 6)
        let rows = try await writer.write { try $0.query("SELECT position, payload FROM kept ORDER BY position") }
        #expect(rows.rowCount == 3 && rows.row(2) == [.int(6), .string(#"{"n":6}"#)])
        // Running again applies nothing twice.
        #expect(try await projector.catchUp() == 6)
        #expect(try await writer.write { try $0.query("SELECT count(*) FROM kept").row(0) } == [.int(3)])
        await writer.shutdown()
    }

    @Test func aCatchUpNextToARunningProjectorAppliesEverythingOnceAndStopsNeither() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let log = try store(dir)
        for n in 1...300 { _ = try await log.append([event("E", n)], to: AggregateID(type: "a", id: "1"), expectedVersion: .any) }
        let writer = try DuckDBWriter(database: try Database(path: nil))
        let facts = Projection(
            name: "facts", eventTypes: ["E"], setupSQL: "CREATE TABLE IF NOT EXISTS facts (position BIGINT)",
            apply: .appender(table: "facts") { [.int($0.position)] })
        let projector = Projector(name: "p", log: log, writer: writer, projections: [facts], batchSize: 1)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await projector.run() }
            // Before: one of the two died with "batch from N after checkpoint N" (inconsistentLog).
            for _ in 0..<3 { _ = try await projector.catchUp() }
            let last = try await log.append([event("E", 301)], to: AggregateID(type: "a", id: "1"), expectedVersion: .any)[0].position
            try await projector.waitUntilApplied(last, timeout: .seconds(30))
            group.cancelAll()
        }
        let rows = try await writer.write { try $0.query("SELECT count(*), count(DISTINCT position) FROM facts").row(0) }
        #expect(rows == [.int(301), .int(301)])
        await writer.shutdown()
    }

    @Test func aWriterThatShutDownIsNotBlamedOnAnEvent() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let log = try store(dir)
        _ = try await log.append([event("E", 1)], to: AggregateID(type: "a", id: "1"), expectedVersion: .any)
        let writer = try DuckDBWriter(database: try Database(path: nil))
        let facts = Projection(
            name: "facts", eventTypes: ["E"], setupSQL: "CREATE TABLE IF NOT EXISTS facts (position BIGINT)",
            apply: .appender(table: "facts") { [.int($0.position)] })
        let projector = Projector(
            name: "p", log: log, writer: writer, projections: [facts],
            failurePolicy: ProjectionFailurePolicy(onBadEvent: .skip, retries: 2, initialBackoff: .zero))
        try await projector.setUp()
        await writer.shutdown()
        // Before: retried, narrowed to event 1, and skipped as a bad event.
        await #expect(throws: DuckDBPoolError.shutDown) { _ = try await projector.catchUp() }
    }

    @Test func commitsTakenAfterTheProjectorStoppedEndAtOnce() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let log = try store(dir)
        let writer = try DuckDBWriter(database: try Database(path: nil))
        let projector = Projector(name: "p", log: log, writer: writer, projections: [])
        let running = Task { try await projector.run() }
        _ = try await log.append([event("E", 1)], to: AggregateID(type: "a", id: "1"), expectedVersion: .any)
        try await projector.waitUntilApplied(1, timeout: .seconds(30))
        running.cancel()
        try await running.value
        var ended = false
        for try await _ in projector.commits() {}
        ended = true
        #expect(ended)
        await writer.shutdown()
    }

    @Test func anotherEventAtTheCheckpointIsRefusedEvenWhenItsFieldsLookAlike() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let log = try store(dir)
        _ = try await log.append([event("E", 1)], to: AggregateID(type: "a/b", id: "c"), expectedVersion: .any)
        let writer = try DuckDBWriter(database: try Database(path: nil))
        let projector = Projector(name: "p", log: log, writer: writer, projections: [])
        #expect(try await projector.catchUp() == 1)
        // Same version, type and commit time; the id split differently and other data.
        try await log.pool.write { try $0.execute(sql: "UPDATE events SET aggregate_type = 'a', aggregate_id = 'b/c', payload = '{\"n\":999}'") }
        _ = try await log.append([event("E", 2)], to: AggregateID(type: "a", id: "2"), expectedVersion: .any)
        let error = await #expect(throws: EventStoreError.self) { _ = try await projector.catchUp() }
        #expect(error?.kind == .inconsistentLog)
        await writer.shutdown()
    }

    @Test func overlongTypesAndIdsAreRefusedAndCountInTheSubscriptionsByteBound() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let log = try SQLiteEventStore(
            path: dir.appendingPathComponent("events.sqlite").path, configuration: .init(subscriptionBatchBytes: 4_000))
        let long = String(repeating: "x", count: AppendValidation.maxIdentifierBytes + 1)
        await #expect(throws: EventStoreError.self) { _ = try await log.append([event(long)], to: AggregateID(type: "a", id: "1"), expectedVersion: .any) }
        await #expect(throws: EventStoreError.self) { _ = try await log.append([event()], to: AggregateID(type: long, id: "1"), expectedVersion: .any) }
        await #expect(throws: EventStoreError.self) { _ = try await log.append([event()], to: AggregateID(type: "a", id: long), expectedVersion: .any) }
        let wide = String(repeating: "y", count: 1_000)
        for _ in 0..<6 { _ = try await log.append([event(wide)], to: AggregateID(type: wide, id: wide), expectedVersion: .any) }
        var iterator = log.subscribe(from: 1, batchSize: 100).makeAsyncIterator()
        let first = try #require(try await iterator.nextBatch(maxCount: 100))
        // About 3 000 bytes of text per event: one per batch under a 4 000-byte bound.
        #expect(first.count == 1)
    }
}

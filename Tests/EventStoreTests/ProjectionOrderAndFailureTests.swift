import DuckDBClient
import EventProjection
import EventStore
import Foundation
import MetricsTestKit
import Testing
import TestSupport

/// Events apply in log order across projections, whatever the batch boundaries; a failing event
/// is retried, narrowed down, and then stops the projector or is recorded and skipped.
@Suite struct ProjectionOrderAndFailureTests {
    struct Refused: Error {}

    /// Two projections of one table: an appender adds a row per `Add`, a statement deletes the
    /// key's rows per `Clear`.
    static let projections = [
        Projection(
            name: "adds", eventTypes: ["Add"], setupSQL: "CREATE TABLE IF NOT EXISTS counter (k VARCHAR, position BIGINT)",
            apply: .appender(table: "counter") { [.string($0.aggregate.id), .int($0.position)] }),
        Projection(
            name: "clears", eventTypes: ["Clear"], setupSQL: "",
            apply: .statement(sql: "DELETE FROM counter WHERE k = ?") { [.string($0.aggregate.id)] }),
    ]

    @Test func twoProjectionsOfOneTableSeeTheEventsInLogOrderWhateverTheBatchSize() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let log = try store(dir)
        for (type, key) in [("Add", "a"), ("Clear", "a"), ("Add", "a"), ("Add", "b"), ("Clear", "b"), ("Clear", "a"), ("Add", "a"), ("Add", "b")] {
            _ = try await log.append([event(type)], to: AggregateID(type: "k", id: key), expectedVersion: .any)
        }
        for batchSize in [1, 2, 3, 100] {
            let writer = try DuckDBWriter(database: try Database(path: nil))
            _ = try await Projector(name: "p", log: log, writer: writer, projections: Self.projections, batchSize: batchSize).catchUp()
            let rows = try await writer.write { try $0.query("SELECT k, position FROM counter ORDER BY k") }
            // Before: with batches of 3 or more, every Add of a batch landed after its Clears.
            #expect((0..<rows.rowCount).map { rows.row($0) } == [[.string("a"), .int(7)], [.string("b"), .int(8)]], "batch size \(batchSize)")
            await writer.shutdown()
        }
    }

    @Test func aTransientFailureIsRetriedAndLeavesNoRecord() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let log = try store(dir)
        for n in 1...5 { _ = try await log.append([event("E", n)], to: AggregateID(type: "a", id: "1"), expectedVersion: .any) }
        let failures = SharedCount()
        let facts = Projection(
            name: "facts", eventTypes: ["E"], setupSQL: "CREATE TABLE IF NOT EXISTS facts (position BIGINT)",
            apply: .appender(table: "facts") { event in
                if event.position == 3, failures.value < 2 {
                    failures.add(1)
                    throw Refused()
                }
                return [.int(event.position)]
            })
        let metrics = TestMetrics()
        let writer = try DuckDBWriter(database: try Database(path: nil))
        let projector = Projector(
            name: "p", log: log, writer: writer, projections: [facts],
            failurePolicy: ProjectionFailurePolicy(onBadEvent: .stop, retries: 3, initialBackoff: .zero), metricsFactory: metrics)
        #expect(try await projector.catchUp() == 5)
        #expect(try await writer.write { try $0.query("SELECT count(*) FROM facts").row(0) } == [.int(5)])
        #expect(try await writer.write { try $0.query("SELECT count(*) FROM projection_failures").row(0) } == [.int(0)])
        #expect(try metrics.expectCounter("projector_retries_total", [("projector", "p")]).totalValue == 2)
        await writer.shutdown()
    }

    @Test func anEventThatAlwaysFailsIsRecordedSkippedCountedAndTheRestApplied() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let log = try store(dir)
        let amounts: [Int?] = [10, 20, nil, 40, 50, 60]
        for (n, amount) in amounts.enumerated() {
            let payload = amount.map { #"{"amount":\#($0)}"# } ?? #"{"amount":null}"#
            _ = try await log.append([NewEvent(type: "Paid", payload: payload)], to: AggregateID(type: "order", id: "\(n)"), expectedVersion: .any)
        }
        // DuckDB itself refuses the third event: its amount is NULL in a NOT NULL column.
        let payments = Projection(
            name: "payments", eventTypes: ["Paid"], setupSQL: "CREATE TABLE IF NOT EXISTS payments (position BIGINT, amount BIGINT NOT NULL)",
            apply: .statement(sql: "INSERT INTO payments VALUES (?, CAST(json_extract(?, '$.amount') AS BIGINT))") {
                [.int($0.position), .string($0.payload)]
            })
        let metrics = TestMetrics()
        let writer = try DuckDBWriter(database: try Database(path: dir.appendingPathComponent("p.duckdb").path))
        let projector = Projector(
            name: "p", log: log, writer: writer, projections: [payments], batchSize: 100,
            failurePolicy: ProjectionFailurePolicy(onBadEvent: .skip, retries: 1, initialBackoff: .zero), metricsFactory: metrics)
        let commits = projector.commits()
        #expect(try await projector.catchUp() == 6)
        let stored = try await writer.write { try $0.query("SELECT position FROM payments ORDER BY position") }
        #expect((0..<stored.rowCount).map { stored.row($0) } == [1, 2, 4, 5, 6].map { [.int($0)] })
        let failure = try await writer.write {
            try $0.query("SELECT projector, position, event_type, aggregate_type, aggregate_id, error FROM projection_failures").row(0)
        }
        #expect(failure.prefix(5) == [.string("p"), .int(3), .string("Paid"), .string("order"), .string("2")])
        if case .string(let message) = failure[5] { #expect(message.contains("NOT NULL"), "\(message)") } else { Issue.record("no error text") }
        #expect(try metrics.expectCounter("projector_skipped_events_total", [("projector", "p")]).totalValue == 1)
        // The batches published: 1–2 applied, 3 skipped, then 4, 5, 6 one by one.
        var published: [ProjectedBatch] = []
        for try await batch in commits {
            published.append(batch)
            if batch.positions.upperBound == 6 { break }
        }
        #expect(published.map(\.positions) == [1...1, 2...2, 3...3, 4...4, 5...5, 6...6])
        #expect(published.map(\.skipped) == [[], [], [3], [], [], []])
        // Restarting applies nothing twice and does not trip on the skipped event again.
        #expect(try await projector.catchUp() == 6)
        #expect(try await writer.write { try $0.query("SELECT count(*) FROM payments").row(0) } == [.int(5)])
        await writer.shutdown()
    }
}

import DuckDBClient
import EventProjection
import EventStore
import Foundation
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
}

import DuckDBClient
import EventProjection
import Foundation
import GRDB
import Testing
import TestSupport
@testable import EventStore

/// A projection belongs to one log: a durable log (every commit synced), an identity its checkpoint
/// records, and a refusal — not a silent skip — when the log is another or lost appends.
@Suite struct LogIdentityTests {
    @Test func theLogSyncsEveryCommitUnlessConfiguredOtherwise() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let full = try SQLiteEventStore(path: dir.appendingPathComponent("full.sqlite").path)
        // SQLite: 2 is FULL, 1 is NORMAL (GRDB's default, which an OS crash can undo).
        #expect(try await full.pool.writeWithoutTransaction { try Int.fetchOne($0, sql: "PRAGMA synchronous") } == 2)
        let normal = try SQLiteEventStore(
            path: dir.appendingPathComponent("normal.sqlite").path, configuration: .init(synchronous: .normal))
        #expect(try await normal.pool.writeWithoutTransaction { try Int.fetchOne($0, sql: "PRAGMA synchronous") } == 1)
    }

    @Test func aLogKeepsItsIdentityAcrossOpensAndAnotherLogHasAnother() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let path = dir.appendingPathComponent("a.sqlite").path
        let first = try await SQLiteEventStore(path: path).identity()
        #expect(try await SQLiteEventStore(path: path).identity() == first)
        #expect(try await SQLiteEventStore(path: dir.appendingPathComponent("b.sqlite").path).identity() != first)
    }

    static func facts() -> Projection {
        Projection(
            name: "facts", eventTypes: ["E"], setupSQL: "CREATE TABLE IF NOT EXISTS facts (position BIGINT)",
            apply: .appender(table: "facts") { [.int($0.position)] })
    }

    @Test func aProjectionRefusesAnotherLogEvenWithTheSamePositions() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let a = try SQLiteEventStore(path: dir.appendingPathComponent("a.sqlite").path)
        let b = try SQLiteEventStore(path: dir.appendingPathComponent("b.sqlite").path)
        for n in 1...5 {
            _ = try await a.append([event("E", n)], to: AggregateID(type: "t", id: "1"), expectedVersion: .any)
            _ = try await b.append([event("E", n)], to: AggregateID(type: "t", id: "1"), expectedVersion: .any)
        }
        _ = try await b.append([event("E", 6)], to: AggregateID(type: "t", id: "1"), expectedVersion: .any)
        let writer = try DuckDBWriter(database: try Database(path: dir.appendingPathComponent("p.duckdb").path))
        #expect(try await Projector(name: "p", log: a, writer: writer, projections: [Self.facts()]).catchUp() == 5)
        // Before: b's sixth event was applied as if it continued a's five.
        let error = await #expect(throws: EventStoreError.self) {
            _ = try await Projector(name: "p", log: b, writer: writer, projections: [Self.facts()]).catchUp()
        }
        #expect(error?.kind == .inconsistentLog && error?.message.contains("not of this log") == true, "\(String(describing: error))")
        #expect(try await writer.write { try $0.query("SELECT count(*) FROM facts").row(0) } == [.int(5)])
        await writer.shutdown()
    }

    @Test func aLogThatLostAcknowledgedAppendsAndReusedTheirPositionsIsRefused() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let log = try SQLiteEventStore(path: dir.appendingPathComponent("log.sqlite").path)
        for n in 1...5 { _ = try await log.append([event("E", n)], to: AggregateID(type: "t", id: "1"), expectedVersion: .any) }
        // What an OS crash leaves of a log synced at checkpoints only: the state of an earlier sync.
        let restoredPath = dir.appendingPathComponent("restored.sqlite").path
        try await log.pool.writeWithoutTransaction { try $0.execute(sql: "VACUUM INTO ?", arguments: [restoredPath]) }
        for n in 6...8 { _ = try await log.append([event("E", n)], to: AggregateID(type: "t", id: "1"), expectedVersion: .any) }
        let writer = try DuckDBWriter(database: try Database(path: dir.appendingPathComponent("p.duckdb").path))
        #expect(try await Projector(name: "p", log: log, writer: writer, projections: [Self.facts()]).catchUp() == 8)

        // After the crash: the same log (same identity), ending at 5; new appends take 6–8 again.
        let restored = try SQLiteEventStore(path: restoredPath)
        #expect(try await restored.identity() == log.identity())
        for n in 6...8 { _ = try await restored.append([event("E", 100 + n)], to: AggregateID(type: "t", id: "2"), expectedVersion: .any) }
        // Before: checkpoint 8, log end 8 — nothing to do, the three new events silently never projected.
        let error = await #expect(throws: EventStoreError.self) {
            _ = try await Projector(name: "p", log: restored, writer: writer, projections: [Self.facts()]).catchUp()
        }
        #expect(error?.kind == .inconsistentLog && error?.message.contains("reused their positions") == true, "\(String(describing: error))")
        // And a log that ends before the checkpoint is refused with its own message.
        let shorterPath = dir.appendingPathComponent("shorter.sqlite").path
        let identity = try await log.identity()
        try await SQLiteEventStore(path: shorterPath).pool.write { try $0.execute(sql: "UPDATE log_identity SET id = ?", arguments: [identity]) }
        let shorter = try SQLiteEventStore(path: shorterPath)
        _ = try await shorter.append([event("E", 1)], to: AggregateID(type: "t", id: "1"), expectedVersion: .any)
        let short = await #expect(throws: EventStoreError.self) {
            _ = try await Projector(name: "p", log: shorter, writer: writer, projections: [Self.facts()]).catchUp()
        }
        #expect(short?.message.contains("the log ends at 1") == true, "\(String(describing: short))")
        await writer.shutdown()
    }
}

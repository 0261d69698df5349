import DuckDBClient
import EventLogCore
import Logging
import Metrics

extension Projector {
    /// How far a rebuild has come.
    public struct RebuildProgress: Sendable, Equatable {
        /// The last position replayed into the new tables.
        public var position: Int64
        /// The position it replays to (the live checkpoint when the replay began).
        public var target: Int64
    }

    /// The schema new tables are built in, beside the live ones in `main`.
    static let rebuildSchema = "projector_rebuild"

    /// Rebuilds the projected tables from the whole log with `projections`, while this projector
    /// keeps applying new events to the live tables (and queries keep reading them):
    ///
    /// 1. the new projections' tables are created empty in the schema `projector_rebuild`;
    /// 2. every event up to the live checkpoint is replayed into them, batch by batch, each batch
    ///    its own transaction through the writer (the live batches interleave);
    /// 3. on the writer's queue — between two live batches — each table of `tables` in `main` is
    ///    replaced by its rebuilt copy, and the events the live projector applied meanwhile are
    ///    applied to it, in one transaction; from the next batch on, the projector applies
    ///    `projections`.
    ///
    /// Readers see the old tables until that commit and the rebuilt ones after it, never a mix.
    /// When a step fails the live tables and projections stay as they were (the schema is dropped
    /// by the next rebuild).
    /// - Parameters:
    ///   - projections: the new projections
    ///   - tables: the tables of `main` to replace (the tables the new projections create);
    ///     tables not named stay as they are
    ///   - progress: called after each replayed batch
    /// - Returns: the checkpoint at the swap
    /// - Throws: DuckDB's error (a statement of the new projections failing on an event among them)
    @discardableResult
    public func rebuild(
        to projections: [Projection], tables: Set<String>, progress: @Sendable (RebuildProgress) -> Void = { _ in }
    ) async throws -> Int64 {
        let name = self.name, schema = Self.rebuildSchema
        let positionGauge = Gauge(label: "projector_rebuild_position", dimensions: [("projector", name)], factory: metricsFactory)
        let targeted = Gauge(label: "projector_rebuild_target", dimensions: [("projector", name)], factory: metricsFactory)
        let setup = projections.map(\.setupSQL).filter { !$0.isEmpty }
        try await writer.write { connection in
            _ = try connection.execute("DROP SCHEMA IF EXISTS \(schema) CASCADE; CREATE SCHEMA \(schema)")
            try Self.inRebuildSchema(connection) { for sql in setup { _ = try connection.execute(sql) } }
            for table in tables {
                let found = try connection.query(
                    "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?", [.string(schema), .string(table)])
                guard found.row(0)[0] == .int(1) else {
                    throw EventStoreError(.invalidArgument, "the new projections do not create table \(table)")
                }
            }
        }
        var position: Int64 = 0
        let target = try await checkpoint()
        targeted.record(target)
        logger.info("rebuilding projections: replaying the log", metadata: ["projector": "\(name)", "through": "\(target)"])
        while position < target {
            try Task.checkCancellation()
            let events = try await log.read(from: position + 1, limit: batchSize).filter { $0.position <= target }
            guard let last = events.last else { break }
            try await writer.write { connection in
                try connection.transaction { try Self.inRebuildSchema(connection) { try Self.apply(events, projections, connection) } }
            }
            position = last.position
            positionGauge.record(position)
            progress(RebuildProgress(position: position, target: target))
        }
        // Catch up with the live projector and swap, between two of its batches.
        while true {
            try Task.checkCancellation()
            // Everything committed so far (not one batch): the live projector can only get ahead by
            // what it commits between this read and the writer's turn below.
            let events = try await log.read(from: position + 1, limit: max(batchSize, 100_000))
            let replayed = position
            let outcome: (reached: Int64, swapped: Bool) = try await writer.write { connection in
                let result = try connection.transaction { () -> (Int64, Bool) in
                    let live = try Self.storedCheckpoint(name, connection).position
                    let due = events.filter { $0.position <= live }
                    let reached = due.last?.position ?? replayed
                    guard reached >= live else {
                        if !due.isEmpty { try Self.inRebuildSchema(connection) { try Self.apply(due, projections, connection) } }
                        return (reached, false)
                    }
                    // The copy is taken, then the last events are applied to it in `main`: a table
                    // this transaction modified cannot also be dropped by it (DuckDB refuses the commit).
                    // A table whose columns are unchanged keeps its catalog entry (its rows are
                    // replaced); the others are dropped and created anew.
                    let kept = try tables.filter { try Self.sameColumns(table: $0, connection) }
                    for table in tables.sorted() where !kept.contains(table) {
                        _ = try connection.execute("DROP TABLE IF EXISTS main.\"\(table)\"")
                    }
                    for sql in setup { _ = try connection.execute(sql) }
                    for table in tables.sorted() {
                        if kept.contains(table) { _ = try connection.execute("DELETE FROM main.\"\(table)\"") }
                        _ = try connection.execute("INSERT INTO main.\"\(table)\" SELECT * FROM \(schema).\"\(table)\"")
                    }
                    try Self.apply(due, projections, connection)
                    return (reached, true)
                }
                if result.1 {
                    self.projectionList.withLock { $0 = projections }
                    // Its own transaction; one left behind by a crash is dropped by the next rebuild.
                    _ = try? connection.execute("DROP SCHEMA IF EXISTS \(schema) CASCADE")
                }
                return result
            }
            position = outcome.reached
            positionGauge.record(position)
            if outcome.swapped {
                logger.info("rebuilt projections swapped in", metadata: ["projector": "\(name)", "checkpoint": "\(position)"])
                return position
            }
        }
    }

    /// Whether `main.table` exists with the same columns (names, types, order) as its rebuilt copy.
    static func sameColumns(table: String, _ connection: Connection) throws -> Bool {
        func columns(_ schema: String) throws -> [String] {
            let result = try connection.query(
                "SELECT column_name || ' ' || data_type || ' ' || is_nullable::VARCHAR FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? ORDER BY column_index",
                [.string(schema), .string(table)])
            return (0..<result.rowCount).map { "\(result.row($0)[0])" }
        }
        let live = try columns("main")
        let rebuilt = try columns(rebuildSchema)
        return !live.isEmpty && live == rebuilt
    }

    /// Runs `body` with unqualified names resolving to the rebuild schema first (new tables are
    /// created there), then `main`.
    static func inRebuildSchema<T>(_ connection: Connection, _ body: () throws -> T) throws -> T {
        _ = try connection.execute("SET search_path = '\(rebuildSchema),main'")
        defer { _ = try? connection.execute("RESET search_path") }
        return try body()
    }
}

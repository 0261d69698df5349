import Crypto
import DuckDBClient
import EventProjection
import Foundation

extension DeploymentConfig {
    /// A digest of everything that decides what the projections write: the projections (tables,
    /// statements) and the event schemas (which type each payload field is bound as). Stored in
    /// DuckDB beside the tables, so a start with an edited config knows to rebuild them.
    public var projectionDigest: String {
        var text = ""
        func add(_ part: String) { text += "\(part.utf8.count):\(part)" }
        for projection in projections {
            add(projection.name)
            for table in projection.tables { add(table.name); add(table.columns) }
            for handler in projection.handlers { add(handler.eventType); handler.statements.forEach { add($0.text) } }
        }
        func addFields(_ fields: [String: PayloadSchema.Field]) {
            for name in fields.keys.sorted() {
                guard let field = fields[name] else { continue }
                add(name); add(field.type.rawValue); add(field.required ? "1" : "0")
                add("{"); addFields(field.fields); add("}")
            }
        }
        for name in events.keys.sorted() {
            add(name)
            addFields(events[name]?.payload.fields ?? [:])
        }
        return SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}

/// Which projections built the tables of a DuckDB file: the digest of the config they came from,
/// in the table `deployment_projections`.
public enum ProjectionState {
    /// The digest stored for projector `name` (nil: none yet).
    public static func storedDigest(projector name: String, writer: DuckDBWriter) async throws -> String? {
        try await writer.write { connection in
            _ = try connection.execute("CREATE TABLE IF NOT EXISTS deployment_projections (projector VARCHAR PRIMARY KEY, digest VARCHAR NOT NULL)")
            let result = try connection.query("SELECT digest FROM deployment_projections WHERE projector = ?", [.string(name)])
            guard result.rowCount > 0, case .string(let digest) = result.row(0)[0] else { return nil }
            return digest
        }
    }

    /// Records that the tables of projector `name` are built by the config of `digest`.
    public static func store(_ digest: String, projector name: String, writer: DuckDBWriter) async throws {
        try await writer.write { connection in
            _ = try connection.execute("CREATE TABLE IF NOT EXISTS deployment_projections (projector VARCHAR PRIMARY KEY, digest VARCHAR NOT NULL)")
            _ = try connection.query("INSERT OR REPLACE INTO deployment_projections VALUES (?, ?)", [.string(name), .string(digest)])
        }
    }

    /// Before serving: when the tables were built by another config's projections (or by none
    /// recorded while events were already applied), rebuilds them from the log with this config's
    /// and records it.
    /// - Parameters:
    ///   - config: the config starting
    ///   - projector: its projector (set up, not running)
    ///   - writer: the database's writer
    ///   - progress: each rebuilt batch
    ///   - beforeRecording: run after a rebuild, before the digest is stored (empty L2 there: a
    ///     crash in between then rebuilds and empties again at the next start)
    /// - Returns: whether it rebuilt
    public static func ensureCurrent(
        _ config: DeploymentConfig, projector: Projector, writer: DuckDBWriter,
        progress: @escaping @Sendable (Projector.RebuildProgress) -> Void = { _ in },
        beforeRecording: () async throws -> Void = {}
    ) async throws -> Bool {
        let digest = config.projectionDigest
        let stored = try await storedDigest(projector: projector.name, writer: writer)
        if stored == digest { return false }
        if stored == nil, try await projector.checkpoint() == 0 {
            try await store(digest, projector: projector.name, writer: writer)
            return false
        }
        try await projector.rebuild(to: config.projectorProjections, tables: Set(config.projectedTables), progress: progress)
        try await beforeRecording()
        try await store(digest, projector: projector.name, writer: writer)
        return true
    }
}

import DuckDBClient
import ResultFormat

/// The version of a DuckLake catalog: its current snapshot id, which DuckLake advances with every
/// commit (`snapshot:<id>`). One tiny query on the pool that reads the catalog, so the version is
/// the one the same pool's queries see.
public struct DuckLakeSnapshotProbe: DataVersionProbe {
    /// The pool whose database has the catalog attached.
    public let pool: DuckDBPool
    /// The catalog's alias (``DuckDBClient/AttachedDatabase/alias``).
    public let catalog: String
    /// How long the query may take.
    public let timeout: Duration

    /// Creates a probe.
    /// - Parameters:
    ///   - pool: a pool on a database with the catalog attached
    ///   - catalog: the catalog's alias
    ///   - timeout: the query's timeout, default 5 s
    public init(pool: DuckDBPool, catalog: String, timeout: Duration = .seconds(5)) {
        self.pool = pool
        self.catalog = catalog
        self.timeout = timeout
    }

    /// Reads the catalog's current snapshot id.
    /// - Returns: `snapshot:<id>`
    /// - Throws: ``DataVersionError`` of kind `.query` (with DuckDB's message), or `CancellationError`
    public func currentVersion() async throws -> DataVersion {
        let quoted = "\"" + catalog.replacing("\"", with: "\"\"") + "\""
        let result: QueryResultValue
        do {
            result = try await pool.withConnection(timeout: timeout) { connection in
                // Prepared afresh each time: a cached prepared statement keeps the snapshot it was
                // bound at (DuckLake reads the id when the statement binds).
                guard case .rows(let r) = try connection.execute("SELECT id FROM \(quoted).current_snapshot()"),
                    r.rowCount == 1
                else { return QueryResultValue(value: nil) }
                return QueryResultValue(value: r.row(0)[0])
            }
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw DataVersionError(.query, "current snapshot of DuckLake catalog \"\(catalog)\": \(error)")
        }
        switch result.value {
        case .int(let id)?: return DataVersion(token: "snapshot:\(id)")
        case .uint(let id)?: return DataVersion(token: "snapshot:\(id)")
        default: throw DataVersionError(.query, "DuckLake catalog \"\(catalog)\" reported no snapshot id")
        }
    }
}

/// A `Sendable` box for one value leaving a pool thread.
private struct QueryResultValue: Sendable {
    let value: Value?
}

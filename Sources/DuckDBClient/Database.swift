import CDuckDB

/// An open DuckDB database: a file, or memory private to this object.
///
/// Connections made from one `Database` share its buffer manager and its worker threads (the
/// `threads` setting): a pool of N connections runs up to N queries at once, each driven by its
/// calling thread plus any idle DuckDB workers. The database closes when the last reference to it
/// (including every ``Connection``'s) is gone.
///
/// DuckDB locks a file opened read-write against other processes; several processes may open the
/// same file read-only at once.
public final class Database: @unchecked Sendable {
    // @unchecked Sendable: the handle is immutable after init, and DuckDB documents a database
    // handle as safe to use from several threads to create connections.
    let handle: duckdb_database

    /// How to open a database.
    public struct Configuration: Sendable {
        /// How the file is opened.
        public enum AccessMode: String, Sendable {
            /// Read-write, creating the file if missing.
            case readWrite = "READ_WRITE"
            /// Read-only; the file must exist. Other processes may read it at the same time.
            case readOnly = "READ_ONLY"
        }

        /// DuckDB worker threads shared by every connection (nil: DuckDB's default, the core count).
        public var threads: Int?
        /// DuckDB's memory limit, in its own syntax (e.g. `"2GB"`); nil: DuckDB's default (80 % of RAM).
        public var memoryLimit: String?
        /// Read-write or read-only.
        public var accessMode: AccessMode
        /// Further DuckDB settings by name (see DuckDB's configuration reference).
        public var options: [String: String]

        /// Creates a configuration.
        /// - Parameters:
        ///   - threads: DuckDB worker threads, nil for DuckDB's default
        ///   - memoryLimit: e.g. `"2GB"`, nil for DuckDB's default
        ///   - accessMode: read-write (default) or read-only
        ///   - options: further settings by name
        public init(
            threads: Int? = nil, memoryLimit: String? = nil, accessMode: AccessMode = .readWrite,
            options: [String: String] = [:]
        ) {
            self.threads = threads
            self.memoryLimit = memoryLimit
            self.accessMode = accessMode
            self.options = options
        }
    }

    /// The file's path, or nil for an in-memory database.
    public let path: String?
    /// The configuration it was opened with.
    public let configuration: Configuration

    /// Opens (or creates) a database.
    /// - Parameters:
    ///   - path: a file path, or nil for a private in-memory database
    ///   - configuration: threads, memory limit, access mode
    /// - Throws: ``DuckDBError`` of kind `.open` with DuckDB's message
    public init(path: String? = nil, configuration: Configuration = .init()) throws {
        var config: duckdb_config?
        guard duckdb_create_config(&config) == DuckDBSuccess, let config else {
            throw DuckDBError(.open, "could not allocate a configuration")
        }
        var cfg: duckdb_config? = config
        defer { duckdb_destroy_config(&cfg) }
        var settings = configuration.options
        if let threads = configuration.threads { settings["threads"] = String(threads) }
        if let limit = configuration.memoryLimit { settings["memory_limit"] = limit }
        if path != nil { settings["access_mode"] = configuration.accessMode.rawValue }
        for (name, value) in settings.sorted(by: { $0.key < $1.key }) {
            guard duckdb_set_config(config, name, value) == DuckDBSuccess else {
                throw DuckDBError(.open, "invalid setting \(name)=\(value)")
            }
        }
        var db: duckdb_database?
        var error: UnsafeMutablePointer<CChar>?
        let state = duckdb_open_ext(path ?? ":memory:", &db, config, &error)
        if state != DuckDBSuccess {
            let message = error.map { String(cString: $0) } ?? "unknown error"
            if let error { duckdb_free(error) }
            if db != nil { duckdb_close(&db) }
            throw DuckDBError(.open, message)
        }
        guard let db else { throw DuckDBError(.open, "DuckDB returned no database") }
        self.handle = db
        self.path = path
        self.configuration = configuration
    }

    deinit {
        var db: duckdb_database? = handle
        duckdb_close(&db)
    }

    /// Opens a connection. A connection runs one statement at a time and must not be used from two
    /// threads at once; ``DuckDBPool`` manages several for concurrent callers.
    /// - Returns: a new connection that keeps this database open
    /// - Throws: ``DuckDBError`` of kind `.connect`
    public func connect() throws -> Connection {
        try Connection(database: self)
    }

    /// The linked library's version, e.g. `v2.0.1`.
    public static var libraryVersion: String { String(cString: duckdb_library_version()) }
}

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
    // @unchecked Sendable: the handle and `resultSettings` are only written in init, and DuckDB
    // documents a database handle as safe to use from several threads to create connections.
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
        /// DuckDB's extension directory (holding `vX.Y.Z/PLATFORM/NAME.duckdb_extension`, e.g. the
        /// project's `.venv/duckdb_extensions`); when set, DuckDB never downloads extensions.
        public var extensionDirectory: String?
        /// Extensions loaded at open, in order; a missing or incompatible one fails the open with
        /// a ``DuckDBError`` of kind `.extensionUnavailable` naming it and the version it needs.
        public var extensions: [DuckDBExtension]
        /// S3 credentials and endpoints (temporary secrets, created at open; needs `httpfs`).
        public var s3Secrets: [S3Secret]
        /// Extra HTTP headers per URL prefix (temporary secrets, created at open; needs `httpfs`).
        public var httpSecrets: [HTTPSecret]
        /// Databases and DuckLake catalogs attached at open.
        public var attachments: [AttachedDatabase]
        /// Which files and URLs queries may reach; applied last, after the set-up above.
        public var externalAccess: ExternalAccess
        /// `httpfs`'s timeout for connecting, reading and writing one request (whole seconds, at
        /// least 1); nil: DuckDB's default, 30 s.
        public var httpTimeout: Duration?
        /// How many times `httpfs` retries a failed request; nil: DuckDB's default, 3.
        public var httpRetries: Int?
        /// The session time zone of every connection (DuckDB's `TimeZone`), default `UTC`; nil: the
        /// host's (`TZ`), which makes `TIMESTAMPTZ` → `DATE` and `date_trunc` answers differ between
        /// hosts and restarts — a cache keyed on the SQL alone would then mix them.
        public var timeZone: String?

        /// Creates a configuration.
        /// - Parameters:
        ///   - threads: DuckDB worker threads, nil for DuckDB's default
        ///   - memoryLimit: e.g. `"2GB"`, nil for DuckDB's default
        ///   - accessMode: read-write (default) or read-only
        ///   - options: further settings by name
        ///   - extensionDirectory: where extension binaries live; nil: DuckDB's default
        ///   - extensions: extensions to load at open
        ///   - s3Secrets: S3 credentials and endpoints
        ///   - httpSecrets: extra HTTP headers per URL prefix
        ///   - attachments: databases and DuckLake catalogs to attach
        ///   - externalAccess: which files and URLs queries may reach
        ///   - httpTimeout: per-request timeout of `httpfs`
        ///   - httpRetries: retries of a failed `httpfs` request
        ///   - timeZone: every connection's time zone, default `UTC`; nil for the host's
        public init(
            threads: Int? = nil, memoryLimit: String? = nil, accessMode: AccessMode = .readWrite,
            options: [String: String] = [:], extensionDirectory: String? = nil, extensions: [DuckDBExtension] = [],
            s3Secrets: [S3Secret] = [], httpSecrets: [HTTPSecret] = [], attachments: [AttachedDatabase] = [],
            externalAccess: ExternalAccess = .unrestricted, httpTimeout: Duration? = nil, httpRetries: Int? = nil,
            timeZone: String? = "UTC"
        ) {
            self.timeZone = timeZone
            self.threads = threads
            self.memoryLimit = memoryLimit
            self.accessMode = accessMode
            self.options = options
            self.extensionDirectory = extensionDirectory
            self.extensions = extensions
            self.s3Secrets = s3Secrets
            self.httpSecrets = httpSecrets
            self.attachments = attachments
            self.externalAccess = externalAccess
            self.httpTimeout = httpTimeout
            self.httpRetries = httpRetries
        }
    }

    /// The file's path, or nil for an in-memory database.
    public let path: String?
    /// The configuration it was opened with.
    public let configuration: Configuration
    /// The settings that change what a query answers, read back from DuckDB at open (time zone,
    /// calendar, collation, default ordering, division and floating-point semantics, insertion
    /// order, name resolution and identifier case, blob and TIMESTAMPTZ handling, threads — which
    /// order floating-point sums) plus `duckdb_version`: fold them into a cache's data version, so
    /// results computed under other settings are never served for these. A snapshot taken at open:
    /// a later `SET GLOBAL` on the writer is not reflected (served pools refuse SET; pooled
    /// connections whose session a statement changed are replaced).
    public private(set) var resultSettings: [String: String] = [:]

    /// The names of the settings in ``resultSettings`` (besides `duckdb_version`).
    public static let resultSettingNames = [
        "TimeZone", "Calendar", "default_collation", "default_null_order", "default_order", "integer_division",
        "ieee_floating_point_ops", "scalar_subquery_error_on_multiple_rows", "order_by_non_integer_literal",
        "preserve_insertion_order", "search_path", "schema", "preserve_identifier_case", "binary_as_string",
        "file_search_path", "disable_timestamptz_casts", "threads",
    ]

    /// Opens (or creates) a database.
    ///
    /// After DuckDB opens it, the set-up runs on a connection of its own, in this order: extensions
    /// load, HTTP settings apply, secrets are created, attachments attach, and finally external
    /// access is restricted. A failure at any step closes the database and throws.
    /// - Parameters:
    ///   - path: a file path, or nil for a private in-memory database
    ///   - configuration: threads, memory limit, access mode, extensions, remote access
    /// - Throws: ``DuckDBError`` of kind `.open` with DuckDB's message, or `.extensionUnavailable`
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
        if let directory = configuration.extensionDirectory {
            settings["extension_directory"] = directory
            // Everything comes from the directory: never reach for the network to install one.
            settings["autoinstall_known_extensions"] = "false"
        }
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
        let setup = try Connection(database: self)
        if let zone = configuration.timeZone {
            // Global, so every connection made later starts in it. (Not a config option at open:
            // the time-zone setting belongs to ICU, which loads after the configuration is parsed.)
            do {
                _ = try setup.execute("SET GLOBAL TimeZone = \(SQLText.literal(zone))")
            } catch let error as DuckDBError {
                throw DuckDBError(.open, "setting the time zone \(zone) failed: \(error.message)")
            }
        }
        // DuckDB 1.4.4 plans group and sort keys by the column statistics seen when a statement is
        // prepared; a cached statement run again after an UPDATE lengthened a string cut it to the
        // old maximum ('pro' → 'team' read back as "tea\0": StatementBindingTests). Cached
        // statements are this package's fast path, so compressed materialization (which packs keys
        // by those statistics) goes.
        do {
            _ = try setup.execute("SET GLOBAL disabled_optimizers = '\(Self.disabledOptimizers)'")
        } catch let error as DuckDBError {
            throw DuckDBError(.open, "disabling optimizers failed: \(error.message)")
        }
        if configuration.needsSetup {
            try DatabaseSetup(configuration: configuration).apply(to: setup)
        }
        resultSettings = try Self.readResultSettings(on: setup)
    }

    /// The optimizers every database runs without (see the initializer).
    static let disabledOptimizers = "compressed_materialization"

    private static func readResultSettings(on connection: Connection) throws -> [String: String] {
        let names = resultSettingNames.map { "'\($0)'" }.joined(separator: ", ")
        let result = try connection.query("SELECT name, value FROM duckdb_settings() WHERE name IN (\(names))")
        var settings = ["duckdb_version": libraryVersion]
        for row in 0..<result.rowCount {
            if case .string(let name) = result.columns[0].value(at: row) {
                if case .string(let value) = result.columns[1].value(at: row) { settings[name] = value } else { settings[name] = "" }
            }
        }
        return settings
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

    /// The linked library's version, e.g. `v1.4.4`.
    public static var libraryVersion: String { String(cString: duckdb_library_version()) }
}

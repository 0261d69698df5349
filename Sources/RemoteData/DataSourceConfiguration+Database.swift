import DuckDBClient
import Foundation

/// A configuration problem, naming the key.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    /// What is wrong, and where.
    public let description: String
    init(_ description: String) { self.description = description }
}

extension DataSourceConfiguration {
    /// The ``DuckDBClient/Database/Configuration`` the `duckdb` section describes.
    /// - Parameter environment: where `bearer_token_env` variables are read
    /// - Returns: the configuration
    /// - Throws: ``ConfigurationError`` naming the entry at fault
    public func databaseConfiguration(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> Database.Configuration {
        var configuration = Database.Configuration(threads: duckdb.threads, memoryLimit: duckdb.memoryLimit)
        configuration.extensionDirectory = duckdb.extensionDirectory
        configuration.extensions = (duckdb.extensions ?? []).map { $0.hasSuffix(".duckdb_extension") ? .path($0) : .named($0) }
        configuration.httpTimeout = try duckdb.httpTimeoutSeconds.map { seconds in
            guard seconds > 0, seconds <= 86_400 else { throw ConfigurationError("duckdb.http_timeout_seconds must be in (0, 86400]") }
            return .milliseconds(Int64((seconds * 1000).rounded(.up)))
        }
        configuration.httpRetries = duckdb.httpRetries
        configuration.s3Secrets = try s3Secrets()
        configuration.httpSecrets = try (duckdb.httpSecrets ?? []).enumerated().map { index, entry in
            var token = entry.bearerToken
            if let variable = entry.bearerTokenEnv {
                guard let value = environment[variable], !value.isEmpty else {
                    throw ConfigurationError("duckdb.http_secrets[\(index)].bearer_token_env names \(variable), which is not set")
                }
                token = value
            }
            return HTTPSecret(name: entry.name ?? "http\(index)", scope: entry.scope ?? [], headers: entry.headers ?? [:], bearerToken: token)
        }
        configuration.attachments = try (duckdb.attachments ?? []).enumerated().map { index, entry in
            switch (entry.database, entry.ducklake) {
            case (let file?, nil):
                return AttachedDatabase(alias: entry.alias, location: file, kind: .duckdb, readOnly: entry.readOnly ?? false)
            case (nil, let catalog?):
                return AttachedDatabase(alias: entry.alias, location: catalog, kind: .duckLake(dataPath: entry.dataPath), readOnly: entry.readOnly ?? false)
            default:
                throw ConfigurationError("duckdb.attachments[\(index)] needs exactly one of database or ducklake")
            }
        }
        if let allowed = duckdb.externalAccess {
            // Local datasets are allowed implicitly, as narrowly as they are named: a file as that
            // one file, a glob as the directory before its first wildcard.
            let local = try datasets.flatMap { dataset in
                (dataset.locations ?? []).compactMap { Self.localPattern($0, format: dataset.resolvedFormat) }
            }.map { path -> String in
                let glob = GlobPattern(pattern: path)
                guard glob.hasWildcard else { return path }
                let prefix = glob.literalPrefix
                var directory = prefix.hasSuffix("/") ? String(prefix.dropLast()) : (prefix as NSString).deletingLastPathComponent
                if directory.isEmpty || directory == "/" {
                    throw ConfigurationError("dataset location \(path) would allow the whole file system under external_access: name a directory")
                }
                directory += "/"
                return directory
            }
            configuration.externalAccess = .only(allowed + local)
        }
        return configuration
    }

    private func s3Secrets() throws -> [S3Secret] {
        try (duckdb.s3Secrets ?? []).enumerated().map { index, entry in
            let credentials: S3Secret.Credentials
            switch entry.credentials {
            case nil, .named("environment")?: credentials = .environment
            case .named("anonymous")?: credentials = .anonymous
            case .named(let other)?:
                throw ConfigurationError("duckdb.s3_secrets[\(index)].credentials: \"\(other)\" is not environment, anonymous or an object of keys")
            case .keys(let id, let secret, let token)?:
                credentials = .keys(accessKeyID: id, secretAccessKey: secret, sessionToken: token)
            }
            let style: S3Secret.URLStyle
            switch entry.urlStyle ?? (entry.endpoint == nil ? "vhost" : "path") {
            case "path": style = .path
            case "vhost", "virtual_host": style = .virtualHost
            case let other: throw ConfigurationError("duckdb.s3_secrets[\(index)].url_style: \"\(other)\" is not path or vhost")
            }
            return S3Secret(
                name: entry.name ?? "s3\(index)", scope: entry.scope ?? [], region: entry.region ?? "us-east-1",
                endpoint: entry.endpoint, urlStyle: style, useSSL: entry.useSSL ?? true, credentials: credentials)
        }
    }

    /// The statements that expose each dataset as a view of its name.
    /// - Parameter temporary: `TEMP` views, private to the connection that runs them and never
    ///   written into a database file (the command line's choice); otherwise views in the default
    ///   catalog, visible to every connection
    /// - Returns: one `CREATE OR REPLACE [TEMP] VIEW` per dataset
    /// - Throws: ``ConfigurationError`` for a dataset with neither locations nor a DuckLake table
    public func datasetViewStatements(temporary: Bool = false) throws -> [String] {
        let create = temporary ? "CREATE OR REPLACE TEMP VIEW" : "CREATE OR REPLACE VIEW"
        return try datasets.enumerated().map { index, dataset in
            let name = "\"" + dataset.name.replacing("\"", with: "\"\"") + "\""
            if let table = dataset.ducklakeTable {
                let parts = table.split(separator: ".").map { "\"" + $0.replacing("\"", with: "\"\"") + "\"" }
                return "\(create) \(name) AS SELECT * FROM \(parts.joined(separator: "."))"
            }
            guard let locations = dataset.locations, !locations.isEmpty else {
                throw ConfigurationError("datasets[\(index)] (\(dataset.name)) needs locations or ducklake_table")
            }
            let format = dataset.resolvedFormat
            let reader: String
            switch format {
            case "parquet": reader = "read_parquet"
            case "csv": reader = "read_csv"
            default: throw ConfigurationError("datasets[\(index)].format: \"\(format)\" is not parquet or csv")
            }
            let list = "[" + locations.map { "'" + $0.replacing("'", with: "''") + "'" }.joined(separator: ", ") + "]"
            return "\(create) \(name) AS SELECT * FROM \(reader)(\(list))"
        }
    }

    /// The probe that versions `dataset`: HTTP validators, an S3 listing, a DuckLake snapshot, or
    /// local files' sizes and modification times.
    /// - Parameters:
    ///   - dataset: one of ``datasets``
    ///   - pool: the pool queries run on (for DuckLake snapshots)
    ///   - timeout: per-request timeout
    /// - Returns: the probe
    /// - Throws: ``ConfigurationError`` or ``DataVersionError`` for a dataset it cannot version
    public func probe(for dataset: Dataset, pool: DuckDBPool, timeout: Duration = .seconds(5)) throws -> any DataVersionProbe {
        if let table = dataset.ducklakeTable {
            guard let catalog = table.split(separator: ".").first.map(String.init) else {
                throw ConfigurationError("dataset \(dataset.name): ducklake_table is empty")
            }
            return DuckLakeSnapshotProbe(pool: pool, catalog: catalog, timeout: timeout)
        }
        let locations = dataset.locations ?? []
        guard let first = locations.first else { throw ConfigurationError("dataset \(dataset.name) has no locations") }
        for location in locations where location.contains("://") {
            let scheme = String(location.prefix { $0 != ":" })
            guard ["s3", "s3a", "s3n", "http", "https", "file"].contains(scheme.lowercased()) else {
                throw ConfigurationError("dataset \(dataset.name): no data-version probe for \(scheme):// locations yet")
            }
        }
        if ["s3://", "s3a://", "s3n://"].contains(where: { first.hasPrefix($0) }) {
            let secrets = try s3Secrets()
            let probes = try locations.map { location -> S3VersionProbe in
                guard let secret = secrets.secret(for: location) else {
                    throw ConfigurationError("dataset \(dataset.name): no s3_secrets entry covers \(location)")
                }
                return try S3VersionProbe(url: location, secret: secret, timeout: timeout)
            }
            return CombinedVersionProbe(probes: probes)
        }
        if first.hasPrefix("http://") || first.hasPrefix("https://") {
            let secrets = try databaseConfiguration().httpSecrets
            let urls = try locations.map { location -> URL in
                guard let url = URL(string: location) else { throw ConfigurationError("dataset \(dataset.name): \(location) is not a URL") }
                return url
            }
            return try HTTPVersionProbe(urls: urls, secrets: secrets, timeout: timeout)
        }
        return LocalFileVersionProbe(patterns: locations.compactMap { Self.localPattern($0, format: dataset.resolvedFormat) })
    }

    /// The local glob DuckDB reads for a location: `file://` stripped, and a directory read as
    /// every file of the format below it (`DIR/**/*.parquet`), as DuckDB's readers do. Nil for a
    /// remote location.
    static func localPattern(_ location: String, format: String) -> String? {
        var path = location
        if path.hasPrefix("file://") { path = String(path.dropFirst("file://".count)) } else if path.contains("://") { return nil }
        var info = stat()
        if !GlobPattern(pattern: path).hasWildcard, stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
            return (path.hasSuffix("/") ? path : path + "/") + "**/*." + format
        }
        return path
    }
}

extension DataSourceConfiguration.Dataset {
    /// `format`, or `csv`/`parquet` from the first location's suffix.
    var resolvedFormat: String {
        format ?? ((locations?.first?.lowercased().hasSuffix(".csv") ?? false) ? "csv" : "parquet")
    }
}

/// Several probes as one version (in order).
struct CombinedVersionProbe: DataVersionProbe {
    let probes: [any DataVersionProbe]

    func currentVersion() async throws -> DataVersion {
        if probes.count == 1 { return try await probes[0].currentVersion() }
        var tokens: [String] = []
        for probe in probes { tokens.append(try await probe.currentVersion().token) }
        return DataVersion.digest(kind: "all", parts: tokens)
    }
}

import DuckDBClient
import Foundation

/// The data-source part of a configuration file (JSON, `snake_case` keys): how DuckDB opens — its
/// extensions, remote credentials, attachments and allowed locations — and the named datasets
/// queries read, each with the probe that versions it.
///
/// ```json
/// {
///   "duckdb": {
///     "extension_directory": ".venv/duckdb_extensions",
///     "extensions": ["httpfs", "ducklake"],
///     "http_timeout_seconds": 10, "http_retries": 2,
///     "s3_secrets": [{"name": "lake", "endpoint": "127.0.0.1:9000", "url_style": "path",
///                     "use_ssl": false, "credentials": "environment"}],
///     "http_secrets": [{"name": "hub", "scope": ["https://huggingface.co"], "bearer_token_env": "HF_TOKEN"}],
///     "attachments": [{"alias": "lake", "ducklake": "lake.ducklake", "data_path": "s3://lake/data/"}],
///     "external_access": ["s3://lake/", "https://huggingface.co/"]
///   },
///   "datasets": [
///     {"name": "trips", "locations": ["https://example.org/trips.parquet"]},
///     {"name": "orders", "locations": ["s3://lake/orders/*.parquet"]},
///     {"name": "events", "ducklake_table": "lake.main.events"}
///   ]
/// }
/// ```
///
/// Relative paths (extension directory, attachments, local datasets) are resolved against the
/// file's directory. Secrets may be given inline or, better, named by environment variable
/// (`credentials: "environment"` reads `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`;
/// `bearer_token_env`); either way they are never logged. Without `external_access` DuckDB may read
/// any location; with it, only those prefixes (and the attachments).
public struct DataSourceConfiguration: Sendable, Decodable {
    /// DuckDB's side.
    public var duckdb: DuckDBSection
    /// Named datasets, exposed to queries as views of the same name.
    public var datasets: [Dataset]

    /// The `duckdb` object.
    public struct DuckDBSection: Sendable, Decodable {
        public var extensionDirectory: String?
        public var extensions: [String]?
        public var httpTimeoutSeconds: Double?
        public var httpRetries: Int?
        public var s3Secrets: [S3SecretEntry]?
        public var httpSecrets: [HTTPSecretEntry]?
        public var attachments: [AttachmentEntry]?
        public var externalAccess: [String]?
        public var threads: Int?
        public var memoryLimit: String?
    }

    /// One entry of `s3_secrets`.
    public struct S3SecretEntry: Sendable, Decodable, CustomReflectable {
        public var name: String?
        public var scope: [String]?
        public var region: String?
        public var endpoint: String?
        public var urlStyle: String?
        public var useSSL: Bool?
        /// `"environment"`, `"anonymous"`, or `{"access_key_id": …, "secret_access_key": …, "session_token": …}`.
        public var credentials: CredentialsEntry?

        enum CodingKeys: String, CodingKey {
            case name, scope, region, endpoint, urlStyle, useSSL = "useSsl", credentials
        }

        /// Everything but the credentials' values.
        public var customMirror: Mirror {
            Mirror(self, children: ["name": name as Any, "scope": scope as Any, "endpoint": endpoint as Any,
                                    "credentials": credentials.map { if case .named(let n) = $0 { n } else { "keys(redacted)" } } as Any])
        }
    }

    /// The `credentials` of an S3 secret.
    public enum CredentialsEntry: Sendable, Decodable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
        case named(String)
        case keys(accessKeyID: String, secretAccessKey: String, sessionToken: String?)

        private struct Keys: Decodable {
            var accessKeyId: String
            var secretAccessKey: String
            var sessionToken: String?
        }

        /// The kind only.
        public var description: String {
            if case .named(let name) = self { return name }
            return "keys(redacted)"
        }
        /// Same as ``description``.
        public var debugDescription: String { description }
        /// No children.
        public var customMirror: Mirror { Mirror(self, children: [:]) }

        public init(from decoder: any Decoder) throws {
            if let name = try? decoder.singleValueContainer().decode(String.self) {
                self = .named(name)
            } else {
                let keys = try Keys(from: decoder)
                self = .keys(accessKeyID: keys.accessKeyId, secretAccessKey: keys.secretAccessKey, sessionToken: keys.sessionToken)
            }
        }
    }

    /// One entry of `http_secrets`.
    public struct HTTPSecretEntry: Sendable, Decodable, CustomReflectable {
        public var name: String?
        public var scope: [String]?
        public var headers: [String: String]?
        public var bearerToken: String?
        /// The name of an environment variable holding the bearer token.
        public var bearerTokenEnv: String?

        /// Names only, no values.
        public var customMirror: Mirror {
            Mirror(self, children: ["name": name as Any, "scope": scope as Any, "headerNames": (headers ?? [:]).keys.sorted(),
                                    "bearerToken": bearerToken == nil ? "none" : "redacted", "bearerTokenEnv": bearerTokenEnv as Any])
        }
    }

    /// One entry of `attachments`: a DuckDB file (`database`) or a DuckLake catalog (`ducklake`).
    public struct AttachmentEntry: Sendable, Decodable {
        public var alias: String
        public var database: String?
        public var ducklake: String?
        public var dataPath: String?
        public var readOnly: Bool?
    }

    /// One named dataset: files (local, `http(s)://`, `s3://`; globs where the scheme lists) or a
    /// table of an attached DuckLake catalog.
    public struct Dataset: Sendable, Decodable {
        /// The view's name.
        public var name: String
        /// Parquet or CSV files (by suffix; `format` overrides).
        public var locations: [String]?
        /// `parquet` or `csv`; default: from the first location's suffix.
        public var format: String?
        /// `catalog.schema.table` of an attached DuckLake catalog.
        public var ducklakeTable: String?
    }

    /// Reads a configuration file.
    /// - Parameter url: the JSON file
    /// - Returns: the configuration with relative paths resolved against the file's directory
    /// - Throws: `DecodingError` (with the path of the bad key), or a file error
    public static func load(from url: URL) throws -> DataSourceConfiguration {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        var configuration = try decoder.decode(DataSourceConfiguration.self, from: Data(contentsOf: url))
        configuration.resolvePaths(relativeTo: url.deletingLastPathComponent())
        return configuration
    }

    mutating func resolvePaths(relativeTo base: URL) {
        func resolve(_ path: String) -> String {
            // Absolute paths, URLs and DuckDB's `scheme:` locations (`sqlite:meta.sqlite`,
            // `postgres:dbname=…`, `md:`, `:memory:`) stay as written.
            if path.hasPrefix("/") || path.hasPrefix(":") || path.contains("://") || Self.hasScheme(path) { return path }
            let resolved = base.appendingPathComponent(path).standardizedFileURL.path
            return path.hasSuffix("/") && !resolved.hasSuffix("/") ? resolved + "/" : resolved
        }
        duckdb.externalAccess = duckdb.externalAccess?.map(resolve)
        duckdb.extensionDirectory = duckdb.extensionDirectory.map(resolve)
        duckdb.attachments = duckdb.attachments?.map { entry in
            var entry = entry
            entry.database = entry.database.map(resolve)
            entry.ducklake = entry.ducklake.map(resolve)
            entry.dataPath = entry.dataPath.map(resolve)
            return entry
        }
        datasets = datasets.map { dataset in
            var dataset = dataset
            dataset.locations = dataset.locations?.map(resolve)
            return dataset
        }
    }

    /// `sqlite:…`, `postgres:…`, `md:…`: a scheme of two or more letters before a colon.
    static func hasScheme(_ location: String) -> Bool {
        guard let colon = location.firstIndex(of: ":") else { return false }
        let scheme = location[..<colon]
        return scheme.count >= 2 && scheme.first?.isLetter == true
            && scheme.allSatisfy { $0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == "." }
    }
}

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The set-up a ``Database`` runs once at open, from its configuration: extensions, HTTP settings,
/// secrets, attachments, then the external-access restriction (last, because DuckDB allows no
/// loading, attaching or setting of it afterwards).
///
/// Every statement here is composed from operator configuration, with literals and identifiers
/// quoted (``SQLText``); secret values are replaced by `***` in any error message.
struct DatabaseSetup {
    let configuration: Database.Configuration

    func apply(to connection: Connection) throws {
        for ext in configuration.extensions { try load(ext, on: connection) }
        if let timeout = configuration.httpTimeout {
            let seconds = max(1, Int((Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18).rounded(.up)))
            try run("SET GLOBAL http_timeout = \(seconds)", on: connection, what: "setting httpTimeout (needs the httpfs extension)")
        }
        if let retries = configuration.httpRetries {
            try run("SET GLOBAL http_retries = \(max(0, retries))", on: connection, what: "setting httpRetries (needs the httpfs extension)")
        }
        for secret in configuration.s3Secrets { try create(secret, on: connection) }
        for secret in configuration.httpSecrets { try create(secret, on: connection) }
        var dataPaths: [String] = []
        for attachment in configuration.attachments {
            try attach(attachment, on: connection)
            if case .duckLake = attachment.kind { dataPaths.append(try dataPath(of: attachment, on: connection)) }
        }
        if case .only(let locations) = configuration.externalAccess {
            try restrict(to: locations, dataPaths: dataPaths, on: connection)
        }
    }

    // MARK: Extensions

    private func load(_ ext: DuckDBExtension, on connection: Connection) throws {
        let statement: String
        switch ext.source {
        case .named(let name):
            guard DuckDBExtension.isValidName(name) else {
                throw DuckDBError(.extensionUnavailable, "extension name \"\(name)\" is not a plain name (letters, digits, _)")
            }
            statement = "LOAD \(name)"
        case .path(let path):
            statement = "LOAD \(SQLText.literal(path))"
        }
        do {
            _ = try connection.execute(statement)
        } catch let error as DuckDBError {
            let version = Database.libraryVersion
            let platform = (try? connection.query("PRAGMA platform").row(0).first).flatMap { value -> String? in
                if case .string(let s) = value { return s }
                return nil
            } ?? "this platform"
            let expected: String
            let wheel: String
            switch ext.source {
            case .named(let name):
                let directory = configuration.extensionDirectory ?? "DuckDB's default extension directory (~/.duckdb/extensions)"
                expected = "looked for \(directory)/\(version)/\(platform)/\(name).duckdb_extension"
                wheel = " (PyPI wheel duckdb-ext-\(name)==\(version.dropFirst()).*, which scripts/bootstrap.sh installs)"
            case .path(let path):
                expected = "from \(path)"
                wheel = ""
            }
            throw DuckDBError(
                .extensionUnavailable,
                "extension \"\(ext.name)\" could not be loaded (\(expected)); DuckDB \(version) needs the extension "
                    + "built for \(version) on \(platform)\(wheel): \(error.message)")
        }
    }

    // MARK: Secrets

    private func create(_ secret: S3Secret, on connection: Connection) throws {
        try checkName(secret.name, of: "S3 secret")
        var parts = ["TYPE s3", "PROVIDER config", "REGION \(SQLText.literal(secret.region))",
                     "URL_STYLE \(SQLText.literal(secret.urlStyle.rawValue))", "USE_SSL \(secret.useSSL)"]
        var hidden: [String] = []
        if let endpoint = secret.endpoint { parts.append("ENDPOINT \(SQLText.literal(endpoint))") }
        if let keys = try secret.credentials.resolve() {
            parts.append("KEY_ID \(SQLText.literal(keys.accessKeyID))")
            parts.append("SECRET \(SQLText.literal(keys.secretAccessKey))")
            hidden += [keys.accessKeyID, keys.secretAccessKey]
            if let token = keys.sessionToken {
                parts.append("SESSION_TOKEN \(SQLText.literal(token))")
                hidden.append(token)
            }
        }
        if !secret.scope.isEmpty { parts.append("SCOPE \(SQLText.list(secret.scope))") }
        try run(
            "CREATE OR REPLACE SECRET \(SQLText.identifier(secret.name)) (\(parts.joined(separator: ", ")))",
            on: connection, what: "creating S3 secret \"\(secret.name)\" (needs the httpfs extension)", hiding: hidden)
    }

    private func create(_ secret: HTTPSecret, on connection: Connection) throws {
        try checkName(secret.name, of: "HTTP secret")
        var parts = ["TYPE http"]
        if !secret.headers.isEmpty { parts.append("EXTRA_HTTP_HEADERS \(SQLText.map(secret.headers))") }
        if let token = secret.bearerToken { parts.append("BEARER_TOKEN \(SQLText.literal(token))") }
        if !secret.scope.isEmpty { parts.append("SCOPE \(SQLText.list(secret.scope))") }
        try run(
            "CREATE OR REPLACE SECRET \(SQLText.identifier(secret.name)) (\(parts.joined(separator: ", ")))",
            on: connection, what: "creating HTTP secret \"\(secret.name)\" (needs the httpfs extension)",
            hiding: Array(secret.headers.values) + (secret.bearerToken.map { [$0] } ?? []))
    }

    private func checkName(_ name: String, of what: String) throws {
        guard DuckDBExtension.isValidName(name) else {
            throw DuckDBError(.open, "\(what) name \"\(name)\" is not a plain name (letters, digits, _)")
        }
    }

    // MARK: Attachments and access

    private func attach(_ attachment: AttachedDatabase, on connection: Connection) throws {
        var options: [String] = []
        let target: String
        switch attachment.kind {
        case .duckdb:
            target = attachment.location
        case .duckLake(let dataPath):
            target = "ducklake:" + attachment.location
            if let dataPath { options.append("DATA_PATH \(SQLText.literal(dataPath))") }
        }
        if attachment.readOnly { options.append("READ_ONLY") }
        let suffix = options.isEmpty ? "" : " (\(options.joined(separator: ", ")))"
        try run(
            "ATTACH \(SQLText.literal(target)) AS \(SQLText.identifier(attachment.alias))\(suffix)",
            on: connection, what: "attaching \"\(attachment.alias)\"")
    }

    /// The data path a DuckLake catalog actually uses (the configured one, or the one stored in
    /// the catalog, e.g. `catalog.ducklake.files/` by default), as DuckLake reports it.
    private func dataPath(of attachment: AttachedDatabase, on connection: Connection) throws -> String {
        let sql = "SELECT value FROM \(SQLText.identifier(attachment.alias)).options() WHERE option_name = 'data_path'"
        do {
            guard case .rows(let result) = try connection.execute(sql), result.rowCount == 1,
                case .string(let path) = result.row(0)[0]
            else { throw DuckDBError(.open, "DuckLake reported no data_path") }
            // DuckLake creates a local data directory lazily, which a restricted database could
            // not do (only what is below the allowed prefix may be created): create it now.
            let local: String? = path.hasPrefix("file://") ? String(path.dropFirst("file://".count)) : path.contains("://") ? nil : path
            if let local, configuration.externalAccess != .unrestricted {
                do {
                    try FileManager.default.createDirectory(atPath: local, withIntermediateDirectories: true)
                } catch {
                    throw DuckDBError(.open, "cannot create the data directory \(path): \(error)")
                }
            }
            return path
        } catch let error as DuckDBError {
            throw DuckDBError(.open, "reading the data path of DuckLake catalog \"\(attachment.alias)\" failed: \(error.message)")
        }
    }

    /// Entries ending in `/` are directory or URL prefixes (`allowed_directories`); others are
    /// single files (`allowed_paths`). Attachments add their locations: files as files, and each
    /// DuckLake catalog's data path (as DuckLake reports it) as a prefix.
    private func restrict(to locations: [String], dataPaths: [String], on connection: Connection) throws {
        var directories: [String] = []
        var files: [String] = []
        for location in locations { location.hasSuffix("/") ? directories.append(location) : files.append(location) }
        for attachment in configuration.attachments { files.append(attachment.location) }
        for path in dataPaths { directories.append(path.hasSuffix("/") ? path : path + "/") }
        if !directories.isEmpty {
            try run("SET GLOBAL allowed_directories = \(SQLText.list(directories))", on: connection, what: "setting the allowed locations")
        }
        if !files.isEmpty {
            try run("SET GLOBAL allowed_paths = \(SQLText.list(files))", on: connection, what: "setting the allowed files")
        }
        try run("SET GLOBAL enable_external_access = false", on: connection, what: "restricting external access")
    }

    private func run(_ sql: String, on connection: Connection, what: String, hiding hidden: [String] = []) throws {
        do {
            _ = try connection.execute(sql)
        } catch let error as DuckDBError {
            var message = error.message
            for value in hidden where !value.isEmpty {
                message = message.replacing(value, with: "***")
            }
            throw DuckDBError(.open, "\(what) failed: \(message)")
        }
    }
}

extension Database.Configuration {
    /// Whether the open needs a set-up connection at all.
    var needsSetup: Bool {
        !extensions.isEmpty || httpTimeout != nil || httpRetries != nil || !s3Secrets.isEmpty || !httpSecrets.isEmpty
            || !attachments.isEmpty || externalAccess != .unrestricted
    }
}

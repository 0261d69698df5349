#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Credentials for S3-compatible storage, read by DuckDB's `httpfs` through a temporary (in-memory,
/// never persisted) secret created when the ``Database`` opens.
///
/// Credentials never appear in logs, descriptions, dumps or error messages of this package.
/// (DuckDB itself redacts an S3 secret's key in `duckdb_secrets()`.)
public struct S3Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// How bucket names go into request URLs.
    public enum URLStyle: String, Sendable, Hashable {
        /// `https://bucket.endpoint/key` (AWS's default).
        case virtualHost = "vhost"
        /// `https://endpoint/bucket/key` (most S3-compatible servers: MinIO, Ceph, moto, …).
        case path
    }

    /// Where the access keys come from.
    public enum Credentials: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
        CustomReflectable
    {
        /// Anonymous requests (public buckets).
        case anonymous
        /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and (optional) `AWS_SESSION_TOKEN`, read
        /// from the process environment when the database opens.
        case environment
        /// Keys given in configuration.
        case keys(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil)

        /// The kind only, never the keys.
        public var description: String {
            switch self {
            case .anonymous: "anonymous"
            case .environment: "environment"
            case .keys: "keys(redacted)"
            }
        }
        /// Same as ``description``.
        public var debugDescription: String { description }
        /// No children, so `dump` and reflection show no key either.
        public var customMirror: Mirror { Mirror(self, children: [:]) }

        /// The keys to sign with, or nil for anonymous access.
        /// - Parameter environment: the environment to read for ``environment``
        /// - Returns: access key id, secret key and optional session token
        /// - Throws: ``DuckDBError`` of kind `.open` when the environment lacks the keys
        public func resolve(environment: [String: String] = ProcessInfo.processInfo.environment) throws
            -> (accessKeyID: String, secretAccessKey: String, sessionToken: String?)?
        {
            switch self {
            case .anonymous: return nil
            case .keys(let id, let secret, let token): return (id, secret, token)
            case .environment:
                guard let id = environment["AWS_ACCESS_KEY_ID"], !id.isEmpty,
                    let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty
                else {
                    throw DuckDBError(
                        .open, "S3 credentials from the environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must both be set")
                }
                let token = environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
                return (id, secret, token)
            }
        }
    }

    /// The secret's name in DuckDB (letters, digits, `_`).
    public var name: String
    /// URL prefixes the secret applies to, e.g. `["s3://bucket"]`; empty: every `s3://` URL.
    public var scope: [String]
    /// The region requests are signed for.
    public var region: String
    /// `host[:port]` of an S3-compatible server; nil: AWS (`s3.amazonaws.com`).
    public var endpoint: String?
    /// Virtual-host or path-style URLs.
    public var urlStyle: URLStyle
    /// HTTPS (true) or plain HTTP (false, for a server on loopback).
    public var useSSL: Bool
    /// Where the keys come from.
    public var credentials: Credentials

    /// Creates an S3 secret.
    /// - Parameters:
    ///   - name: the secret's name in DuckDB
    ///   - scope: URL prefixes it applies to (empty: all of `s3://`)
    ///   - region: signing region, default `us-east-1`
    ///   - endpoint: `host[:port]` of an S3-compatible server, nil for AWS
    ///   - urlStyle: `.virtualHost` (AWS) or `.path`
    ///   - useSSL: HTTPS or plain HTTP
    ///   - credentials: anonymous, from the environment, or keys
    public init(
        name: String = "s3", scope: [String] = [], region: String = "us-east-1", endpoint: String? = nil,
        urlStyle: URLStyle = .virtualHost, useSSL: Bool = true, credentials: Credentials = .environment
    ) {
        self.name = name
        self.scope = scope
        self.region = region
        self.endpoint = endpoint
        self.urlStyle = urlStyle
        self.useSSL = useSSL
        self.credentials = credentials
    }

    /// Same as ``description``.
    public var debugDescription: String { description }

    /// Everything but the keys.
    public var description: String {
        "S3Secret(\(name), scope: \(scope), region: \(region), endpoint: \(endpoint ?? "AWS"), "
            + "urlStyle: \(urlStyle.rawValue), useSSL: \(useSSL), credentials: \(credentials))"
    }
}

/// HTTP headers DuckDB's `httpfs` sends with requests to some URL prefixes — e.g. a bearer token for
/// the Hugging Face Hub or a private dataset server — as a temporary DuckDB secret.
///
/// Header values and the token never appear in this package's descriptions, logs or errors. Note that
/// DuckDB 1.4 shows an HTTP secret's headers and bearer token in `duckdb_secrets()`: keep that
/// function out of registered queries.
public struct HTTPSecret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The secret's name in DuckDB (letters, digits, `_`).
    public var name: String
    /// URL prefixes it applies to, e.g. `["https://huggingface.co"]`; empty: every HTTP(S) URL.
    public var scope: [String]
    /// Extra request headers.
    public var headers: [String: String]
    /// Sent as `Authorization: Bearer <token>`.
    public var bearerToken: String?

    /// Creates an HTTP secret.
    /// - Parameters:
    ///   - name: the secret's name in DuckDB
    ///   - scope: URL prefixes it applies to
    ///   - headers: extra request headers
    ///   - bearerToken: sent as `Authorization: Bearer …`
    public init(name: String = "http", scope: [String] = [], headers: [String: String] = [:], bearerToken: String? = nil) {
        self.name = name
        self.scope = scope
        self.headers = headers
        self.bearerToken = bearerToken
    }

    /// The name, scope and header names; no values.
    public var description: String {
        "HTTPSecret(\(name), scope: \(scope), headers: \(headers.keys.sorted()), bearerToken: \(bearerToken == nil ? "none" : "redacted"))"
    }

    /// Same as ``description``.
    public var debugDescription: String { description }
    /// The name, scope and header names only, so `dump` shows no value either.
    public var customMirror: Mirror {
        Mirror(self, children: ["name": name, "scope": scope, "headerNames": headers.keys.sorted(), "hasBearerToken": bearerToken != nil])
    }

    /// The headers a request in scope carries, bearer token included.
    public var requestHeaders: [String: String] {
        var all = headers
        if let bearerToken { all["Authorization"] = "Bearer \(bearerToken)" }
        return all
    }
}

/// Another database attached when a ``Database`` opens: a DuckDB file or a DuckLake catalog.
public struct AttachedDatabase: Sendable, Hashable {
    /// What is attached.
    public enum Kind: Sendable, Hashable {
        /// A DuckDB database file.
        case duckdb
        /// A DuckLake catalog: `location` is its metadata database (e.g. a local DuckDB file),
        /// `dataPath` where its Parquet files live (a directory, `s3://bucket/dir/`, …; nil: the
        /// path stored in the catalog).
        case duckLake(dataPath: String?)
    }

    /// The catalog name queries use (`alias.schema.table`).
    public var alias: String
    /// The file or catalog to attach.
    public var location: String
    /// A DuckDB file or a DuckLake catalog.
    public var kind: Kind
    /// Attach read-only.
    public var readOnly: Bool

    /// Creates an attachment.
    /// - Parameters:
    ///   - alias: the catalog name in queries
    ///   - location: the file, or a DuckLake catalog's metadata database
    ///   - kind: `.duckdb` or `.duckLake(dataPath:)`
    ///   - readOnly: attach read-only
    public init(alias: String, location: String, kind: Kind, readOnly: Bool = false) {
        self.alias = alias
        self.location = location
        self.kind = kind
        self.readOnly = readOnly
    }
}

/// Which files and URLs queries may read or write beyond the database itself.
public enum ExternalAccess: Sendable, Hashable {
    /// DuckDB's default: any file or URL.
    case unrestricted
    /// Only these directory or URL prefixes (e.g. `s3://bucket/data/`, `https://host/datasets/`)
    /// plus the attachments' locations and data paths; everything else — local files included —
    /// fails with DuckDB's permission error. Applied after extensions, secrets and attachments are
    /// set up, with DuckDB's `enable_external_access = false`, which cannot be turned back on
    /// while the database is open (nor can the list be changed).
    ///
    /// What DuckDB checks is a string prefix of the path or URL, so: list directories with their
    /// trailing `/` (entries without one are single files); inside an allowed local directory,
    /// queries may also write, and symbolic links there are followed; an allowed URL prefix does
    /// not stop `httpfs` from following a server's redirect elsewhere, nor a server that decodes
    /// `%2e%2e` in paths — allow only servers you trust. DuckDB itself also keeps its temporary
    /// directory (`.tmp/` by default, or `temp_directory`) readable and writable.
    case only([String])
}

/// How DuckDB picks the secret for a URL, shared by everything that must send the same
/// credentials DuckDB would: the secret whose scope has the longest prefix of the URL wins, ties go
/// to the name that sorts first, and a later secret of the same name replaces an earlier one
/// (`CREATE OR REPLACE`). A secret without a scope has its type's default scope (`s3://`, `s3a://`,
/// `s3n://` for S3; nothing, so the weakest match, for HTTP).
public protocol ScopedSecret {
    /// The secret's name.
    var name: String { get }
    /// URL prefixes the secret applies to; empty: the type's default scope.
    var scope: [String] { get }
    /// The scope an unscoped secret of this type has.
    static var defaultScope: [String] { get }
}

extension ScopedSecret {
    /// How well the secret matches `url`: the length of its longest scope that prefixes it (the
    /// default scope for an unscoped secret, 0 if that is empty), nil when it does not apply.
    /// - Parameter url: the URL a request goes to
    /// - Returns: the match length, or nil
    public func scopeMatch(_ url: String) -> Int? {
        if scope.isEmpty {
            if Self.defaultScope.isEmpty { return 0 }
            return Self.defaultScope.filter { url.hasPrefix($0) }.map(\.count).max() ?? 0
        }
        return scope.filter { url.hasPrefix($0) }.map(\.count).max()
    }
}

extension Array where Element: ScopedSecret {
    /// The secret DuckDB would use for `url`.
    /// - Parameter url: the URL a request goes to
    /// - Returns: the secret, or nil when none applies
    public func secret(for url: String) -> Element? {
        var byName: [String: Element] = [:]
        for secret in self { byName[secret.name] = secret }  // the last of a name wins
        var best: (secret: Element, length: Int)?
        for secret in byName.values {
            guard let length = secret.scopeMatch(url) else { continue }
            if let current = best, length < current.length || (length == current.length && secret.name > current.secret.name) {
                continue
            }
            best = (secret, length)
        }
        return best?.secret
    }
}

extension S3Secret: ScopedSecret {
    /// `s3://`, `s3a://`, `s3n://`.
    public static var defaultScope: [String] { ["s3://", "s3a://", "s3n://"] }
}

extension HTTPSecret: ScopedSecret {
    /// None: an unscoped HTTP secret is the weakest match for every URL.
    public static var defaultScope: [String] { [] }
}

import AnalyticsCache
import Foundation
import HTTPTypes

/// The deployment part of a `serve` config file — `server`, `tenancy` and `cache`, beside the
/// `queries` that ``AnalyticsCache/QueryCatalog`` reads from the same file (JSON, or YAML; the same
/// keys). Every key is optional; absent keys keep their defaults, and the command line overrides
/// the file. Unknown keys are refused, so a misspelt setting never passes silently.
///
/// ```yaml
/// server:
///   host: 127.0.0.1               # default 127.0.0.1
///   port: 8080                    # default 8080
///   adminToken: "…"               # default: $ANALYTICS_CACHE_ADMIN_TOKEN, else none (invalidation refused)
///   bypassRequiresAdmin: false    # Cache-Control: no-cache needs the admin token; default false
///   maxConcurrentRequests: 1024   # computing at once, beyond: 503; default 1024
///   maxEventBodyBytes: 1048576    # POST /api/events, beyond: 413; default 1 MiB
///   maxParameters: 64             # query-string parameters, beyond: 400; default 64
///   streamBuffer: 256             # updates queued per SSE client before a resync; default 256
///   heartbeatSeconds: 15          # SSE comment heartbeat (0.1…86400); default 15
///   idleTimeoutSeconds: 30        # a silent connection is closed (1…86400); default 30
/// tenancy:                        # default: none (scoped queries answer 401)
///   header: X-Tenant              # a trusted proxy's header, or:
///   jwt: { claim: tenant, hs256SecretFile: secret.txt }   # or hs256Secret, or es256PublicKeyFile (PEM)
/// cache:
///   memoryMB: 256                 # L1's budget; default 256
///   diskMB: 2048                  # L2's map size; default 2048
///   diskPath: /var/cache/analytics  # L2's directory; default: l2 in the data directory
/// ```
/// `timeZone`, `datasets`, `events` and `projections` are read by the Deployment module's
/// `DeploymentConfig`.
public struct ServeSettings: Sendable, Equatable {
    /// The `server` section.
    public struct Server: Sendable, Equatable {
        // Each is the key of the same name (nil: absent, the default applies).
        /// `server.host`.
        public var host: String?
        /// `server.port`.
        public var port: Int?
        /// `server.adminToken`.
        public var adminToken: String?
        /// `server.bypassRequiresAdmin`.
        public var bypassRequiresAdmin: Bool?
        /// `server.maxConcurrentRequests`.
        public var maxConcurrentRequests: Int?
        /// `server.maxEventBodyBytes`.
        public var maxEventBodyBytes: Int?
        /// `server.maxParameters`.
        public var maxParameters: Int?
        /// `server.streamBuffer`.
        public var streamBuffer: Int?
        /// `server.heartbeatSeconds`.
        public var heartbeatSeconds: Double?
        /// `server.idleTimeoutSeconds`.
        public var idleTimeoutSeconds: Double?

        /// Every setting absent (its default).
        public init() {}
    }

    /// The `tenancy` section: a header or a JWT claim (not both).
    public enum TenancySource: Sendable, Equatable {
        /// A trusted proxy's header.
        case header(String)
        /// A claim of a bearer JWT: HS256 with a secret (given, or read from a file), or ES256
        /// with a PEM public key file. Relative paths are relative to the config file.
        case jwt(claim: String, hs256Secret: String?, es256PublicKeyPEM: String?)
    }

    /// The `server` section (all nil when absent).
    public var server = Server()
    /// The `tenancy` section, if any.
    public var tenancy: TenancySource?
    /// `cache.memoryMB`.
    public var memoryMB: Int?
    /// `cache.diskMB`.
    public var diskMB: Int?
    /// Whether the file declares `queries` (served instead of the demo's).
    public var declaresQueries = false
    /// Whether the file declares its own domain (`events`, `projections` or `datasets`): the
    /// demo's data and projections are then not used.
    public var declaresDomain = false
    /// `cache.diskPath`: L2's directory (default: `l2` in the data directory); relative to the file.
    public var diskPath: String?

    /// No settings: every default.
    public init() {}

    /// Reads the deployment sections of a config file (YAML when its name ends in `.yaml`/`.yml`,
    /// JSON otherwise; YAML's parser reads both).
    /// - Parameter url: the file
    /// - Throws: ``ServeSettingsError`` naming the key and what is wrong with it
    public init(contentsOf url: URL) throws {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw ServeSettingsError("cannot read \(url.path): \(error.localizedDescription)")
        }
        try self.init(text: text, directory: url.deletingLastPathComponent())
    }

    /// Reads the deployment sections of a config document.
    /// - Parameters:
    ///   - text: the document, JSON or YAML
    ///   - directory: what relative key-file paths are relative to
    /// - Throws: ``ServeSettingsError`` naming the key and what is wrong with it
    public init(text: String, directory: URL) throws {
        let loaded: Any?
        do { loaded = try ConfigDocument.load(yaml: text) } catch { throw ServeSettingsError("the config file does not parse: \(error)") }
        guard let root = loaded as? [String: Any] else { throw ServeSettingsError("the config file must be a mapping of sections") }
        // `queries` is QueryCatalog's; `timeZone`, `datasets`, `events` and `projections` are the
        // Deployment module's (DeploymentConfig).
        try Self.refuseUnknown(root, known: ["queries", "server", "tenancy", "cache", "timeZone", "datasets", "events", "projections"], in: nil)
        declaresQueries = root["queries"] != nil
        declaresDomain = root["events"] != nil || root["projections"] != nil || root["datasets"] != nil
        // The queries' own keys are QueryCatalog's; checked here too, so the whole file is refused
        // (naming the key) before anything starts.
        do { try QueryCatalog.refuseUnknownKeys(in: root) } catch let error as QueryCatalogError { throw ServeSettingsError(error.message) }
        if let section = root["server"] {
            let server = try Self.mapping(section, "server")
            try Self.refuseUnknown(server, known: [
                "host", "port", "adminToken", "bypassRequiresAdmin", "maxConcurrentRequests", "maxEventBodyBytes", "maxParameters",
                "streamBuffer", "heartbeatSeconds", "idleTimeoutSeconds",
            ], in: "server")
            self.server.host = try Self.text(server["host"], "server.host")
            self.server.port = try Self.integer(server["port"], "server.port")
            self.server.adminToken = try Self.text(server["adminToken"], "server.adminToken")
            self.server.bypassRequiresAdmin = try Self.boolean(server["bypassRequiresAdmin"], "server.bypassRequiresAdmin")
            self.server.maxConcurrentRequests = try Self.integer(server["maxConcurrentRequests"], "server.maxConcurrentRequests")
            self.server.maxEventBodyBytes = try Self.integer(server["maxEventBodyBytes"], "server.maxEventBodyBytes")
            self.server.maxParameters = try Self.integer(server["maxParameters"], "server.maxParameters")
            self.server.streamBuffer = try Self.integer(server["streamBuffer"], "server.streamBuffer")
            self.server.heartbeatSeconds = try Self.seconds(server["heartbeatSeconds"], "server.heartbeatSeconds")
            self.server.idleTimeoutSeconds = try Self.seconds(server["idleTimeoutSeconds"], "server.idleTimeoutSeconds")
        }
        if let section = root["tenancy"] {
            let tenancy = try Self.mapping(section, "tenancy")
            try Self.refuseUnknown(tenancy, known: ["header", "jwt"], in: "tenancy")
            switch (tenancy["header"], tenancy["jwt"]) {
            case (let header?, nil):
                guard let name = try Self.text(header, "tenancy.header"), !name.isEmpty else {
                    throw ServeSettingsError("tenancy.header: a header name is required")
                }
                self.tenancy = .header(name)
            case (nil, let jwt?):
                self.tenancy = try Self.jwt(Self.mapping(jwt, "tenancy.jwt"), directory: directory)
            case (nil, nil):
                throw ServeSettingsError("tenancy: give `header` or `jwt`")
            default:
                throw ServeSettingsError("tenancy: give `header` or `jwt`, not both")
            }
        }
        if let section = root["cache"] {
            let cache = try Self.mapping(section, "cache")
            try Self.refuseUnknown(cache, known: ["memoryMB", "diskMB", "diskPath"], in: "cache")
            memoryMB = try Self.integer(cache["memoryMB"], "cache.memoryMB")
            if let path = try Self.text(cache["diskPath"], "cache.diskPath") {
                guard !path.isEmpty else { throw ServeSettingsError("cache.diskPath: a directory is required") }
                diskPath = path.hasPrefix("/") ? path : directory.appendingPathComponent(path).path
            }
            diskMB = try Self.integer(cache["diskMB"], "cache.diskMB")
        }
        try validate()
    }

    private static func jwt(_ jwt: [String: Any], directory: URL) throws -> TenancySource {
        try refuseUnknown(jwt, known: ["claim", "hs256Secret", "hs256SecretFile", "es256PublicKeyFile"], in: "tenancy.jwt")
        guard let claim = try text(jwt["claim"], "tenancy.jwt.claim"), !claim.isEmpty else {
            throw ServeSettingsError("tenancy.jwt.claim: the claim naming the tenant is required")
        }
        let secret = try text(jwt["hs256Secret"], "tenancy.jwt.hs256Secret")
        let secretFile = try text(jwt["hs256SecretFile"], "tenancy.jwt.hs256SecretFile")
        let pemFile = try text(jwt["es256PublicKeyFile"], "tenancy.jwt.es256PublicKeyFile")
        guard [secret, secretFile, pemFile].compactMap({ $0 }).count == 1 else {
            throw ServeSettingsError("tenancy.jwt: give exactly one of hs256Secret, hs256SecretFile, es256PublicKeyFile")
        }
        func read(_ path: String, _ key: String) throws -> String {
            let url = path.hasPrefix("/") ? URL(fileURLWithPath: path) : directory.appendingPathComponent(path)
            do { return try String(contentsOf: url, encoding: .utf8) } catch {
                throw ServeSettingsError("\(key): cannot read \(url.path): \(error.localizedDescription)")
            }
        }
        if let pemFile { return .jwt(claim: claim, hs256Secret: nil, es256PublicKeyPEM: try read(pemFile, "tenancy.jwt.es256PublicKeyFile")) }
        // A secret file's final newline is not part of the secret.
        let value = try secret ?? read(secretFile ?? "", "tenancy.jwt.hs256SecretFile").trimmingCharacters(in: .newlines)
        guard value.utf8.count >= 32 else {
            throw ServeSettingsError("tenancy.jwt: an HS256 secret must be at least 32 bytes, got \(value.utf8.count)")
        }
        return .jwt(claim: claim, hs256Secret: value, es256PublicKeyPEM: nil)
    }

    private static func refuseUnknown(_ mapping: [String: Any], known: Set<String>, in section: String?) throws {
        if let unknown = mapping.keys.filter({ !known.contains($0) }).sorted().first {
            let place = section.map { "\($0).\(unknown)" } ?? unknown
            throw ServeSettingsError("\(place): unknown key (known: \(known.sorted().joined(separator: ", ")))")
        }
    }

    private static func mapping(_ value: Any, _ key: String) throws -> [String: Any] {
        guard let mapping = value as? [String: Any] else { throw ServeSettingsError("\(key): expected a mapping of keys") }
        return mapping
    }

    private static func text(_ value: Any?, _ key: String) throws -> String? {
        guard let value, !(value is NSNull) else { return nil }
        guard let text = value as? String else { throw ServeSettingsError("\(key): expected text") }
        return text
    }

    private static func integer(_ value: Any?, _ key: String) throws -> Int? {
        guard let value, !(value is NSNull) else { return nil }
        guard let number = value as? Int, !(value is Bool) else { throw ServeSettingsError("\(key): expected an integer") }
        return number
    }

    /// The values each numeric setting may take, by key.
    public static let integerRanges: [String: ClosedRange<Int>] = [
        "server.port": 0...65535, "server.maxConcurrentRequests": 1...1_000_000, "server.maxEventBodyBytes": 64...(1 << 30),
        "server.maxParameters": 1...100_000, "server.streamBuffer": 1...1_000_000,
        "cache.memoryMB": 0...(1 << 24), "cache.diskMB": 1...(1 << 24),
    ]
    /// The seconds each duration setting may take, by key (a heartbeat or an idle timeout shorter
    /// than these would make the server unusable).
    public static let secondsRanges: [String: ClosedRange<Double>] = [
        "server.heartbeatSeconds": 0.1...86_400, "server.idleTimeoutSeconds": 1...86_400,
    ]

    /// Checks every setting's range and the tenancy header's name — for the file's values and for
    /// the command line's put over them alike.
    /// - Throws: ``ServeSettingsError`` naming the key (its command-line option shares the name)
    public func validate() throws {
        let integers: [(String, Int?)] = [
            ("server.port", server.port), ("server.maxConcurrentRequests", server.maxConcurrentRequests),
            ("server.maxEventBodyBytes", server.maxEventBodyBytes), ("server.maxParameters", server.maxParameters),
            ("server.streamBuffer", server.streamBuffer), ("cache.memoryMB", memoryMB), ("cache.diskMB", diskMB),
        ]
        for (key, value) in integers {
            if let value, let range = Self.integerRanges[key], !range.contains(value) {
                throw ServeSettingsError("\(key): \(value) is outside \(range.lowerBound)…\(range.upperBound)")
            }
        }
        for (key, value) in [("server.heartbeatSeconds", server.heartbeatSeconds), ("server.idleTimeoutSeconds", server.idleTimeoutSeconds)] {
            if let value, let range = Self.secondsRanges[key], !range.contains(value) {
                throw ServeSettingsError("\(key): \(value) is outside \(range.lowerBound)…\(range.upperBound) seconds")
            }
        }
        if let host = server.host, host.isEmpty { throw ServeSettingsError("server.host: an address is required") }
        if case .header(let name) = tenancy, HTTPField.Name(name) == nil {
            throw ServeSettingsError("tenancy.header: '\(name)' is not a valid HTTP header name")
        }
    }

    private static func boolean(_ value: Any?, _ key: String) throws -> Bool? {
        guard let value, !(value is NSNull) else { return nil }
        guard let flag = value as? Bool else { throw ServeSettingsError("\(key): expected true or false") }
        return flag
    }

    private static func seconds(_ value: Any?, _ key: String) throws -> Double? {
        guard let value, !(value is NSNull) else { return nil }
        if let integer = value as? Int, !(value is Bool) { return Double(integer) }
        if let double = value as? Double, double.isFinite { return double }
        throw ServeSettingsError("\(key): expected a number of seconds")
    }
}

/// A config file's deployment sections are not valid.
public struct ServeSettingsError: Error, Sendable, CustomStringConvertible {
    /// What is wrong, naming the key.
    public var description: String
    init(_ description: String) { self.description = description }
}

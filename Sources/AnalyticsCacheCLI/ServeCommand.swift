import AnalyticsCache
import AnalyticsServer
import ArgumentParser
import EventStore
import Foundation
import Hummingbird
import PostgresEventStore
import ServiceLifecycle

/// `analytics-cache serve [--port 8080] [--config FILE] [--data-dir DIR]`
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the HTTP API and the live dashboard (the embedded demo without --config).",
        discussion: """
            Without --config: on first start, generates TPC-H (DuckDB's dbgen, deterministic) and 200 \
            demo orders as events into the data directory, then serves eight dashboard queries over \
            it, the dashboard at /, and the API (docs/ARCHITECTURE.md). With --config FILE (JSON or \
            YAML; the README lists every key): its `queries` are served instead of the demo's, over \
            the same database, and its `server`, `tenancy` and `cache` sections set the rest; the \
            command line overrides the file. The data directory holds the DuckDB file, the event log \
            and the L2 cache. SIGTERM and SIGINT shut down gracefully.
            """
    )

    @Option(help: "The port to listen on (0: any free port; default 8080, or the config's server.port).")
    var port: Int?

    @Option(help: "The address to listen on (default 127.0.0.1, or the config's server.host).")
    var host: String?

    @Option(help: "A config file (JSON or YAML): queries to serve instead of the demo's, and server, tenancy and cache settings.")
    var config: String?

    @Option(name: .customLong("data-dir"), help: "Where the database, the event log and the L2 cache live.")
    var dataDir = ".analytics-cache"

    @Option(help: "TPC-H scale factor of the demo data (generated once).")
    var scale = 1.0

    @Option(name: .customLong("admin-token"), help: "Bearer token of POST /api/cache/invalidate (default: the config's server.adminToken, else $ANALYTICS_CACHE_ADMIN_TOKEN).")
    var adminToken: String?

    @Option(name: .customLong("tenant-header"), help: "A trusted header naming the tenant of scoped queries.")
    var tenantHeader: String?

    @Option(name: .customLong("jwt-claim"), help: "The JWT claim naming the tenant of scoped queries (with --jwt-hs256-secret-file or --jwt-es256-public-key-file).")
    var jwtClaim: String?

    @Option(name: .customLong("jwt-hs256-secret-file"), help: "A file holding the HS256 secret of tenants' tokens (at least 32 bytes).")
    var jwtSecretFile: String?

    @Option(name: .customLong("jwt-es256-public-key-file"), help: "A PEM file holding the ES256 public key of tenants' tokens.")
    var jwtPublicKeyFile: String?

    @Option(name: .customLong("memory-mb"), help: "L1's budget in MiB (default 256, or the config's cache.memoryMB).")
    var memoryMB: Int?

    @Option(name: .customLong("disk-mb"), help: "L2's map size in MiB (default 2048, or the config's cache.diskMB).")
    var diskMB: Int?

    @Option(name: .customLong("event-store"), help: "The event log: sqlite (default: events.sqlite in the data directory, one node) or postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require], shared by several nodes.")
    var eventStore: String?

    @Option(name: .customLong("bench-constant-bytes"), help: .hidden)
    var benchConstantBytes: Int?

    /// The settings: the config file's, then the command line's over them.
    func resolvedSettings() throws -> ServeSettings {
        var settings = try config.map { try ServeSettings(contentsOf: URL(fileURLWithPath: $0)) } ?? ServeSettings()
        if let port { settings.server.port = port }
        if let host { settings.server.host = host }
        if let adminToken { settings.server.adminToken = adminToken }
        if let memoryMB { settings.memoryMB = memoryMB }
        if let diskMB { settings.diskMB = diskMB }
        if let tenantHeader { settings.tenancy = .header(tenantHeader) }
        if jwtSecretFile != nil || jwtPublicKeyFile != nil || jwtClaim != nil {
            guard tenantHeader == nil else { throw ValidationError("--tenant-header and --jwt-… name two sources of the tenant: give one") }
            guard let jwtClaim, (jwtSecretFile == nil) != (jwtPublicKeyFile == nil) else {
                throw ValidationError("--jwt-claim needs one of --jwt-hs256-secret-file and --jwt-es256-public-key-file")
            }
            let file = jwtSecretFile ?? jwtPublicKeyFile ?? ""
            let text: String
            do { text = try String(contentsOfFile: file, encoding: .utf8) } catch { throw ValidationError("cannot read \(file): \(error.localizedDescription)") }
            settings.tenancy = jwtSecretFile != nil
                ? .jwt(claim: jwtClaim, hs256Secret: text.trimmingCharacters(in: .newlines), es256PublicKeyPEM: nil)
                : .jwt(claim: jwtClaim, hs256Secret: nil, es256PublicKeyPEM: text)
        }
        // The command line's values get the file's checks; a refused value given as an option is
        // named by its option.
        do { try settings.validate() } catch let error as ServeSettingsError {
            let options: [(key: String, option: String, given: Bool)] = [
                ("server.port", "--port", port != nil), ("server.host", "--host", host != nil),
                ("cache.memoryMB", "--memory-mb", memoryMB != nil), ("cache.diskMB", "--disk-mb", diskMB != nil),
                ("tenancy.header", "--tenant-header", tenantHeader != nil),
            ]
            if let match = options.first(where: { $0.given && error.description.hasPrefix($0.key + ":") }) {
                throw ValidationError(match.option + error.description.dropFirst(match.key.count))
            }
            throw error
        }
        return settings
    }

    func run() async throws {
        let settings: ServeSettings
        do { settings = try resolvedSettings() } catch let error as ServeSettingsError { throw ValidationError(error.description) }
        let tenancy: Tenancy
        switch settings.tenancy {
        case nil: tenancy = .none
        case .header(let name): tenancy = .header(name)
        case .jwt(let claim, let secret, let pem):
            do {
                let keys = if let secret { try await JWTVerifier.hs256(secret: secret) } else { try await JWTVerifier.es256(publicKeyPEM: pem ?? "") }
                tenancy = .jwt(claim: claim, keys: keys)
            } catch { throw ValidationError("the tenancy key is not usable: \(error)") }
        }
        let directory = URL(fileURLWithPath: dataDir, isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        guard let eventStore, eventStore != "sqlite" else {
            let log = try SQLiteEventStore(path: directory.appendingPathComponent("events.sqlite").path)
            try await serve(settings: settings, tenancy: tenancy, directory: directory, log: log, logServices: [EventStoreWatcher(store: log)])
            return
        }
        let store: PostgresEventStore
        do { store = try PostgresEventStore(configuration: .init(url: eventStore)) } catch { throw ValidationError("--event-store: \(error)") }
        try await withThrowingTaskGroup(of: Void.self) { group in
            // The pool and the listener run for the whole life of the server (cancelled after it).
            group.addTask { try await store.run() }
            do {
                try await Self.bounded(.seconds(30), "the event store at \(Self.redacted(eventStore)) did not answer within 30 s") {
                    try await store.migrate()
                }
                try await serve(settings: settings, tenancy: tenancy, directory: directory, log: store, logServices: [])
            } catch {
                group.cancelAll()
                throw error
            }
            group.cancelAll()
        }
    }
}

import AnalyticsCache
import AnalyticsServer
import ArgumentParser
import DiskCache
import DuckDBClient
import EventProjection
import EventStore
import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
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
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let logger = Logger(label: "swift-analytics-cache")
        let directory = URL(fileURLWithPath: dataDir, isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)

        let database = try Database(path: directory.appendingPathComponent("demo.duckdb").path)
        let writer = try DuckDBWriter(database: database)
        if !settings.declaresQueries {
            try await DemoDomain.prepare(writer: writer, scale: scale) { line in
                FileHandle.standardError.write(Data("serve: \(line)\n".utf8))
            }
        }
        let log = try SQLiteEventStore(path: directory.appendingPathComponent("events.sqlite").path)
        let projector = Projector(name: DemoDomain.projectorName, log: log, writer: writer, projections: DemoDomain.projections)
        try await projector.setUp()
        if !settings.declaresQueries, try await log.lastPosition() == 0 {
            FileHandle.standardError.write(Data("serve: appending 200 demo orders as events\n".utf8))
            for number in 1...200 {
                let (aggregate, events) = DemoDomain.orderEvents(number)
                _ = try await log.append(events, to: aggregate, expectedVersion: .noStream)
            }
        }
        let pool = try DuckDBPool(database: database, configuration: .init(readOnly: true))
        let disk = try DiskCache(configuration: .init(path: directory.appendingPathComponent("l2").path, mapSize: (settings.diskMB ?? 2048) << 20))
        let cache = AnalyticsCache(configuration: .init(
            pool: pool, log: log, projector: projector, projections: DemoDomain.projections, disk: disk, memoryBytes: (settings.memoryMB ?? 256) << 20))
        let queries = try settings.declaresQueries ? QueryCatalog(contentsOf: URL(fileURLWithPath: config ?? "")).queries : DemoDomain.queries
        for query in queries { try await cache.register(query) }

        let server = settings.server
        var serverConfiguration = ServerConfiguration(
            host: server.host ?? "127.0.0.1", port: server.port ?? 8080,
            adminToken: server.adminToken ?? ProcessInfo.processInfo.environment["ANALYTICS_CACHE_ADMIN_TOKEN"],
            tenancy: tenancy, bypassRequiresAdmin: server.bypassRequiresAdmin ?? false,
            maxEventBodyBytes: server.maxEventBodyBytes ?? 1 << 20, maxParameters: server.maxParameters ?? 64,
            maxConcurrentRequests: server.maxConcurrentRequests ?? 1024, streamBuffer: server.streamBuffer ?? 256,
            heartbeat: .every(.milliseconds(Int64(((server.heartbeatSeconds ?? 15) * 1000).rounded()))),
            metricsRegistry: registry, logger: logger)
        if let idle = server.idleTimeoutSeconds { serverConfiguration.idleTimeout = .milliseconds(Int64((idle * 1000).rounded())) }
        let analyticsServer = AnalyticsServer(cache: cache, configuration: serverConfiguration)
        let router = analyticsServer.router()
        if !settings.declaresQueries { analyticsServer.addDashboard(to: router, panels: DemoDomain.panels, title: "swift-analytics-cache — live TPC-H dashboard") }
        if let size = benchConstantBytes, size >= 0 {
            // scripts/bench-server.sh's ceiling: the same server and middleware, a constant body.
            let body = ByteBuffer(repeating: UInt8(ascii: "x"), count: size)
            router.get("/bench/constant") { _, _ in
                Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: ResponseBody(byteBuffer: body))
            }
        }
        let host = serverConfiguration.host
        let app = analyticsServer.application(
            router: router,
            services: [projector, cache, DiskCacheMaintenance(cache: disk), EventStoreWatcher(store: log)],
            onServerRunning: { port in
                // Unbuffered: scripts wait for this line.
                FileHandle.standardOutput.write(Data("serving http://\(host):\(port)/\n".utf8))
            })
        try await app.runService()
        await pool.shutdown()
        await writer.shutdown()
    }
}

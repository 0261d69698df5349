import AnalyticsCache
import AnalyticsServer
import ArgumentParser
import Deployment
import DiskCache
import DuckDBClient
import EventLogCore
import EventProjection
import EventStore
import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import RemoteData
import ServiceLifecycle

extension ServeCommand {
    /// Sets up the data directory's database, the projector, the cache and the server over `log`,
    /// and serves until SIGTERM or SIGINT.
    func serve(settings: ServeSettings, tenancy: Tenancy, directory: URL, log: any EventLog, logServices: [any Service]) async throws {
        // A SIGHUP during start-up (a rebuild may take a while) must not end the process: reloads
        // are heard once serving.
        if config != nil { signal(SIGHUP, SIG_IGN) }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let logger = Logger(label: "swift-analytics-cache")

        // A config declaring its own domain (events, projections, datasets) replaces the demo's.
        let domain = try deploymentConfig(settings)
        let database = try Database(
            path: directory.appendingPathComponent(domain == nil ? "demo.duckdb" : "analytics.duckdb").path,
            configuration: domain?.databaseConfiguration ?? .init())
        let writer = try DuckDBWriter(database: database)
        if !settings.declaresQueries && domain == nil {
            try await DemoDomain.prepare(writer: writer, scale: scale) { line in
                FileHandle.standardError.write(Data("serve: \(line)\n".utf8))
            }
        }
        if let domain {
            try await writer.write { connection in for dataset in domain.datasets where !dataset.setupSQL.isEmpty { _ = try connection.execute(dataset.setupSQL) } }
        }
        let projections = domain?.projectorProjections ?? DemoDomain.projections
        let projector = Projector(name: domain == nil ? DemoDomain.projectorName : "config", log: log, writer: writer, projections: projections)
        try await projector.setUp()
        let diskPath = settings.diskPath ?? directory.appendingPathComponent("l2").path
        try FileManager.default.createDirectory(atPath: diskPath, withIntermediateDirectories: true)
        let disk = try DiskCache(configuration: .init(path: diskPath, mapSize: (settings.diskMB ?? 2048) << 20))
        if let domain {
            _ = try await ProjectionState.ensureCurrent(domain, projector: projector, writer: writer, progress: { progress in
                FileHandle.standardError.write(Data("serve: rebuilding projections for the edited config: \(progress.position)/\(progress.target)\n".utf8))
            }, beforeRecording: {
                // Results cached from the tables the old projections built.
                try await disk.removeAll()
            })
        }
        if !settings.declaresQueries && domain == nil, try await log.lastPosition() == 0 {
            FileHandle.standardError.write(Data("serve: appending 200 demo orders as events\n".utf8))
            for number in 1...200 {
                let (aggregate, events) = DemoDomain.orderEvents(number)
                do {
                    _ = try await log.append(events, to: aggregate, expectedVersion: .noStream)
                } catch let error as EventStoreError {
                    // Another node sharing the log appended the demo orders at the same time.
                    guard case .versionConflict = error.kind else { throw error }
                }
            }
        }
        let pool = try DuckDBPool(database: database, configuration: .init(readOnly: true))
        var cacheConfiguration = AnalyticsCache.Configuration(
            pool: pool, log: log, projector: projector, projections: projections, disk: disk, memoryBytes: (settings.memoryMB ?? 256) << 20)
        for dataset in domain?.datasets ?? [] {
            let probe = LocalFileVersionProbe(patterns: [dataset.path])
            cacheConfiguration.datasets[dataset.name] = { try await probe.currentVersion().token }
        }
        let cache = AnalyticsCache(configuration: cacheConfiguration)
        let queries: [QueryDefinition]
        if !settings.declaresQueries {
            queries = domain == nil && config == nil ? DemoDomain.queries : []
        } else {
            queries = try domain?.queries ?? QueryCatalog(contentsOf: URL(fileURLWithPath: config ?? "")).queries
        }
        for query in queries { try await cache.register(query) }
        var live: LiveDeployment?
        if let config {
            let url = URL(fileURLWithPath: config)
            let started = domain ?? DeploymentConfig.load(contentsOf: url)
            live = LiveDeployment(url: url, config: started, cache: cache, writer: writer)
        }

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
        var services: [any Service] = logServices + [projector, cache, DiskCacheMaintenance(cache: disk)]
        if let live {
            serverConfiguration.eventCheck = { type, payload in live.eventProblem(type: type, payload: payload) }
            let reload = reloadAction(live, started: try ServeSettings(contentsOf: URL(fileURLWithPath: config ?? "")))
            serverConfiguration.reload = reload
            services.append(ReloadOnHangup(reload: reload, logger: logger))
        }
        let analyticsServer = AnalyticsServer(cache: cache, configuration: serverConfiguration)
        let router = analyticsServer.router()
        if config == nil { analyticsServer.addDashboard(to: router, panels: DemoDomain.panels, title: "swift-analytics-cache — live TPC-H dashboard") }
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
            services: services,
            onServerRunning: { port in
                // Unbuffered: scripts wait for this line.
                FileHandle.standardOutput.write(Data("serving http://\(host):\(port)/\n".utf8))
            })
        try await app.runService()
        await pool.shutdown()
        await writer.shutdown()
    }

    /// `body`, or `message` as an error once `timeout` passed.
    static func bounded(_ timeout: Duration, _ message: String, _ body: @escaping @Sendable () async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw ValidationError(message)
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    /// A connection URL without its password (for messages and logs).
    static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "***"
        return components.string ?? url
    }
}

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
            it, the dashboard at /, and the API (docs/ARCHITECTURE.md). With --config FILE (a query \
            catalog, JSON or YAML): its queries are served instead, over the same database. The data \
            directory holds the DuckDB file, the event log and the L2 cache. SIGTERM and SIGINT shut \
            down gracefully.
            """
    )

    @Option(help: "The port to listen on (0: any free port).")
    var port = 8080

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "A query catalog (JSON or YAML) to serve instead of the demo's queries.")
    var config: String?

    @Option(name: .customLong("data-dir"), help: "Where the database, the event log and the L2 cache live.")
    var dataDir = ".analytics-cache"

    @Option(help: "TPC-H scale factor of the demo data (generated once).")
    var scale = 1.0

    @Option(name: .customLong("admin-token"), help: "Bearer token of POST /api/cache/invalidate (default: $ANALYTICS_CACHE_ADMIN_TOKEN).")
    var adminToken: String?

    @Option(name: .customLong("tenant-header"), help: "A trusted header naming the tenant of scoped queries.")
    var tenantHeader: String?

    @Option(name: .customLong("memory-mb"), help: "L1's budget in MiB.")
    var memoryMB = 256

    @Option(name: .customLong("bench-constant-bytes"), help: .hidden)
    var benchConstantBytes: Int?

    func run() async throws {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let logger = Logger(label: "swift-analytics-cache")
        let directory = URL(fileURLWithPath: dataDir, isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)

        let database = try Database(path: directory.appendingPathComponent("demo.duckdb").path)
        let writer = try DuckDBWriter(database: database)
        if config == nil {
            try await DemoDomain.prepare(writer: writer, scale: scale) { line in
                FileHandle.standardError.write(Data("serve: \(line)\n".utf8))
            }
        }
        let log = try SQLiteEventStore(path: directory.appendingPathComponent("events.sqlite").path)
        let projector = Projector(name: DemoDomain.projectorName, log: log, writer: writer, projections: DemoDomain.projections)
        try await projector.setUp()
        if config == nil, try await log.lastPosition() == 0 {
            FileHandle.standardError.write(Data("serve: appending 200 demo orders as events\n".utf8))
            for number in 1...200 {
                let (aggregate, events) = DemoDomain.orderEvents(number)
                _ = try await log.append(events, to: aggregate, expectedVersion: .noStream)
            }
        }
        let pool = try DuckDBPool(database: database, configuration: .init(readOnly: true))
        let disk = try DiskCache(configuration: .init(path: directory.appendingPathComponent("l2").path, mapSize: 2 << 30))
        let cache = AnalyticsCache(configuration: .init(
            pool: pool, log: log, projector: projector, projections: DemoDomain.projections, disk: disk, memoryBytes: memoryMB << 20))
        let queries = try config.map { try QueryCatalog(contentsOf: URL(fileURLWithPath: $0)).queries } ?? DemoDomain.queries
        for query in queries { try await cache.register(query) }

        var serverConfiguration = ServerConfiguration(
            host: host, port: port, adminToken: adminToken ?? ProcessInfo.processInfo.environment["ANALYTICS_CACHE_ADMIN_TOKEN"],
            tenancy: tenantHeader.map { .header($0) } ?? .none, metricsRegistry: registry, logger: logger)
        serverConfiguration.maxConcurrentRequests = 1024
        let server = AnalyticsServer(cache: cache, configuration: serverConfiguration)
        let router = server.router()
        if config == nil { server.addDashboard(to: router, panels: DemoDomain.panels, title: "swift-analytics-cache — live TPC-H dashboard") }
        if let size = benchConstantBytes, size >= 0 {
            // scripts/bench-server.sh's ceiling: the same server and middleware, a constant body.
            let body = ByteBuffer(repeating: UInt8(ascii: "x"), count: size)
            router.get("/bench/constant") { _, _ in
                Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: ResponseBody(byteBuffer: body))
            }
        }
        let host = self.host
        let app = server.application(
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

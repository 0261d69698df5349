import AnalyticsCache
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MemoryCache
import Metrics
import NIOCore
import ServiceLifecycle
import Synchronization

/// The HTTP face of an ``AnalyticsCache``: query results as JSON, Arrow IPC or CSV with their
/// cache headers, event appends with the freshness contract, live updates over Server-Sent Events,
/// admin invalidation, metrics, health and readiness, and the OpenAPI document of it all.
///
/// Paths (fixed; see docs/ARCHITECTURE.md): `GET /api/queries`, `GET /api/queries/{id}`,
/// `POST /api/events`, `GET /api/analytics/stream`, `POST /api/cache/invalidate`, `GET /metrics`,
/// `GET /health`, `GET /ready`, `GET /openapi.json`; extra routes (the dashboard) are added by
/// whoever builds the router.
public final class AnalyticsServer: Sendable {
    /// The cache served.
    public let cache: AnalyticsCache
    /// How it is served.
    public let configuration: ServerConfiguration
    let inFlight = Atomic<Int>(0)
    let streams = Atomic<Int>(0)
    let streamGauge: Gauge
    let rejected: Counter
    /// Response bodies — results as Arrow IPC, JSON or CSV — by format and content hash (a pure
    /// function of both): encoded and copied into a buffer once, then shared by every response
    /// (a `ByteBuffer` is copy-on-write; NIO writes it without copying). Bounded by bytes.
    let encoded: MemoryCache<String, ByteBuffer>
    /// Test-only failure injection: awaited by every stream before it takes its next message (a
    /// test holds streams back to make them fall behind).
    let streamHook = Mutex<(@Sendable () async -> Void)?>(nil)

    /// Test-only: sets the hook every stream awaits before taking its next message.
    package func beforeStreamMessageForTesting(_ hook: (@Sendable () async -> Void)?) { streamHook.withLock { $0 = hook } }

    /// - Parameters:
    ///   - cache: the cache to serve (its ``AnalyticsCache/run()`` and the projector run as
    ///     services beside the server)
    ///   - configuration: how
    public init(cache: AnalyticsCache, configuration: ServerConfiguration = ServerConfiguration()) {
        self.cache = cache
        self.configuration = configuration
        streamGauge = Gauge(label: "analytics_sse_clients")
        encoded = MemoryCache(configuration: MemoryCacheConfiguration(
            bound: .weight(configuration.encodedCacheBytes, weigher: { _, value in value.readableBytes }), name: "analytics-http-encoded"))
        rejected = Counter(label: "analytics_http_overload_rejections_total")
    }

    /// Open SSE streams now.
    public var openStreams: Int { streams.load(ordering: .relaxed) }

    /// The API's routes on a new router (add the dashboard or other routes to it).
    /// - Returns: the router
    public func router() -> Router<BasicRequestContext> {
        // Every GET route answers HEAD too (the same status and headers, no body).
        let router = Router(context: BasicRequestContext.self, options: .autoGenerateHeadEndpoints)
        router.add(middleware: MetricsMiddleware())
        router.get("/health") { _, _ in Response.json(object: ["status": "ok"]) }
        router.get("/ready") { [self] _, _ in await readiness() }
        router.get("/metrics") { [self] _, _ in metricsResponse() }
        router.get("/openapi.json") { _, _ in Response.json(Array(OpenAPIDocument.json.utf8)) }
        router.get("/api/queries") { [self] _, _ in listQueries() }
        router.get("/api/queries/{id}") { [self] request, context in
            await guarded { try await queryResult(request, id: context.parameters.get("id") ?? "") }
        }
        router.post("/api/events") { [self] request, context in
            await guarded { try await appendEvents(request, context: context) }
        }
        router.get("/api/analytics/stream") { [self] request, _ in
            await guarded { try await stream(request) }
        }
        router.post("/api/cache/invalidate") { [self] request, context in
            await guarded { try await invalidate(request, context: context) }
        }
        router.post("/api/admin/reload") { [self] request, _ in
            await guarded { try await reload(request) }
        }
        return router
    }

    /// A Hummingbird application serving ``router()`` (or `router`) on the configured address,
    /// running `services` (the projector, the cache, maintenance) beside it: run it with
    /// `runService()` and SIGTERM/SIGINT shut all of them down gracefully — in-flight requests
    /// finish, SSE streams end at once.
    /// - Parameters:
    ///   - router: the routes (default: ``router()``)
    ///   - services: services to run with the server
    ///   - onServerRunning: called with the bound port once listening
    /// - Returns: the application
    public func application(
        router: Router<BasicRequestContext>? = nil, services: [any Service] = [],
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let (seconds, attoseconds) = configuration.idleTimeout.components
        return Application(
            router: router ?? self.router(),
            server: .http1(configuration: .init(idleTimeout: .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000))),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "analytics-cache"),
            services: services,
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: configuration.logger)
    }

    /// Runs `body`; a thrown ``APIProblem`` becomes its response, anything else a 500 whose
    /// details stay in the log (with a request id the client is given).
    func guarded(_ body: () async throws -> Response) async -> Response {
        do {
            return try await body()
        } catch let problem as APIProblem {
            return problem.response
        } catch {
            let id = UUID().uuidString.lowercased()
            configuration.logger.error("request failed", metadata: ["request_id": "\(id)", "error": "\(error)"])
            return APIProblem(.internalServerError, "internal error", details: ["requestId": id]).response
        }
    }

    /// Admits a request that computes, or refuses it with 503 when too many are in flight.
    func admitted<T>(_ body: () async throws -> T) async throws -> T {
        if let limit = configuration.maxConcurrentRequests {
            let now = inFlight.add(1, ordering: .relaxed).newValue
            defer { inFlight.subtract(1, ordering: .relaxed) }
            guard now <= limit else {
                rejected.increment()
                throw APIProblem(.serviceUnavailable, "the server is busy; retry shortly", headers: [.retryAfter: "1"])
            }
            return try await body()
        }
        return try await body()
    }

    func readiness() async -> Response {
        do {
            let last = try await cache.eventLog.lastPosition()
            let applied = cache.projector.appliedPosition ?? -1
            let ready = applied >= last
            return Response.json(object: ["ready": ready, "applied": applied, "logPosition": last],
                                 status: ready ? .ok : .serviceUnavailable, headers: ready ? [:] : [.retryAfter: "1"])
        } catch {
            return APIProblem(.serviceUnavailable, "the event log cannot be read", headers: [.retryAfter: "1"]).response
        }
    }

    func metricsResponse() -> Response {
        guard let registry = configuration.metricsRegistry else { return APIProblem(.notFound, "metrics are not enabled").response }
        var bytes: [UInt8] = []
        registry.emit(into: &bytes)
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

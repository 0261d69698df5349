import Logging
import Prometheus
import Synchronization

/// How an ``AnalyticsServer`` serves: where, who may do what, and its limits.
public struct ServerConfiguration: Sendable {
    /// The address to listen on (default loopback).
    public var host: String
    /// The port (0: any free port; see ``AnalyticsServer/application(services:onServerRunning:)``).
    public var port: Int
    /// The bearer token of `POST /api/cache/invalidate` (nil: the endpoint answers 403 to all).
    public var adminToken: String?
    /// Where a request's tenant or user comes from.
    public var tenancy: Tenancy
    /// Whether `Cache-Control: no-cache` (bypass the cache) needs the admin token.
    public var bypassRequiresAdmin: Bool
    /// The largest `POST /api/events` body, in bytes (larger: 413).
    public var maxEventBodyBytes: Int
    /// The most query-string parameters a request may carry (more: 400).
    public var maxParameters: Int
    /// Requests computing at once, at most; beyond: 503 with `Retry-After` (nil: no limit but the
    /// pool's queue).
    public var maxConcurrentRequests: Int?
    /// Updates buffered per SSE client before it is sent a resync instead.
    public var streamBuffer: Int
    /// What paces SSE heartbeats (a comment line that keeps proxies from closing idle streams).
    public var heartbeat: Heartbeat
    /// How long a connection may send and receive nothing before it is closed: bounds slow or
    /// stalled clients (a slowloris). Longer than the SSE heartbeat, which keeps streams busy.
    public var idleTimeout: Duration = .seconds(30)
    /// Bytes of response bodies (Arrow IPC, JSON and CSV encodings of results) kept, so that a
    /// cached result is encoded and copied once rather than per request (results larger than a
    /// sixteenth of it are streamed instead).
    public var encodedCacheBytes: Int = 64 << 20
    /// How long a read carrying a causal token (`X-Min-Position`, `?after=`) waits for this node to
    /// apply the log through it before answering 503 with `Retry-After`.
    public var causalReadTimeout: Duration = .seconds(5)
    /// Checks each posted event before it is appended: the problem, naming the field
    /// (`payload.amount: an integer … is required`), answers 400; nil accepts it. Called with the
    /// event's type and payload (JSON text). Default: every event is accepted.
    public var eventCheck: (@Sendable (_ type: String, _ payload: String) -> String?)?
    /// `POST /api/admin/reload` (admin token): reloads the deployment's config and answers what
    /// changed (200), or throws ``ReloadRefused`` (422, the old config keeps serving). Nil: 404.
    public var reload: (@Sendable () async throws -> [String: any Sendable])?
    /// Where `GET /metrics` reads from (the executable bootstraps it; nil: 404).
    public var metricsRegistry: PrometheusCollectorRegistry?
    /// The server's log.
    public var logger: Logger

    /// - Parameters:
    ///   - host: default `127.0.0.1`
    ///   - port: default 8080
    ///   - adminToken: default none
    ///   - tenancy: default `.none` (scoped queries answer 401)
    ///   - bypassRequiresAdmin: default false
    ///   - maxEventBodyBytes: default 1 MiB
    ///   - maxParameters: default 64
    ///   - maxConcurrentRequests: default 256
    ///   - streamBuffer: default 256
    ///   - heartbeat: default every 15 s
    ///   - metricsRegistry: default none
    ///   - logger: default label `swift-analytics-cache.server`
    public init(
        host: String = "127.0.0.1", port: Int = 8080, adminToken: String? = nil, tenancy: Tenancy = .none,
        bypassRequiresAdmin: Bool = false, maxEventBodyBytes: Int = 1 << 20, maxParameters: Int = 64,
        maxConcurrentRequests: Int? = 256, streamBuffer: Int = 256, heartbeat: Heartbeat = .every(.seconds(15)),
        metricsRegistry: PrometheusCollectorRegistry? = nil, logger: Logger = Logger(label: "swift-analytics-cache.server")
    ) {
        self.host = host
        self.port = port
        self.adminToken = adminToken
        self.tenancy = tenancy
        self.bypassRequiresAdmin = bypassRequiresAdmin
        self.maxEventBodyBytes = maxEventBodyBytes
        self.maxParameters = maxParameters
        self.maxConcurrentRequests = maxConcurrentRequests
        self.streamBuffer = streamBuffer
        self.heartbeat = heartbeat
        self.metricsRegistry = metricsRegistry
        self.logger = logger
    }
}

/// Where the scope value (tenant or user) of a request comes from.
public enum Tenancy: Sendable {
    /// Nowhere: scoped queries answer 401.
    case none
    /// A header set by a trusted proxy (e.g. `X-Tenant`); the same value is the tenant and the user.
    case header(String)
    /// A claim of a JWT in `Authorization: Bearer …`, verified with these keys (HS256 or ES256).
    case jwt(claim: String, keys: JWTVerifier)
}

/// What paces SSE heartbeats.
public enum Heartbeat: Sendable {
    /// A comment line every interval.
    case every(Duration)
    /// Only when the trigger beats (tests).
    case manual(HeartbeatTrigger)
}

/// Beats every open SSE stream's heartbeat at once, when told (a test's clock).
public final class HeartbeatTrigger: Sendable {
    private let listeners = Mutex<[UInt64: @Sendable () -> Void]>([:])
    private let nextID = Atomic<UInt64>(0)

    /// Creates a trigger.
    public init() {}

    /// Streams listening now.
    public var listenerCount: Int { listeners.withLock { $0.count } }

    /// Sends one heartbeat on every open stream.
    public func beat() {
        for listener in listeners.withLock({ Array($0.values) }) { listener() }
    }

    func listen(_ body: @escaping @Sendable () -> Void) -> UInt64 {
        let id = nextID.add(1, ordering: .relaxed).newValue
        listeners.withLock { $0[id] = body }
        return id
    }

    func stopListening(_ id: UInt64) { _ = listeners.withLock { $0.removeValue(forKey: id) } }
}

/// A reload that did not happen: the new config is invalid (or cannot be applied), and the old one
/// keeps serving.
public struct ReloadRefused: Error, Sendable, CustomStringConvertible {
    /// Every problem found.
    public var problems: [String]
    /// True when part of the new config was applied before the failure (the answer says so
    /// instead of "the previous one keeps serving").
    public var partlyApplied: Bool

    /// Creates the refusal.
    /// - Parameters:
    ///   - problems: what is wrong
    ///   - partlyApplied: whether part of it was applied
    public init(problems: [String], partlyApplied: Bool = false) {
        self.problems = problems
        self.partlyApplied = partlyApplied
    }

    public var description: String { (partlyApplied ? "the config was partly reloaded: " : "the config was not reloaded: ") + problems.joined(separator: "; ") }
}

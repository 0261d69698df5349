import DiskCache
import DuckDBClient
import EventLogCore
import EventProjection
import Foundation
import Logging
import Metrics
import MemoryCache
import Synchronization

/// The layered analytics cache: registered DuckDB queries served from L1 (memory), then L2 (disk),
/// then DuckDB, kept fresh by the event log.
///
/// **Freshness (one node).** ``append(_:to:expectedVersion:)`` returns only after the events are
/// committed, the projector has applied them to DuckDB, and every dependent L1 and L2 entry is
/// invalidated. A lookup that starts after that return reflects the events: it never returns an
/// older entry, never joins a load that started before the invalidation, and no such load stores
/// its result (L1 refuses a load its invalidation superseded; L2 stores only if no invalidation
/// committed since the load read the L2 generation). Events appended by other processes reach the
/// projector through the log's watcher and are invalidated the same way, within that interval.
///
/// Run it as a `Service` (``run()``): it follows the projector's commit notifications and
/// invalidates what each batch made stale.
public final class AnalyticsCache: Sendable {
    /// What the cache is made of.
    public struct Configuration: Sendable {
        /// The read-only pool that runs served queries.
        public var pool: DuckDBPool
        /// The event log (appends go through ``AnalyticsCache/append(_:to:expectedVersion:)``).
        public var log: any EventLog
        /// The projector applying the log to the pool's database.
        public var projector: Projector
        /// The projector's projections: which tables each event type writes.
        public var projections: [Projection]
        /// The L2 layer, if any.
        public var disk: DiskCache?
        /// L1's budget in bytes of Arrow results.
        public var memoryBytes: Int
        /// Part of every key: results of another application version (or other result settings)
        /// are never served.
        public var dataVersion: String
        /// How long an append waits for the projector and the invalidation.
        public var appendTimeout: Duration
        /// Logs of computations and invalidations.
        public var logger: Logger
        /// The clock of L1 (tests inject one).
        public var clock: any CacheClock
        /// A result read within this window before it is invalidated is hot: it is recomputed in
        /// the background and pushed on the bus (nil: no proactive refresh). Results a bus
        /// subscriber watches by key are hot too.
        public var refreshWindow: Duration?
        /// How long a refresh waits after the invalidation that queued it, so that a burst of
        /// events costs one recomputation.
        public var refreshDelay: Duration
        /// Refreshes run at once, at most.
        public var refreshConcurrency: Int
        /// The longest a queued refresh keeps waiting for a burst of invalidations to end.
        public var refreshMaxDelay: Duration = .seconds(1)
        /// Where metrics go (nil: the bootstrapped `MetricsSystem`).
        public var metricsFactory: (any MetricsFactory)?
        /// The version of the data outside the event log (files, remote datasets, DuckLake
        /// snapshots — e.g. RemoteData's probes, combined): part of every key. Checked every
        /// ``dataVersionInterval`` by ``AnalyticsCache/run()`` and by
        /// ``AnalyticsCache/checkDataVersion()``; a change makes every older entry unreachable and
        /// removes it. Nil: no such data.
        public var dataVersionProbe: (@Sendable () async throws -> String)?
        /// Named datasets outside the event log (Parquet/CSV files, remote datasets, DuckLake
        /// catalogs), each with a probe answering its current version (e.g. RemoteData's probes
        /// through ``dataVersion(of:)``). A query's keys carry the versions of the datasets it
        /// declares (``QueryDefinition/datasets``; all of them when it declares none); when one
        /// changes, the results computed from it become unreachable and are removed, others stay.
        public var datasets: [String: @Sendable () async throws -> String] = [:]
        /// How often the probes (``dataVersionProbe`` and ``datasets``) run.
        public var dataVersionInterval: Duration = .seconds(10)
        /// Wall-clock time, for ages and calendar-window expiry (tests inject one that matches a
        /// `ManualCacheClock`'s `wallClock`).
        public var wallClock: @Sendable () -> Date = { Date() }

        /// - Parameters:
        ///   - pool: the read-only serving pool
        ///   - log: the event log
        ///   - projector: the projector applying it
        ///   - projections: the projector's projections
        ///   - disk: the L2 layer (nil: none)
        ///   - memoryBytes: L1's budget (default 256 MiB)
        ///   - dataVersion: application version and result settings (default "1")
        ///   - appendTimeout: default 30 s
        ///   - logger: default label `swift-analytics-cache.cache`
        ///   - clock: L1's clock (default the system's)
        ///   - refreshWindow: how recently read a result must be to be refreshed (default 60 s)
        ///   - refreshDelay: how long a refresh waits to coalesce a burst (default 100 ms)
        ///   - refreshConcurrency: refreshes at once (default 2)
        public init(
            pool: DuckDBPool, log: any EventLog, projector: Projector, projections: [Projection], disk: DiskCache? = nil,
            memoryBytes: Int = 256 << 20, dataVersion: String = "1", appendTimeout: Duration = .seconds(30),
            logger: Logger = Logger(label: "swift-analytics-cache.cache"), clock: any CacheClock = ContinuousCacheClock(),
            refreshWindow: Duration? = .seconds(60), refreshDelay: Duration = .milliseconds(100), refreshConcurrency: Int = 2
        ) {
            self.refreshWindow = refreshWindow
            self.refreshDelay = refreshDelay
            self.refreshConcurrency = max(1, refreshConcurrency)
            self.pool = pool
            self.log = log
            self.projector = projector
            self.projections = projections
            self.disk = disk
            self.memoryBytes = memoryBytes
            self.dataVersion = dataVersion
            self.appendTimeout = appendTimeout
            self.logger = logger
            self.clock = clock
        }
    }

    let configuration: Configuration
    let l1: MemoryCache<String, CachedResult>
    let queries = Mutex<[String: RegisteredQuery]>([:])
    /// Tables each projection writes, derived once.
    let projectionTables = Mutex<[(tables: Set<String>?, eventTypes: Set<String>)]?>(nil)
    /// The general forms of the registered expressions with wildcards: an event's key is matched
    /// against them (entries carry their expression's general form as a tag; expressions without
    /// wildcards are found by their exact tag). Filled at registration, never on the request path.
    let wildcardExpressions = Mutex<Set<KeyExpression>>([])
    /// The log position through which invalidation is done.
    let invalidated = PositionTracker()
    /// Subscribed at creation, so no batch committed after it is missed.
    let commits: AsyncThrowingStream<ProjectedBatch, any Error>
    /// The projector's applied position just before that subscription (nil: not started): every
    /// batch through it was published before, so nothing of this cache can be stale for it.
    let initialApplied: Int64?
    /// Set when an L2 invalidation (or its recovery) failed: L2 is no longer read (it may hold
    /// stale entries).
    let diskDistrusted = Atomic<Bool>(false)
    /// The one reconciliation of L2 with the projector's checkpoint (see ``recoverDiskCache()``).
    let diskRecovery = Mutex<Task<Bool, Never>?>(nil)
    /// Test-only: the broken fence the stale-read checker must catch (appends return without
    /// waiting for the projector and the invalidation).
    let skipsFenceForTesting = Atomic<Bool>(false)
    /// Test-only failure injection: runs inside a load after the computation, before either layer
    /// stores the result (to force an invalidation into that window).
    let beforeStoringHook = Mutex<(@Sendable () async -> Void)?>(nil)
    /// Pushes changed and refreshed results to dashboards.
    public let bus = AnalyticsBus()
    /// The event log appends go to.
    public var eventLog: any EventLog { configuration.log }
    /// The projector applying the log to DuckDB.
    public var projector: Projector { configuration.projector }
    /// What is known of each key read through the cache (to refresh it and describe updates).
    let entries = EntryDirectory()
    let refreshPlan = Mutex(RefreshPlan())
    let refreshQueue: AsyncStream<String>
    let refreshEnqueue: AsyncStream<String>.Continuation
    let counters = Mutex(AnalyticsCacheStatistics())
    let metrics: AnalyticsMetrics
    /// The probed data versions (nil until the first probe).
    let probedVersion = Mutex<ProbedVersions?>(nil)
    /// Application version, result settings, the probed data version and the versions of the
    /// query's datasets: what its keys carry.
    func dataVersion(for query: RegisteredQuery) async throws -> String {
        if probedVersion.withLock({ $0 }) == nil {
            // Never serve under a version not yet probed (a previous process's entries may be
            // older than the data): the first lookup probes.
            try await checkDataVersion()
        }
        return probedVersionForKeys(query)
    }
    /// DuckDB's settings that change answers (time zone, collation, …), as part of every key.
    let settingsVersion: String

    /// Creates the cache (nothing runs until ``run()``).
    /// - Parameter configuration: its parts
    public init(configuration: Configuration) {
        self.configuration = configuration
        metrics = AnalyticsMetrics(factory: configuration.metricsFactory)
        // Length-prefixed: a setting's value (a search path, say) may contain any separator.
        settingsVersion = configuration.pool.database.resultSettings.sorted { $0.key < $1.key }
            .map { "\($0.key.utf8.count):\($0.key)\($0.value.utf8.count):\($0.value)" }.joined()
        let entries = self.entries
        l1 = MemoryCache(configuration: MemoryCacheConfiguration(
            bound: .weight(max(0, configuration.memoryBytes), weigher: { _, value in value.arrow.count }),
            removalListener: { key, _, cause in
                if cause == .size || cause == .expired { entries.forget(key) }
            },
            clock: configuration.clock, name: "analytics-l1"))
        (refreshQueue, refreshEnqueue) = AsyncStream.makeStream(of: String.self)
        initialApplied = configuration.projector.appliedPosition
        commits = configuration.projector.commits(bufferLimit: 4096)
    }

    // MARK: Registration

    /// Registers a query: checks that it is one SELECT, finds the tables it reads and derives the
    /// event types it depends on.
    /// - Parameter definition: the query
    /// - Throws: ``AnalyticsCacheError`` (`.invalidDefinition`, `.duplicateQuery`), or DuckDB's
    ///   error when the SQL does not prepare
    public func register(_ definition: QueryDefinition) async throws {
        let registered = try await registration(for: definition)
        // Wildcard expressions are matched against every event's key; known from here on, so
        // entries a previous process stored under them are found after a restart too.
        let wild = registered.expressions.filter(\.hasWildcards).map(\.generalised)
        if !wild.isEmpty { wildcardExpressions.withLock { $0.formUnion(wild) } }
        try queries.withLock { queries in
            guard queries[definition.id] == nil else {
                throw AnalyticsCacheError(.duplicateQuery, "query \(definition.id) is already registered")
            }
            queries[definition.id] = registered
        }
        configuration.logger.info("query registered", metadata: [
            "query": "\(definition.id)", "tables": "\(registered.tables)", "event_types": "\(registered.eventTypes.sorted())",
            "expressions": "\(registered.expressions.map(\.description))", "depends_on_everything": "\(registered.dependsOnEverything)",
        ])
    }

    /// A query checked and its dependencies derived, not registered yet.
    func registration(for definition: QueryDefinition) async throws -> RegisteredQuery {
        guard !definition.id.isEmpty, definition.id.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw AnalyticsCacheError(.invalidDefinition, "query id '\(definition.id)' must be letters, digits, '-', '_' or '.'")
        }
        let pool = configuration.pool
        guard try await pool.statementType(of: definition.sql) == .select else {
            throw AnalyticsCacheError(.invalidDefinition, "query \(definition.id) is not a single SELECT statement")
        }
        // DuckDB 1.4 cannot list the tables of some statements (it fails to bind views there):
        // then nothing is known, and every event invalidates the query's results.
        let tables: [String]
        var listed = true
        do {
            tables = try await pool.tableNames(in: definition.sql)
        } catch {
            configuration.logger.warning("cannot derive the tables of a query; every event will invalidate it", metadata: [
                "query": "\(definition.id)", "error": "\(error)",
            ])
            tables = []
            listed = false
        }
        let written = try await projectionWrites()
        var eventTypes = Set<String>()
        for projection in written where projection.tables.map({ !$0.isDisjoint(with: tables) }) ?? true {
            eventTypes.formUnion(projection.eventTypes)  // unknown tables: conservatively a dependency
        }
        var expressions: [KeyExpression] = []
        let explicit: [String]
        switch definition.dependencies {
        case .derived: explicit = []
        case .only(let list): explicit = list; eventTypes = []
        case .adding(let list): explicit = list
        }
        for text in explicit {
            let expression: KeyExpression
            do { expression = try KeyExpression(text) } catch {
                throw AnalyticsCacheError(.invalidDefinition, "query \(definition.id): \(error)")
            }
            for name in expression.parameterNames where !definition.parameters.contains(where: { $0.name == name }) {
                throw AnalyticsCacheError(.invalidDefinition, "query \(definition.id): key expression \(text) names no parameter '\(name)'")
            }
            expressions.append(expression)
        }
        if let range = definition.eventTime {
            for name in [range.from, range.to] {
                guard let spec = definition.parameters.first(where: { $0.name == name }), spec.kind == .date || spec.kind == .integer else {
                    throw AnalyticsCacheError(.invalidDefinition,
                        "query \(definition.id): event-time parameter '\(name)' must be a declared date or integer (µs) parameter")
                }
            }
        }
        if case .untilParameter(let name) = definition.expiry,
           !definition.parameters.contains(where: { $0.name == name && ($0.kind == .date || $0.kind == .integer) }) {
            throw AnalyticsCacheError(.invalidDefinition, "query \(definition.id): expiry parameter '\(name)' must be a declared date or integer parameter")
        }
        if case .window(let window) = definition.expiry, TimeZone(identifier: window.timeZone) == nil {
            throw AnalyticsCacheError(.invalidDefinition, "query \(definition.id): unknown time zone '\(window.timeZone)'")
        }
        // Nothing known (no table, no expression): every event invalidates.
        let everything: Bool = if case .only = definition.dependencies { false } else { tables.isEmpty || !listed }
        if let unknown = definition.datasets?.first(where: { configuration.datasets[$0] == nil }) {
            throw AnalyticsCacheError(.invalidDefinition, "query \(definition.id): no dataset '\(unknown)' is configured")
        }
        let version = RegisteredQuery.version(of: definition)
        return RegisteredQuery(
            definition: definition, tables: tables, eventTypes: eventTypes, expressions: expressions, dependsOnEverything: everything,
            datasets: Set(definition.datasets ?? Array(configuration.datasets.keys)).sorted(),
            version: version, keyPrefix: CacheKey.prefix(query: definition.id + "#" + version))
    }

    /// The event types a registered query depends on (derived and narrowed), for inspection.
    /// - Parameter id: the query's id
    /// - Returns: its event types, or nil when no such query is registered
    public func dependencies(of id: String) -> (tables: [String], eventTypes: Set<String>, everything: Bool)? {
        queries.withLock { $0[id] }.map { ($0.tables, $0.eventTypes, $0.dependsOnEverything) }
    }

    /// The tables each projection writes (nil: unknown), asked once of the projector.
    func projectionWrites() async throws -> [(tables: Set<String>?, eventTypes: Set<String>)] {
        if let known = projectionTables.withLock({ $0 }) { return known }
        let result = try await configuration.projector.writtenTables()
        for (tables, types) in result where tables == nil {
            configuration.logger.warning("cannot tell which tables a projection writes; its events invalidate every query", metadata: [
                "event_types": "\(types.sorted())",
            ])
        }
        projectionTables.withLock { $0 = result }
        return result
    }
}

import AnalyticsCache
import DuckDBClient
import EventProjection
import Foundation
import Logging
import Synchronization

/// A deployment running from a config file: the event schemas posted events are checked against,
/// and ``reload()``, which applies an edited file without stopping — queries swapped (changed and
/// removed ones drop their entries), changed projections rebuilt beside the live tables and
/// swapped in (``EventProjection/Projector/rebuild(to:tables:progress:)``), schemas replaced.
///
/// An invalid file is refused whole and the running config keeps serving. Settings that only a
/// restart can change (`timeZone`, `datasets`) are reported, not applied.
public final class LiveDeployment: Sendable {
    /// What a reload did.
    public struct Report: Sendable, Equatable {
        /// The queries' changes.
        public var queries: AnalyticsCache.QueryChanges
        /// Whether the projections changed and were rebuilt.
        public var projectionsRebuilt: Bool
        /// The projector's checkpoint at the swap (when rebuilt).
        public var rebuiltThrough: Int64?
        /// Changed settings that take effect on the next start.
        public var restartRequired: [String]
        /// The check's warnings about the new config.
        public var warnings: [String]

        /// As JSON for `POST /api/admin/reload`.
        public var json: [String: any Sendable] {
            var object: [String: any Sendable] = [
                "reloaded": true, "added": queries.added, "changed": queries.changed, "removed": queries.removed,
                "projectionsRebuilt": projectionsRebuilt, "restartRequired": restartRequired, "warnings": warnings,
            ]
            if let rebuiltThrough { object["rebuiltThrough"] = rebuiltThrough }
            return object
        }
    }

    let url: URL
    let cache: AnalyticsCache
    let writer: DuckDBWriter
    let logger: Logger
    let current: Mutex<DeploymentConfig>
    /// The config a reload is applying: meanwhile, posted events must suit both schemas (the old
    /// projections or the new ones may apply them).
    let pending = Mutex<DeploymentConfig?>(nil)
    /// One reload at a time: a second one waits for the first.
    let reloading = ReloadGate()

    /// Creates the running deployment.
    /// - Parameters:
    ///   - url: the config file (read again by each reload)
    ///   - config: the config it started with (checked)
    ///   - cache: the cache serving it (its projector is the one rebuilt)
    ///   - writer: the database's writer (records which config built the tables)
    ///   - logger: where reloads are reported
    public init(
        url: URL, config: DeploymentConfig, cache: AnalyticsCache, writer: DuckDBWriter,
        logger: Logger = Logger(label: "swift-analytics-cache.deployment")
    ) {
        self.url = url
        self.cache = cache
        self.writer = writer
        self.logger = logger
        current = Mutex(config)
    }

    /// The config serving now.
    public var config: DeploymentConfig { current.withLock { $0 } }

    /// The first problem of a posted event under the current schemas (nil: accepted).
    public func eventProblem(type: String, payload: String) -> String? {
        if let problem = current.withLock({ $0 }).eventProblem(type: type, payload: payload) { return problem }
        return pending.withLock { $0 }?.eventProblem(type: type, payload: payload).map { $0 + " (required by the config being loaded)" }
    }

    /// Reads the file again, checks it, and applies it (see the type's description).
    /// - Parameter progress: called with each rebuilt batch's progress
    /// - Returns: what changed
    /// - Throws: ``ConfigRefused`` listing every problem (nothing changed), or the error of a step
    ///   that failed (the projections and queries then stay as they were, unless the failure came
    ///   after the projections' swap: the report of the log says which)
    @discardableResult
    public func reload(progress: @escaping @Sendable (Projector.RebuildProgress) -> Void = { _ in }) async throws -> Report {
        await reloading.enter()
        defer { reloading.leave() }
        let new = DeploymentConfig.load(contentsOf: url)
        // Queries over another database (a config without its own domain) are checked by the
        // cache's registration below, against the live database.
        let ownDomain = !new.projections.isEmpty || !new.events.isEmpty || !new.datasets.isEmpty
        // DuckDB work (opening a scratch database, sniffing CSV files) off the cooperative pool.
        var check = await Self.onOwnThread { ConfigCheck.run(new, queries: ownDomain) }
        let old = config
        var restart: [String] = []
        if new.timeZone != old.timeZone { restart.append("timeZone") }
        if new.datasets != old.datasets {
            restart.append("datasets")
            // Datasets change on restart only: a query of the new file reading one the running
            // database does not have cannot be served before that.
            let running = Set(old.datasets.map(\.name))
            for (index, query) in new.queries.enumerated() {
                if let missing = query.datasets?.first(where: { !running.contains($0) }) {
                    check.problems.append(ConfigProblem(place: "queries[\(index)].datasets", line: new.line(of: "queries[\(index)]"),
                        message: "dataset '\(missing)' is new: datasets change when the server restarts"))
                }
            }
        }
        guard check.isValid else {
            logger.error("config reload refused; the previous config keeps serving", metadata: ["problems": "\(check.problems.map(\.description))"])
            throw ConfigRefused(problems: check.problems)
        }
        // A payload type bound differently changes what the statements write, too.
        let rebuild = new.projections != old.projections || new.events != old.events
        var checkpoint: Int64?
        let changes: AnalyticsCache.QueryChanges
        pending.withLock { $0 = new }
        defer { pending.withLock { $0 = nil } }
        if rebuild {
            let projector = cache.projector
            let projections = new.projectorProjections
            let newWrites = projections.map { (tables: $0.tables, eventTypes: $0.eventTypes) }
            let oldWrites = try await cache.currentProjectionWrites()
            // While the tables are rebuilt and swapped, every query depends on what either the old
            // or the new projections write, and every entry carries those tags (the entries stored
            // before, tagged by the old projections alone, go): invalidation is conservative for both.
            try await cache.reconfigure(queries: old.queries, projectionWrites: oldWrites + newWrites)
            try await cache.invalidate(.everything)
            logger.info("projections changed: rebuilding from the log beside the live tables")
            checkpoint = try await projector.rebuild(to: projections, tables: Set(new.projectedTables), progress: progress)
            // From here on the new tables serve: whatever fails next, the schemas follow them and
            // every entry of the old tables goes before the digest records them.
            current.withLock { $0 = new }
            do {
                changes = try await cache.reconfigure(queries: new.queries, projectionWrites: newWrites)
            } catch {
                try await cache.invalidate(.everything)
                try await ProjectionState.store(new.projectionDigest, projector: projector.name, writer: writer)
                logger.error("projections rebuilt, but the new queries could not be registered; the previous queries serve", metadata: ["error": "\(error)"])
                throw ReloadPartlyApplied(reason: "the projections were rebuilt and swapped in, but the new queries could not be registered (the previous ones serve): \(error)")
            }
            // The tables' contents changed under every query reading them.
            try await cache.invalidate(.everything)
            try await ProjectionState.store(new.projectionDigest, projector: projector.name, writer: writer)
        } else {
            changes = try await cache.reconfigure(queries: new.queries)
        }
        current.withLock { $0 = new }
        let report = Report(queries: changes, projectionsRebuilt: rebuild, rebuiltThrough: checkpoint, restartRequired: restart, warnings: check.warnings)
        logger.info("config reloaded", metadata: [
            "added": "\(changes.added)", "changed": "\(changes.changed)", "removed": "\(changes.removed)",
            "projections_rebuilt": "\(rebuild)", "restart_required": "\(restart)",
        ])
        return report
    }
}

/// A reload that rebuilt the projections but could not register the new queries.
public struct ReloadPartlyApplied: Error, Sendable, CustomStringConvertible {
    /// What happened.
    public var reason: String
    public var description: String { reason }
}

extension LiveDeployment {
    /// Runs blocking work on a thread of its own and awaits it.
    static func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: body()) }.start()
        }
    }
}

/// A config that was not applied: every problem, with its place and line.
public struct ConfigRefused: Error, Sendable, CustomStringConvertible {
    /// The problems.
    public var problems: [ConfigProblem]
    public var description: String { "the config is not valid:\n" + problems.map { "  " + $0.description }.joined(separator: "\n") }
}

/// A FIFO gate letting one task in at a time (reloads queue behind each other).
final class ReloadGate: Sendable {
    let state = Mutex<(busy: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func enter() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.busy { state.waiters.append(continuation); return false }
                state.busy = true
                return true
            }
            if now { continuation.resume() }
        }
    }

    func leave() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty { state.busy = false; return nil }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}

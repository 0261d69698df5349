import AnalyticsCache
import DiskCache
import DuckDBClient
import EventProjection
import EventStore
import Foundation
import Logging
import ResultFormat
import MemoryCache
import Metrics
import ServiceLifecycle
import TestSupport

/// A complete cache over real parts: a SQLite log, a DuckDB file with a projector writing it, a
/// read-only pool serving it, an LMDB disk cache.
public final class Harness: Sendable {
    public let root: URL
    public let log: SQLiteEventStore
    public let database: Database
    public let writer: DuckDBWriter
    public let pool: DuckDBPool
    public let projector: Projector
    public let disk: DiskCache?
    public let cache: AnalyticsCache

    /// Orders: `{"tenant": …, "customer": …, "amount": …}` appended to `Customer/<customer>`.
    public static let orders = Projection(
        name: "orders", eventTypes: ["OrderPlaced"],
        setupSQL: """
            CREATE TABLE IF NOT EXISTS orders (tenant VARCHAR, customer VARCHAR, amount BIGINT, occurred_at BIGINT);
            CREATE TABLE IF NOT EXISTS regions (name VARCHAR);
            """,
        apply: .appender(table: "orders") { event in
            let object = try JSONSerialization.jsonObject(with: Data(event.payload.utf8)) as? [String: Any] ?? [:]
            return [.string(object["tenant"] as? String ?? ""), .string(object["customer"] as? String ?? ""),
                    .int(Int64(object["amount"] as? Int ?? 0)), .int(eventTime(event))]
        })

    /// An order's event time: its payload's `at` (µs since the epoch), 0 when absent.
    @Sendable public static func eventTime(_ event: RecordedEvent) -> Int64 {
        let object = (try? JSONSerialization.jsonObject(with: Data(event.payload.utf8))) as? [String: Any]
        return (object?["at"] as? NSNumber)?.int64Value ?? 0
    }

    public static func order(tenant: String, customer: String = "c", amount: Int = 1, at: Int64 = 0) -> NewEvent {
        NewEvent(type: "OrderPlaced", payload: #"{"tenant":"\#(tenant)","customer":"\#(customer)","amount":\#(amount),"at":\#(at)}"#)
    }

    public init(
        label: String = #function, disk withDisk: Bool = true, root existing: URL? = nil, memoryBytes: Int = 64 << 20,
        clock: ManualCacheClock? = nil, metricsFactory: (any MetricsFactory)? = nil,
        dataVersionProbe: (@Sendable () async throws -> String)? = nil, projections: [Projection] = [Harness.orders],
        eventTime: @escaping @Sendable (RecordedEvent) -> Int64 = Harness.eventTime,
        refreshWindow: Duration? = .seconds(60), refreshDelay: Duration = .milliseconds(100),
        datasets: [String: @Sendable () async throws -> String] = [:], readableDirectory: String? = nil, timeZone: String? = "UTC",
        logLevel: Logger.Level = Harness.logLevel
    ) async throws {
        root = try existing ?? TestSupport.temporaryDirectory(label)
        log = try SQLiteEventStore(path: root.appendingPathComponent("events.sqlite").path)
        database = try Database(
            path: root.appendingPathComponent("data.duckdb").path,
            configuration: .init(externalAccess: readableDirectory.map { .only([$0.hasSuffix("/") ? $0 : $0 + "/"]) } ?? .unrestricted,
                                 timeZone: timeZone))
        writer = try DuckDBWriter(database: database)
        projector = Projector(name: "orders", log: log, writer: writer, projections: projections, batchSize: 256, eventTime: eventTime)
        try await projector.setUp()
        pool = try DuckDBPool(database: database, configuration: .init(connections: 2, readOnly: true))
        disk = withDisk ? try DiskCache(configuration: .init(path: root.appendingPathComponent("l2").path, mapSize: 64 << 20)) : nil
        var configuration = AnalyticsCache.Configuration(
            pool: pool, log: log, projector: projector, projections: projections, disk: disk, memoryBytes: memoryBytes,
            refreshWindow: refreshWindow, refreshDelay: refreshDelay)
        configuration.metricsFactory = metricsFactory
        configuration.appendTimeout = .seconds(120)  // a bound against a hang: a loaded test run is slow, not stale
        configuration.logger.logLevel = logLevel
        configuration.dataVersionProbe = dataVersionProbe
        configuration.datasets = datasets
        if let clock {
            configuration.clock = clock
            configuration.wallClock = { clock.wallClock }
        }
        cache = AnalyticsCache(configuration: configuration)
    }

    /// The cache's log level in tests: warnings and errors only, unless `TEST_LOG_LEVEL` (e.g.
    /// `debug`) says otherwise — a test looping over thousands of invalidations must not write
    /// megabytes of info lines into the test command's output.
    public static let logLevel: Logger.Level = ProcessInfo.processInfo.environment["TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning

    /// Runs the projector and the cache around `body`, then stops them.
    public func running<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await self.projector.run(); return nil }
            group.addTask { try await self.cache.run(); return nil }
            let value = try await body()
            group.cancelAll()
            while try await group.next() != nil {}
            return value
        }
    }

    public func shutdown() async {
        await pool.shutdown()
        await writer.shutdown()
    }

    /// The integer in column `name` of a result's first row.
    public static func integer(_ result: AnalyticsResult, _ name: String = "n") throws -> Int64 {
        let archive = try ArchivedResult(bytes: result.arrow)
        guard let column = archive.column(named: name), case .int(let value) = try column.value(at: 0) else {
            throw HarnessError(description: "no integer column \(name)")
        }
        return value
    }
}

public struct HarnessError: Error, CustomStringConvertible {
    public var description: String
    public init(description: String) { self.description = description }
}

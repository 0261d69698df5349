import EventLogCore
import Foundation
import Logging
import NIOCore
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The event log in PostgreSQL, shared by several nodes (postgres-nio's connection pool).
///
/// The same guarantees as the SQLite log, across processes and machines:
/// - **Atomic, optimistic appends.** An append is one transaction: the aggregate's version is
///   checked and every event inserted, or nothing is (a unique index on aggregate and version backs
///   the check).
/// - **Gap-free positions in commit order.** Every append first takes one transaction-level
///   advisory lock (``Configuration/appendLockKey``), held until it commits or rolls back, and then
///   numbers its events from the last committed position. Appends from every node are therefore
///   serialised — their throughput is that of one append's round trips (about six) at a time, see
///   docs/benchmarks.md — and a reader never sees position n + 1 without n.
/// - **Ordered subscriptions.** ``subscribe(from:batchSize:)`` reads the table in position order;
///   it is woken by this process's appends and by ``run()``'s `LISTEN` on
///   ``Configuration/channel``, which every append `NOTIFY`s in the same transaction (PostgreSQL
///   delivers notifications at commit, in commit order). A notification only wakes readers: what
///   they read comes from the table, so a lost notification (a dropped listening connection) delays
///   a subscriber until the listener reconnects or the next poll (``Configuration/pollInterval``)
///   — it never loses an event.
/// - **Identity.** A random id drawn when the schema is created (``identity()``).
/// - **Versioned schema.** ``migrate()`` applies the numbered migrations not applied yet, under an
///   advisory lock so nodes starting together do not race, and refuses a schema newer than itself.
public final class PostgresEventStore: EventLog, Service {
    /// Settings of the store.
    public struct Configuration: Sendable {
        /// Where and how to connect (host, port, user, password, database, TLS), and the pool's size
        /// (at least 2: the listener keeps one connection).
        public var client: PostgresClient.Configuration
        /// The channel every append notifies (a PostgreSQL identifier).
        public var channel: String
        /// The advisory-lock key appends serialise on.
        public var appendLockKey: Int64
        /// The largest payload or metadata accepted, in UTF-8 bytes.
        public var maxPayloadBytes: Int
        /// Events read (and held) at once by each subscription.
        public var subscriptionBatchSize: Int
        /// Bytes of event text read (and held) at once by each subscription (at least one event).
        public var subscriptionBatchBytes: Int
        /// How often subscribers are woken even without a notification: the bound on how late a
        /// subscriber can be when notifications are lost (a listener that is reconnecting).
        public var pollInterval: Duration
        /// The longest an append waits for a connection (the server unreachable, the pool busy)
        /// before failing with `.unavailable`; nothing is written then.
        public var connectionTimeout: Duration = .seconds(10)
        /// The longest an append waits for another append's lock (a stalled or partitioned node
        /// holding it) before failing with `.busy`; nothing is written then.
        public var lockTimeout: Duration = .seconds(5)
        /// The first pause before listening again after the listening connection failed (doubled
        /// after each failure, up to ``maxReconnectDelay``).
        public var reconnectDelay: Duration = .milliseconds(50)
        /// The longest pause between attempts to listen again after the listening connection failed.
        public var maxReconnectDelay: Duration

        /// Creates settings.
        /// - Parameters:
        ///   - client: postgres-nio's client settings (pool size in its `options`)
        ///   - channel: default `analytics_events`
        ///   - appendLockKey: default 0x616E_616C_7974_6963 ("analytic")
        ///   - maxPayloadBytes: default 1 MiB
        ///   - subscriptionBatchSize: default 512
        ///   - subscriptionBatchBytes: default 4 MiB
        ///   - pollInterval: default 1 s
        ///   - maxReconnectDelay: default 2 s
        public init(
            client: PostgresClient.Configuration, channel: String = "analytics_events", appendLockKey: Int64 = 0x616E_616C_7974_6963,
            maxPayloadBytes: Int = 1 << 20, subscriptionBatchSize: Int = 512, subscriptionBatchBytes: Int = 4 << 20,
            pollInterval: Duration = .seconds(1), maxReconnectDelay: Duration = .seconds(2)
        ) {
            self.client = client
            self.channel = channel
            self.appendLockKey = appendLockKey
            self.maxPayloadBytes = maxPayloadBytes
            self.subscriptionBatchSize = subscriptionBatchSize
            self.subscriptionBatchBytes = subscriptionBatchBytes
            self.pollInterval = pollInterval
            self.maxReconnectDelay = maxReconnectDelay
        }
    }

    let configuration: Configuration
    let client: PostgresClient
    let logger: Logger
    /// Woken after every commit in this process, by notifications of other nodes' commits, and by
    /// the poll.
    public let changes = ChangeSignal()
    /// Counts the listener's (re)connections: tests and metrics watch it.
    let listens = ListenerState()
    /// The log's identity, once read.
    let identityCache = Mutex<String?>(nil)

    /// Creates the store; nothing connects until ``run()`` (or ``withStore(_:logger:_:)``) runs.
    /// - Parameters:
    ///   - configuration: where and how
    ///   - logger: where connection trouble is reported
    public init(configuration: Configuration, logger: Logger = Logger(label: "swift-analytics-cache.postgres-log")) throws {
        guard Self.isIdentifier(configuration.channel) else {
            throw EventStoreError(.invalidArgument, "the channel '\(configuration.channel)' is not a plain PostgreSQL identifier")
        }
        self.configuration = configuration
        self.logger = logger
        // The listener holds one pooled connection for good: at least one more for everything else.
        var client = configuration.client
        client.options.maximumConnections = max(2, client.options.maximumConnections)
        // Every statement's lock waits are bounded (an append behind a stalled holder: `.busy`).
        let lockMilliseconds = max(1, Int(configuration.lockTimeout.components.seconds * 1000
            + configuration.lockTimeout.components.attoseconds / 1_000_000_000_000_000))
        client.options.additionalStartupParameters.append(("lock_timeout", String(lockMilliseconds)))
        self.client = PostgresClient(configuration: client, backgroundLogger: logger)
    }

    /// Runs the store for `body`'s duration: the connection pool and the listener, after the schema
    /// is migrated.
    /// - Returns: what `body` returns
    public static func withStore<R: Sendable>(
        _ configuration: Configuration, logger: Logger = Logger(label: "swift-analytics-cache.postgres-log"),
        _ body: (PostgresEventStore) async throws -> R
    ) async throws -> R {
        let store = try PostgresEventStore(configuration: configuration, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await store.run() }
            do {
                try await store.migrate()
                let result = try await body(store)
                group.cancelAll()
                return result
            } catch {
                group.cancelAll()
                throw error
            }
        }
    }

    /// Runs the connection pool, the listener and the poll until cancelled (or shut down
    /// gracefully). Queries wait until it runs.
    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.client.run() }
            group.addTask { await self.listen() }
            group.addTask { await self.poll() }
            // Until cancelled or shut down: then the pool and the loops stop with the group.
            await cancelWhenGracefulShutdown {
                try? await Task.sleep(for: .seconds(Int64.max / 4))
            }
            group.cancelAll()
        }
    }

    static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.utf8.first, first == UInt8(ascii: "_") || (first | 0x20 >= UInt8(ascii: "a") && first | 0x20 <= UInt8(ascii: "z")) else {
            return false
        }
        return name.utf8.count <= 63 && name.utf8.allSatisfy { byte in
            byte == UInt8(ascii: "_") || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || (byte | 0x20 >= UInt8(ascii: "a") && byte | 0x20 <= UInt8(ascii: "z"))
        }
    }
}

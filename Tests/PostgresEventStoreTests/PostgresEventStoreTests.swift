import EventLogCore
import Foundation
import PostgresEventStore
import PostgresNIO
import Testing
import TestSupport

/// The PostgreSQL log against a real server (the tests' private cluster): the SQLite log's
/// guarantees across several clients — the nodes of a deployment — plus LISTEN/NOTIFY wake-ups,
/// reconnection and migrations.
@Suite(.timeLimit(.minutes(3))) struct PostgresEventStoreTests {
    static func configuration(_ db: (server: TestPostgres.Server, database: String), poll: Duration = .seconds(3600), pool: Int = 8)
        -> PostgresEventStore.Configuration
    {
        var client = PostgresClient.Configuration(
            host: db.server.host, port: db.server.port, username: db.server.user, password: nil, database: db.database, tls: .disable)
        client.options.maximumConnections = pool
        return PostgresEventStore.Configuration(client: client, pollInterval: poll, maxReconnectDelay: .milliseconds(100))
    }

    static func order(_ n: Int) -> NewEvent { NewEvent(type: "OrderPlaced", payload: #"{"n":\#(n)}"#) }

    @Test func appendsFromSeveralNodesGetGapFreePositionsInCommitOrder() async throws {
        let db = try TestPostgres.freshDatabase()
        try await PostgresEventStore.withStore(Self.configuration(db)) { a in
            try await PostgresEventStore.withStore(Self.configuration(db)) { b in
                // 8 writers over two nodes, 4 aggregates: versions per aggregate and positions overall.
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for writer in 0..<8 {
                        let store = writer % 2 == 0 ? a : b
                        group.addTask {
                            for i in 0..<25 {
                                _ = try await store.append([Self.order(i), Self.order(i + 1000)],
                                                           to: AggregateID(type: "Order", id: String(writer % 4)), expectedVersion: .any)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                let all = try await a.read(from: 1, limit: 10_000)
                #expect(all.map(\.position) == Array(1...400))
                for id in 0..<4 {
                    let events = try await b.read(aggregate: AggregateID(type: "Order", id: String(id)))
                    #expect(events.map(\.version) == Array(1...100))
                    #expect(events.map(\.position) == events.map(\.position).sorted())
                }
                // Each append's two events are adjacent: appends never interleave.
                for pair in stride(from: 0, to: all.count, by: 2) {
                    #expect(all[pair].aggregate == all[pair + 1].aggregate && all[pair].version + 1 == all[pair + 1].version)
                }
                #expect(try await a.lastPosition() == 400)
                #expect(try await a.identity() == (try await b.identity()))
            }
        }
    }

    @Test func aVersionConflictWritesNothingAndLeavesNoConnectionInATransaction() async throws {
        let db = try TestPostgres.freshDatabase()
        // Two connections, one of them the listener's: the appends share one, so if a failed append
        // left it inside its transaction, the next would run inside it (and its advisory lock).
        try await PostgresEventStore.withStore(Self.configuration(db, pool: 2)) { store in
            let order = AggregateID(type: "Order", id: "7")
            _ = try await store.append([Self.order(1)], to: order, expectedVersion: .noStream)
            await #expect(throws: EventStoreError.self) {
                try await store.append([Self.order(2), Self.order(3)], to: order, expectedVersion: .noStream)
            }
            do {
                _ = try await store.append([Self.order(2)], to: order, expectedVersion: .exact(5))
                Issue.record("expected a conflict")
            } catch let error as EventStoreError {
                #expect(error.kind == .versionConflict(expected: .exact(5), actual: 1))
            }
            let next = try await store.append([Self.order(2)], to: order, expectedVersion: .exact(1))
            #expect(next.map(\.position) == [2] && next.map(\.version) == [2])
            let inTransaction = try TestPostgres.psql(db.server, db.database,
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'")
            #expect(inTransaction.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
        }
    }

    @Test(arguments: [
        (AggregateID(type: "Order", id: "a\u{0}b"), NewEvent(type: "T", payload: "{}"), "NUL"),
        (AggregateID(type: "Order", id: "1"), NewEvent(type: "T", payload: "{not json"), "JSON"),
        (AggregateID(type: "", id: "1"), NewEvent(type: "T", payload: "{}"), "empty"),
    ])
    func badAppendsAreRefusedBeforeTheyReachTheServer(aggregate: AggregateID, event: NewEvent, what: String) async throws {
        let db = try TestPostgres.freshDatabase()
        try await PostgresEventStore.withStore(Self.configuration(db)) { store in
            await #expect(throws: EventStoreError.self, "\(what)") { try await store.append([event], to: aggregate, expectedVersion: .any) }
            let last = try await store.lastPosition()
            #expect(last == 0)
        }
    }

    @Test func anotherNodesSubscriberIsWokenByTheNotificationAlone() async throws {
        let db = try TestPostgres.freshDatabase()
        // The poll is an hour: only NOTIFY can wake node B's subscriber.
        try await PostgresEventStore.withStore(Self.configuration(db)) { a in
            try await PostgresEventStore.withStore(Self.configuration(db)) { b in
                await b.waitUntilListening()
                var iterator = b.subscribe(from: 1).makeAsyncIterator()
                _ = try await a.append([Self.order(1)], to: AggregateID(type: "Order", id: "1"), expectedVersion: .any)
                let first = try await iterator.next()
                #expect(first?.position == 1)
                _ = try await a.append([Self.order(2)], to: AggregateID(type: "Order", id: "2"), expectedVersion: .any)
                #expect(try await iterator.next()?.position == 2)
            }
        }
    }

    @Test func aTerminatedListenerReconnectsAndItsSubscriberCatchesUp() async throws {
        let db = try TestPostgres.freshDatabase()
        // The poll is an hour, and B pauses 300 ms before listening again: events appended in that
        // pause notify nobody on B, and only the catch-up on reconnecting can deliver them.
        var slow = Self.configuration(db)
        slow.reconnectDelay = .milliseconds(300)
        try await PostgresEventStore.withStore(Self.configuration(db)) { a in
            try await PostgresEventStore.withStore(slow) { b in
                await b.waitUntilListening()
                let subscriber = Task {
                    var seen: [Int64] = []
                    for try await event in b.subscribe(from: 1) {
                        seen.append(event.position)
                        if seen.count == 6 { break }
                    }
                    return seen
                }
                _ = try await a.append([Self.order(1)], to: AggregateID(type: "Order", id: "1"), expectedVersion: .any)
                try TestPostgres.terminateListeners(db.server, db.database)
                for n in 2...6 { _ = try await a.append([Self.order(n)], to: AggregateID(type: "Order", id: "1"), expectedVersion: .any) }
                #expect(try await subscriber.value == [1, 2, 3, 4, 5, 6])
                await b.waitUntilListening(count: 2)
                #expect(b.listenCount >= 2, "B listened again")
            }
        }
    }

    @Test func nodesStartingTogetherMigrateOnceAndShareTheIdentity() async throws {
        let db = try TestPostgres.freshDatabase()
        let identities = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<4 {
                group.addTask { try await PostgresEventStore.withStore(Self.configuration(db)) { try await $0.identity() } }
            }
            var all: [String] = []
            for try await id in group { all.append(id) }
            return all
        }
        #expect(identities.count == 4 && Set(identities).count == 1)
        let versions = try TestPostgres.psql(db.server, db.database, "SELECT string_agg(version::text, ',' ORDER BY version) FROM analytics_schema_migrations")
        #expect(versions.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
        // Another database, another log.
        let other = try TestPostgres.freshDatabase()
        let otherID = try await PostgresEventStore.withStore(Self.configuration(other)) { try await $0.identity() }
        #expect(otherID != identities.first)
    }

    @Test func aSchemaNewerThanThisReleaseIsRefused() async throws {
        let db = try TestPostgres.freshDatabase()
        try await PostgresEventStore.withStore(Self.configuration(db)) { _ in }
        try TestPostgres.psql(db.server, db.database, "INSERT INTO analytics_schema_migrations (version) VALUES (99)")
        do {
            try await PostgresEventStore.withStore(Self.configuration(db)) { _ in }
            Issue.record("a newer schema was accepted")
        } catch let error as EventStoreError {
            #expect(error.kind == .inconsistentLog && error.message.contains("99"))
        }
    }
}

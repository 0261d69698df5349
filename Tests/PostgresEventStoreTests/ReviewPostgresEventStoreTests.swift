import EventLogCore
import Foundation
import Logging
import PostgresEventStore
import PostgresNIO
import Synchronization
import Testing
import TestSupport

final class Failures: Sendable { let list = Mutex<[String]>([]) }

/// Review (issue 16): attempts to break the PostgreSQL log's guarantees.
@Suite(.timeLimit(.minutes(3))) struct ReviewPostgresEventStoreTests {
    static func configuration(_ db: (server: TestPostgres.Server, database: String), poll: Duration = .seconds(3600), pool: Int = 8)
        -> PostgresEventStore.Configuration
    {
        PostgresEventStoreTests.configuration(db, poll: poll, pool: pool)
    }

    static func order(_ n: Int) -> NewEvent { PostgresEventStoreTests.order(n) }

    static let appendLockKey: Int64 = 0x616E_616C_7974_6963

    /// A connection of the test's own, outside every store's pool.
    static func rawConnection(_ db: (server: TestPostgres.Server, database: String)) async throws -> PostgresConnection {
        let configuration = PostgresConnection.Configuration(
            host: db.server.host, port: db.server.port, username: db.server.user, password: nil, database: db.database, tls: .disable)
        return try await PostgresConnection.connect(configuration: configuration, id: 1, logger: Logger(label: "review-raw"))
    }

    static func scalar(_ db: (server: TestPostgres.Server, database: String), _ sql: String) throws -> String {
        try TestPostgres.psql(db.server, db.database, sql).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// An append bounded by 10 s: its outcome, or "hung" with the database's backends.
    static func boundedAppend(_ store: PostgresEventStore, _ db: (server: TestPostgres.Server, database: String), _ n: Int) async -> String {
        let (results, sink) = AsyncStream.makeStream(of: String.self)
        Task {
            do {
                _ = try await store.append([Self.order(n)], to: AggregateID(type: "Order", id: "1"), expectedVersion: .any)
                sink.yield("appended")
            } catch {
                sink.yield("threw \(String(reflecting: error).prefix(300))")
            }
        }
        let outcome = await withTaskGroup(of: String?.self) { group in
            group.addTask { var iterator = results.makeAsyncIterator(); return await iterator.next() }
            group.addTask {
                try? await Task.sleep(for: .seconds(60))  // a bound against a hang (a loaded run is slow)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        if let outcome { return outcome }
        let activity = (try? Self.scalar(db, """
            SELECT string_agg(pid || ' ' || state || ' ' || coalesce(wait_event_type, '-') || ' ' || left(query, 40), ' | ')
            FROM pg_stat_activity WHERE datname = current_database()
            """)) ?? "?"
        return "hung after 10 s; backends: \(activity)"
    }

    // MARK: Optimistic concurrency across nodes

    @Test func twoNodesAppendingWithTheSameExpectedVersionExactlyOneWins() async throws {
        let db = try TestPostgres.freshDatabase()
        try await PostgresEventStore.withStore(Self.configuration(db)) { a in
            try await PostgresEventStore.withStore(Self.configuration(db)) { b in
                for round in 0..<20 {
                    let aggregate = AggregateID(type: "Order", id: "race-\(round)")
                    let outcomes = try await withThrowingTaskGroup(of: String.self) { group in
                        for (index, store) in [a, b, a, b].enumerated() {
                            group.addTask {
                                do {
                                    _ = try await store.append([Self.order(index)], to: aggregate, expectedVersion: .noStream)
                                    return "won"
                                } catch let error as EventStoreError {
                                    guard case .versionConflict = error.kind else { return "other: \(error)" }
                                    return "conflict"
                                } catch {
                                    return "other: \(String(reflecting: error))"
                                }
                            }
                        }
                        var all: [String] = []
                        for try await outcome in group { all.append(outcome) }
                        return all
                    }
                    #expect(outcomes.filter { $0 == "won" }.count == 1 && outcomes.filter { $0 == "conflict" }.count == 3, "\(outcomes)")
                }
                let all = try await a.read(from: 1, limit: 1000)
                #expect(all.map(\.position) == Array(1...20))
            }
        }
    }

    // MARK: Gap-free positions when the database's default isolation is not READ COMMITTED

    /// `BEGIN` takes the database's default isolation. A DBA's
    /// `default_transaction_isolation = 'repeatable read'` makes the snapshot the one taken when
    /// the advisory-lock statement *started* (before waiting): the next statement's
    /// `MAX(position)` no longer sees the append that held the lock.
    @Test func appendsStayCorrectWhenTheDatabaseDefaultsToRepeatableRead() async throws {
        let db = try TestPostgres.freshDatabase()
        try await PostgresEventStore.withStore(Self.configuration(db)) { _ in }  // migrated
        try TestPostgres.psql(db.server, "postgres", "ALTER DATABASE \(db.database) SET default_transaction_isolation = 'repeatable read'")
        let failures = Failures()
        try await PostgresEventStore.withStore(Self.configuration(db)) { a in
            try await PostgresEventStore.withStore(Self.configuration(db)) { b in
                await withTaskGroup(of: Void.self) { group in
                    for writer in 0..<8 {
                        let store = writer % 2 == 0 ? a : b
                        group.addTask {
                            for i in 0..<10 {
                                do {
                                    _ = try await store.append([Self.order(i)], to: AggregateID(type: "Order", id: String(writer)), expectedVersion: .any)
                                } catch {
                                    failures.list.withLock { $0.append(String(String(reflecting: error).prefix(300))) }
                                }
                            }
                        }
                    }
                }
                let failed = failures.list.withLock { $0 }
                #expect(failed.count == 0, "\(failed.count) of 80 appends failed, e.g. \(failed.first ?? "")")
                let all = try await a.read(from: 1, limit: 1000)
                #expect(all.map(\.position) == Array(1...Int64(all.count)))
                #expect(all.count == 80)
            }
        }
    }

    // MARK: A stalled lock holder

    /// SQLite's log refuses an append with `.busy` after its busy timeout (5 s by default) when
    /// another process holds the write lock; here a node that stalls holding the append lock (a
    /// paused process, a partition) makes every node's appends wait without bound.
    @Test func anAppendBehindAStalledLockHolderIsRefusedInBoundedTime() async throws {
        let db = try TestPostgres.freshDatabase()
        try await PostgresEventStore.withStore(Self.configuration(db)) { store in
            let holder = try await Self.rawConnection(db)
            try await holder.query("BEGIN", logger: Logger(label: "review-raw"))
            try await holder.query("SELECT pg_advisory_xact_lock(\(Self.appendLockKey))", logger: Logger(label: "review-raw"))
            let append = Task { try await store.append([Self.order(1)], to: AggregateID(type: "Order", id: "1"), expectedVersion: .any) }
            let outcome = await withTaskGroup(of: String.self) { group in
                group.addTask {
                    do {
                        _ = try await append.value
                        return "appended"
                    } catch let error as EventStoreError {
                        return "refused: \(error.kind)"
                    } catch {
                        return "threw \(String(reflecting: error))"
                    }
                }
                group.addTask {
                    try? await Task.sleep(for: .seconds(60))  // a bound against a hang
                    return "still waiting after 60 s"
                }
                let first = await group.next() ?? "?"
                // Release the stalled holder whatever happened, so the append can end.
                _ = try? await holder.query("ROLLBACK", logger: Logger(label: "review-raw"))
                group.cancelAll()
                for await _ in group {}
                return first
            }
            try? await holder.close()
            #expect(outcome.hasPrefix("refused"), "\(outcome)")
        }
    }

    // MARK: An unreachable server

    /// The store's doc promises connection failures as `.unavailable`. With nothing listening, the
    /// pool queues the request until its circuit breaker trips (60 s) and then throws its own
    /// `ConnectionPoolError`, which `mappingConnectionErrors` (PSQLError only) lets through.
    @Test func anUnreachableServerIsReportedAsUnavailableInBoundedTime() async throws {
        var client = PostgresClient.Configuration(host: "127.0.0.1", port: 1, username: "postgres", password: nil, database: "nowhere", tls: .disable)
        client.options.maximumConnections = 2
        client.options.connectTimeout = .seconds(2)
        let store = try PostgresEventStore(configuration: .init(client: client, pollInterval: .seconds(3600)))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await store.run() }
            let started = ContinuousClock.now
            var outcome = ""
            do {
                _ = try await store.append([Self.order(1)], to: AggregateID(type: "Order", id: "1"), expectedVersion: .any)
                outcome = "appended"
            } catch let error as EventStoreError {
                outcome = "EventStoreError(\(error.kind))"
            } catch {
                outcome = "\(type(of: error)): \(String(reflecting: error))"
            }
            let elapsed = ContinuousClock.now - started
            group.cancelAll()
            #expect(outcome == "EventStoreError(unavailable)", "after \(elapsed): \(outcome)")
            #expect(elapsed < .seconds(60), "took \(elapsed)")  // bounded; the 10 s connection timeout plus a loaded run's margin
        }
    }

    // MARK: Cancellation mid-transaction

    @Test func cancelledAppendsLeaveNoTransactionOpenAndThePoolUsable() async throws {
        let db = try TestPostgres.freshDatabase()
        // Two connections: the listener's and one for everything else.
        try await PostgresEventStore.withStore(Self.configuration(db, pool: 2)) { store in
            _ = try await store.append([Self.order(0)], to: AggregateID(type: "Order", id: "seed"), expectedVersion: .noStream)
            let holder = try await Self.rawConnection(db)
            try await holder.query("BEGIN", logger: Logger(label: "review-raw"))
            try await holder.query("SELECT pg_advisory_xact_lock(\(Self.appendLockKey))", logger: Logger(label: "review-raw"))
            let tasks = (1...4).map { n in
                Task { try await store.append([Self.order(n)], to: AggregateID(type: "Order", id: "c\(n)"), expectedVersion: .noStream) }
            }
            // Until one append waits for the lock inside its transaction (bounded by the time limit).
            while try Self.scalar(db, """
                SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND state = 'active'
                """) != "1" {
                await Task.yield()
            }
            for task in tasks { task.cancel() }
            _ = try await holder.query("ROLLBACK", logger: Logger(label: "review-raw"))
            try? await holder.close()
            var succeeded: Set<String> = []
            for (index, task) in tasks.enumerated() {
                if (try? await task.value) != nil { succeeded.insert("c\(index + 1)") }
            }
            // Whatever a cancelled append reported, the log agrees with it, and the pool works.
            let next = try await store.append([Self.order(9)], to: AggregateID(type: "Order", id: "after"), expectedVersion: .noStream)
            let all = try await store.read(from: 1, limit: 100)
            #expect(all.map(\.position) == Array(1...Int64(all.count)))
            #expect(Set(all.map(\.aggregate.id)).subtracting(["seed", "after"]) == succeeded)
            #expect(next.first?.position == Int64(all.count))
            #expect(try Self.scalar(db, """
                SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'
                """) == "0")
        }
    }

    // MARK: The listener under repeated termination

    @Test func aListenerTerminatedAgainAndAgainStillWakesTheSubscriber() async throws {
        let db = try TestPostgres.freshDatabase()
        try await PostgresEventStore.withStore(Self.configuration(db)) { a in
            try await PostgresEventStore.withStore(Self.configuration(db)) { b in
                await b.waitUntilListening()
                var iterator = b.subscribe(from: 1).makeAsyncIterator()
                for round in 1...6 {
                    try TestPostgres.terminateListeners(db.server, db.database)
                    // Half the rounds append before B listens again (the catch-up wake), half after.
                    if round % 2 == 0 { await b.waitUntilListening(count: round + 1) }
                    let outcome = await Self.boundedAppend(a, db, round)
                    guard outcome == "appended" else {
                        Issue.record("round \(round): A's append right after the LISTEN backends were terminated: \(outcome) (B listens: \(b.listenCount), A listens: \(a.listenCount))")
                        return
                    }
                    #expect(try await iterator.next()?.position == Int64(round))
                    await b.waitUntilListening(count: round + 1)
                }
                #expect(b.listenCount >= 7)
            }
        }
    }

    /// The same node's appends right after its own listening connection was terminated (as an
    /// administrator, a failover or a proxy would): each round's appends are bounded (10 s) here.
    @Test func anAppendRightAfterTheListenerWasTerminatedNeverHangs() async throws {
        let db = try TestPostgres.freshDatabase()
        try await PostgresEventStore.withStore(Self.configuration(db)) { a in
            await a.waitUntilListening()
            for round in 1...30 {
                try TestPostgres.terminateListeners(db.server, db.database)
                // Four appends at once, racing the listener's connection back into the pool.
                let (results, sink) = AsyncStream.makeStream(of: String.self)
                for writer in 0..<4 {
                    Task {
                        do {
                            _ = try await a.append([Self.order(round)], to: AggregateID(type: "Order", id: String(writer)), expectedVersion: .any)
                            sink.yield("appended")
                        } catch {
                            sink.yield("threw \(String(reflecting: error).prefix(300))")
                        }
                    }
                }
                let outcome = await withTaskGroup(of: String?.self) { group in
                    group.addTask {
                        var all: [String] = []
                        for await result in results {
                            all.append(result)
                            if all.count == 4 { break }
                        }
                        return all.count == 4 ? all.joined(separator: "; ") : nil
                    }
                    group.addTask {
                        try? await Task.sleep(for: .seconds(60))  // a bound against a hang (a loaded run is slow)
                        return nil
                    }
                    let first = await group.next() ?? nil
                    group.cancelAll()
                    return first ?? "hung"
                }
                if outcome == "hung" {
                    let activity = (try? Self.scalar(db, """
                        SELECT string_agg(pid || ' ' || state || ' ' || left(query, 40), ' | ') FROM pg_stat_activity WHERE datname = current_database()
                        """)) ?? "?"
                    Issue.record("round \(round): the appends have not all returned after 10 s (listens: \(a.listenCount)); backends: \(activity)")
                }
                if outcome == "hung" { return }  // the hung task cannot be awaited
                await a.waitUntilListening(count: round + 1)
            }
        }
    }

    // MARK: Odd text at the limits

    @Test func oddUnicodeAtTheLimitsRoundTripsExactly() async throws {
        let db = try TestPostgres.freshDatabase()
        try await PostgresEventStore.withStore(Self.configuration(db, pool: 4)) { store in
            await store.waitUntilListening()
            let id = String(repeating: "😀", count: AppendValidation.maxIdentifierBytes / 4)  // exactly 1024 bytes
            let type = String(repeating: "\u{FFFF}", count: AppendValidation.maxIdentifierBytes / 3)  // 1023 bytes
            let aggregate = AggregateID(type: "e\u{301}\u{2028}\u{200D}\u{202E}" + String(repeating: "x", count: 1000), id: id)
            let payload = #"{"ctl":"\u0001","s":"\#(String(repeating: "é", count: 1000))\#u{2028}\#u{FEFF}"}"#
            let events = [NewEvent(type: type, payload: payload, metadata: #"{"k":"\ud83d\ude00"}"#),
                          NewEvent(type: "T", payload: "  [1, 2.5e3, true, null]  ")]
            var subscriber = store.subscribe(from: 1).makeAsyncIterator()
            let recorded = try await store.append(events, to: aggregate, expectedVersion: .noStream)
            let read = try await store.read(aggregate: aggregate)
            #expect(read == recorded)
            #expect(try await subscriber.next() == recorded.first)
            // A 1-byte longer id is refused, as by every log.
            await #expect(throws: EventStoreError.self) {
                try await store.append([Self.order(1)], to: AggregateID(type: "T", id: id + "x"), expectedVersion: .any)
            }
            // NFC and NFD spellings are distinct streams in the table (as in SQLite).
            _ = try await store.append([Self.order(1)], to: AggregateID(type: "Acct", id: "\u{E9}"), expectedVersion: .noStream)
            _ = try await store.append([Self.order(2)], to: AggregateID(type: "Acct", id: "e\u{301}"), expectedVersion: .noStream)
        }
    }

    /// `AppendValidation` is documented as "the checks every log makes before an append touches
    /// storage, so that every backend accepts and refuses the same appends". It accepts a NUL in
    /// an aggregate id (so the SQLite log stores it); the PostgreSQL log refuses it.
    @Test func theSameAppendIsAcceptedOrRefusedByEveryLog() async throws {
        let aggregate = AggregateID(type: "Order", id: "a\u{0}b")
        let events = [NewEvent(type: "T", payload: "{}")]
        var shared = "accepted"
        do { try AppendValidation.check(events, to: aggregate, expectedVersion: .any, maxPayloadBytes: 1 << 20) } catch { shared = "refused: \(error)" }
        let db = try TestPostgres.freshDatabase()
        let postgres = try await PostgresEventStore.withStore(Self.configuration(db)) { store in
            do {
                _ = try await store.append(events, to: aggregate, expectedVersion: .any)
                return "accepted"
            } catch { return "refused: \(error)" }
        }
        #expect(shared == postgres, "AppendValidation (every log, SQLite's only check): \(shared); PostgreSQL: \(postgres)")
    }

    // MARK: Migrations

    /// Nodes often run as a role with data rights only (the schema migrated by its owner); on
    /// PostgreSQL 15 no role but the owner may create in `public`. A schema that is already current
    /// needs nothing created — yet `migrate()` always runs `CREATE TABLE IF NOT EXISTS` first.
    @Test func aNodeWithoutDDLRightsStartsOnACurrentSchema() async throws {
        let db = try TestPostgres.freshDatabase()
        try await PostgresEventStore.withStore(Self.configuration(db)) { _ in }  // migrated by the owner
        let role = "review_app_\(UInt32.random(in: 0...UInt32.max))"
        try TestPostgres.psql(db.server, db.database, """
            CREATE ROLE \(role) LOGIN;
            REVOKE CREATE ON SCHEMA public FROM PUBLIC;
            GRANT USAGE ON SCHEMA public TO \(role);
            GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO \(role);
            """)
        var configuration = Self.configuration(db)
        configuration.client.username = role
        var outcome = "started"
        do {
            try await PostgresEventStore.withStore(configuration) { store in
                _ = try await store.append([Self.order(1)], to: AggregateID(type: "Order", id: "1"), expectedVersion: .any)
            }
        } catch {
            outcome = String(String(reflecting: error).prefix(400))
        }
        #expect(outcome == "started")
    }

    /// Nodes starting (migrating) while another appends: every append succeeds, gap-free.
    @Test func nodesStartingWhileAnotherAppendsDisturbNothing() async throws {
        let db = try TestPostgres.freshDatabase()
        try await PostgresEventStore.withStore(Self.configuration(db)) { a in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for i in 0..<100 { _ = try await a.append([Self.order(i)], to: AggregateID(type: "Order", id: "a"), expectedVersion: i == 0 ? .noStream : .exact(Int64(i))) }
                }
                for _ in 0..<3 {
                    group.addTask { try await PostgresEventStore.withStore(Self.configuration(db, pool: 2)) { store in
                        _ = try await store.append([Self.order(0)], to: AggregateID(type: "Order", id: UUID().uuidString), expectedVersion: .noStream)
                    } }
                }
                try await group.waitForAll()
            }
            let all = try await a.read(from: 1, limit: 1000)
            #expect(all.map(\.position) == Array(1...103))
        }
    }

    // MARK: Configuration(url:)

    @Test(arguments: [
        ("postgres://u:100%25@h/db", "100%"),
        ("postgres://u:a%2541@h/db", "a%41"),
        ("postgres://u:p%40ss%3Aw@h/db", "p@ss:w"),
    ])
    func aPercentEncodedPasswordIsDecodedExactlyOnce(url: String, password: String) throws {
        let configuration = try PostgresEventStore.Configuration(url: url)
        #expect(configuration.client.password == password, "\(url) → \(String(describing: configuration.client.password))")
    }

    @Test func anIPv6HostIsPassedWithoutItsBrackets() throws {
        let configuration = try PostgresEventStore.Configuration(url: "postgres://u@[::1]:5433/db")
        #expect(configuration.client.host == "::1" && configuration.client.port == 5433, "host \(String(describing: configuration.client.host))")
    }

    @Test(arguments: [
        "postgres://u@h/db?sslmode=require&sslmode=disable",  // which one?
        "postgres://u@h/db?sslmode",  // no value: silently "prefer"
        "postgres://u@h/db?sslmode=verify-full",
        "mysql://u@h/db", "postgres://h/db", "postgres://u@/db", "postgres://u@h", "postgres://u@h:0/db", "postgres://u@h:70000/db",
        "postgres://u@h/db?application_name=x",
    ])
    func anAmbiguousOrBadURLIsRefused(url: String) {
        #expect(throws: EventStoreError.self, "\(url)") { try PostgresEventStore.Configuration(url: url) }
    }
}

import DuckDBClient
import Foundation
import ResultFormat
import Testing
import TestSupport

@testable import RemoteData

/// Parquet on an S3-compatible server (moto) on loopback, and DuckLake catalogs whose data live there.
@Suite struct S3RemoteTests {
    @Test func queriesOverS3ReturnTheSameRowsAsPythonOverTheLocalFiles() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        try RemoteFixtures.writeParquet(into: dir)
        let server = try LoopbackServer.s3()
        defer { server.stop() }
        try RemoteFixtures.upload(server, bucket: "data", directory: dir, prefix: "orders/")
        let pool = try DuckDBPool(database: RemoteFixtures.database(s3: [RemoteFixtures.secret(server)]))
        let ours = RemoteFixtures.rows(try await pool.query(RemoteFixtures.summarySQL("read_parquet('s3://data/orders/*.parquet')")))
        let theirs = try RemoteFixtures.pythonRows(RemoteFixtures.summarySQL("read_parquet('\(dir.path)/*.parquet')"))
        #expect(ours.count == 4)
        #expect(ours == theirs)
        await pool.shutdown()
    }

    @Test func theS3VersionFollowsExactlyTheObjectsTheGlobMatches() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        try RemoteFixtures.writeParquet(into: dir, parts: 2, rows: 500)
        let server = try LoopbackServer.s3()
        defer { server.stop() }
        try RemoteFixtures.upload(server, bucket: "data", directory: dir, prefix: "orders/")
        let probe = try S3VersionProbe(url: "s3://data/orders/*.parquet", secret: RemoteFixtures.secret(server), timeout: RemoteFixtures.patience)
        let first = try await probe.currentVersion()
        #expect(first.token.hasPrefix("s3:"))
        #expect(try await probe.currentVersion() == first)
        // Objects the glob does not match change nothing: another suffix, a deeper directory, a
        // sibling prefix.
        try RemoteFixtures.boto3(server, """
            for key in ['orders/readme.txt', 'orders/2024/part-9.parquet', 'orders-old/part-0.parquet']:
                s3.put_object(Bucket='data', Key=key, Body=b'x')
            """)
        #expect(try await probe.currentVersion() == first)
        // Rewriting a matching object changes it, even with the same size.
        try RemoteFixtures.boto3(server, "s3.put_object(Bucket='data', Key='orders/part-1.parquet', Body=open(argv[0], 'rb').read()[::-1])",
            [dir.appendingPathComponent("part-1.parquet").path])
        let second = try await probe.currentVersion()
        #expect(second != first)
        // A new matching object changes it; deleting it again goes back to the same set and ETags.
        try RemoteFixtures.boto3(server, "s3.put_object(Bucket='data', Key='orders/part-2.parquet', Body=b'y')")
        let third = try await probe.currentVersion()
        #expect(third != second)
        try RemoteFixtures.boto3(server, "s3.delete_object(Bucket='data', Key='orders/part-2.parquet')")
        #expect(try await probe.currentVersion() == second)
        // `**` reaches the deeper object.
        let deep = try S3VersionProbe(url: "s3://data/orders/**/*.parquet", secret: RemoteFixtures.secret(server), timeout: RemoteFixtures.patience)
        #expect(try await deep.currentVersion() != second)
    }

    @Test func listingsLongerThanAPageAreReadToTheEnd() async throws {
        let server = try LoopbackServer.s3()
        defer { server.stop() }
        try RemoteFixtures.boto3(server, """
            s3.create_bucket(Bucket='many')
            for i in range(1005):
                s3.put_object(Bucket='many', Key='p/f%04d.parquet' % i, Body=b'%d' % i)
            """)
        let probe = try S3VersionProbe(url: "s3://many/p/*.parquet", secret: RemoteFixtures.secret(server), timeout: RemoteFixtures.patience)
        let first = try await probe.list(continuationToken: nil)
        #expect(first.isTruncated)
        #expect(first.objects.count == 1000)
        let version = try await probe.currentVersion()
        // The last key (on the second page) is part of the version.
        try RemoteFixtures.boto3(server, "s3.put_object(Bucket='many', Key='p/f1004.parquet', Body=b'changed')")
        #expect(try await probe.currentVersion() != version)
    }

    @Test func aMissingBucketOrAStoppedServerIsAClearError() async throws {
        let server = try LoopbackServer.s3()
        let secret = RemoteFixtures.secret(server)
        do {
            _ = try await S3VersionProbe(url: "s3://no-such-bucket/x/*.parquet", secret: secret).currentVersion()
            Issue.record("a missing bucket gave a version")
        } catch let error as DataVersionError {
            #expect(error.kind == .httpStatus)
            #expect(error.message.contains("404"))
            #expect(error.message.contains("NoSuchBucket"))
        }
        server.stop()
        do {
            _ = try await S3VersionProbe(url: "s3://data/x/*.parquet", secret: secret).currentVersion()
            Issue.record("a stopped server gave a version")
        } catch let error as DataVersionError {
            #expect(error.kind == .unreachable)
        }
        #expect(throws: DataVersionError.self) { _ = try S3VersionProbe(url: "http://x/y", secret: secret) }
        #expect(throws: DataVersionError.self) { _ = try S3VersionProbe(url: "s3://", secret: secret) }
        #expect(throws: DataVersionError.self) {
            _ = try S3VersionProbe(url: "s3://b/k", secret: S3Secret(credentials: .environment), environment: [:])
        }
    }

    @Test func externalAccessCanBeLimitedToConfiguredLocations() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        try RemoteFixtures.writeParquet(into: dir, parts: 1, rows: 100)
        let server = try LoopbackServer.s3()
        defer { server.stop() }
        try RemoteFixtures.upload(server, bucket: "data", directory: dir, prefix: "allowed/")
        try RemoteFixtures.upload(server, bucket: "data", directory: dir, prefix: "other/")
        let db = try RemoteFixtures.database(s3: [RemoteFixtures.secret(server)], access: .only(["s3://data/allowed/"]))
        let connection = try db.connect()
        #expect(try connection.query("SELECT count(*) FROM 's3://data/allowed/part-0.parquet'").row(0)[0] == .int(100))
        for sql in [
            "SELECT count(*) FROM 's3://data/other/part-0.parquet'",
            "SELECT count(*) FROM '\(dir.path)/part-0.parquet'",
            "SELECT * FROM read_text('/etc/hostname')",
            "COPY (SELECT 1) TO '\(dir.path)/out.csv'",
        ] {
            #expect(performing: { _ = try connection.query(sql) }, throws: { String(describing: $0).contains("Permission") })
        }
        // Queries cannot lift the restriction.
        #expect(throws: DuckDBError.self) { _ = try connection.execute("SET enable_external_access = true") }
        #expect(throws: DuckDBError.self) { _ = try connection.execute("SET allowed_directories = ['/']") }
        #expect(throws: DuckDBError.self) { _ = try connection.execute("LOAD '\(TestSupport.otherVersionExtension)'") }
    }
}

/// DuckLake: a catalog on local disk with its data on the S3 server.
@Suite struct DuckLakeTests {
    @Test func aDuckLakeOnS3ServesTheSameRowsAndItsSnapshotAdvancesWithEachCommit() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let data = dir.appendingPathComponent("parquet")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        try RemoteFixtures.writeParquet(into: data)
        let server = try LoopbackServer.s3()
        defer { server.stop() }
        try RemoteFixtures.boto3(server, "s3.create_bucket(Bucket='lake')")
        let lake = AttachedDatabase(
            alias: "lake", location: dir.appendingPathComponent("catalog.ducklake").path,
            kind: .duckLake(dataPath: "s3://lake/data/"))
        let db = try RemoteFixtures.database(s3: [RemoteFixtures.secret(server)], attachments: [lake])
        let pool = try DuckDBPool(database: db, configuration: .init(connections: 2))
        let probe = DuckLakeSnapshotProbe(pool: pool, catalog: "lake")
        let empty = try await probe.currentVersion()
        #expect(empty.token.hasPrefix("snapshot:"))

        _ = try await pool.execute("CREATE TABLE lake.orders AS SELECT * FROM read_parquet('\(data.path)/part-0.parquet')")
        let afterCreate = try await probe.currentVersion()
        #expect(afterCreate != empty)
        #expect(try await probe.currentVersion() == afterCreate)
        // The same cached prepared statement on each connection before and after a commit must see it.
        let countSQL = "SELECT count(*) FROM lake.orders"
        for _ in 0..<4 { #expect(try await pool.query(countSQL).row(0)[0] == .int(20_000)) }
        _ = try await pool.execute("INSERT INTO lake.orders SELECT * FROM read_parquet('\(data.path)/part-1.parquet')")
        for _ in 0..<4 { #expect(try await pool.query(countSQL).row(0)[0] == .int(40_000)) }
        let afterInsert = try await probe.currentVersion()
        #expect(afterInsert != afterCreate)
        // Reads commit nothing: the snapshot stays.
        let ours = RemoteFixtures.rows(try await pool.query(RemoteFixtures.summarySQL("lake.orders")))
        #expect(try await probe.currentVersion() == afterInsert)
        let theirs = try RemoteFixtures.pythonRows(RemoteFixtures.summarySQL("read_parquet('\(data.path)/*.parquet')"))
        #expect(ours.count == 4)
        #expect(ours == theirs)
        // The table's files really are on the S3 server.
        let objects = try await S3VersionProbe(url: "s3://lake/data/**/*.parquet", secret: RemoteFixtures.secret(server), timeout: RemoteFixtures.patience)
            .list(continuationToken: nil).objects
        #expect(objects.count >= 2)
        // A rolled-back transaction commits no snapshot.
        _ = try await pool.withConnection { connection in
            try? connection.transaction {
                _ = try connection.execute("DELETE FROM lake.orders WHERE id < 10")
                throw DuckDBError(.execute, "roll back")
            }
        }
        #expect(try await probe.currentVersion() == afterInsert)
        await pool.shutdown()
    }

    @Test func aDuckLakeWithItsDefaultDataPathStaysReadableUnderRestrictedAccess() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let catalog = dir.appendingPathComponent("lake.ducklake").path
        let lake = AttachedDatabase(alias: "lake", location: catalog, kind: .duckLake(dataPath: nil))
        let db = try RemoteFixtures.database(attachments: [lake], access: .only([]))
        let connection = try db.connect()
        _ = try connection.execute("CREATE TABLE lake.t AS SELECT range AS i FROM range(5)")
        _ = try connection.execute("INSERT INTO lake.t VALUES (5)")
        #expect(try connection.query("SELECT sum(i)::BIGINT FROM lake.t").row(0)[0] == .int(15))
        // The files went to DuckLake's default data path, which is allowed; its siblings are not.
        #expect(FileManager.default.fileExists(atPath: catalog + ".files"))
        try Data("secret".utf8).write(to: dir.appendingPathComponent("beside.csv"))
        #expect(performing: { _ = try connection.query("SELECT * FROM read_csv('\(dir.path)/beside.csv')") },
                throws: { String(describing: $0).contains("Permission") })
    }

    @Test func aMissingCatalogIsAQueryError() async throws {
        let pool = try DuckDBPool(database: Database(), configuration: .init(connections: 1))
        await #expect {
            _ = try await DuckLakeSnapshotProbe(pool: pool, catalog: "nope\"; DROP").currentVersion()
        } throws: { ($0 as? DataVersionError)?.kind == .query }
        await pool.shutdown()
    }
}

import Foundation
import Synchronization

/// The tests' private PostgreSQL cluster (scripts/test-postgres.sh starts it once, on loopback, in
/// its own directory), and a fresh database in it per test.
public enum TestPostgres {
    /// Where the cluster listens.
    public struct Server: Sendable {
        public let host: String
        public let port: Int
        public let user: String
    }

    /// The running cluster: started by the script on first use (idempotently: later calls, from
    /// this process or another, find it running).
    public static func server() throws -> Server {
        // Once per test process: every PostgreSQL test asks at its start, and each run of the
        // script blocks a thread of the cooperative pool that all tests share.
        try started.withLock { started in
            if let started { return started }
            let server = try startServer()
            started = server
            return server
        }
    }

    static let started = Mutex<Server?>(nil)

    static func startServer() throws -> Server {
        let script = TestSupport.packageRoot.appendingPathComponent("scripts/test-postgres.sh").path
        let output = try run("/bin/bash", [script])
        let url = output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let components = URLComponents(string: url), let host = components.host, let port = components.port else {
            throw TestSupport.MissingPeer(description: "scripts/test-postgres.sh printed '\(url)'")
        }
        return Server(host: host, port: port, user: components.user ?? "postgres")
    }

    /// A new, empty database in the cluster.
    /// - Returns: the server and the database's name
    public static func freshDatabase(_ label: String = #function) throws -> (server: Server, database: String) {
        let server = try server()
        let prefix = label.lowercased().filter { $0.isLetter || $0.isNumber }.prefix(24)
        let name = "t_\(prefix)_\(UInt32.random(in: 0...UInt32.max))"
        try psql(server, "postgres", "CREATE DATABASE \(name)")
        return (server, name)
    }

    /// Runs SQL through `psql` (the cluster's own client), returning its unaligned output.
    @discardableResult
    public static func psql(_ server: Server, _ database: String, _ sql: String) throws -> String {
        try run("/usr/bin/psql", ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", server.host, "-p", String(server.port),
                                  "-U", server.user, "-d", database, "-c", sql])
    }

    /// Terminates every backend that `LISTEN`s in `database` (the nodes' listeners): what a
    /// network drop or a server restart does to them.
    public static func terminateListeners(_ server: Server, _ database: String) throws {
        try psql(server, database, """
            SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()
            """)
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestSupport.MissingPeer(description: "\(executable) \(arguments.joined(separator: " ")) failed: \(String(decoding: stderr, as: UTF8.self))")
        }
        return String(decoding: stdout, as: UTF8.self)
    }
}

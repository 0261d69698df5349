import EventLogCore
import Foundation
import NIOSSL
import PostgresNIO

extension PostgresEventStore.Configuration {
    /// Settings from a connection URL: `postgres://user[:password]@host[:port]/database[?sslmode=…]`
    /// (`postgresql://` too). `sslmode` is `disable`, `prefer` (the default: TLS when the server
    /// offers it) or `require` (TLS, certificate verified), given at most once; the user and
    /// password are percent-decoded once; an IPv6 host is written in brackets.
    /// - Parameters:
    ///   - url: the URL
    ///   - maximumConnections: the pool's size (default 20)
    /// - Throws: ``EventStoreError`` (`.invalidArgument`) naming what is missing or wrong
    public init(url: String, maximumConnections: Int = 20) throws {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme?.lowercased() ?? "") else {
            throw EventStoreError(.invalidArgument, "the event store URL must look like postgres://user@host:5432/database")
        }
        guard var host = components.host, !host.isEmpty else { throw EventStoreError(.invalidArgument, "the event store URL names no host") }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }  // an IPv6 literal
        guard let user = components.user, !user.isEmpty else { throw EventStoreError(.invalidArgument, "the event store URL names no user") }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty else { throw EventStoreError(.invalidArgument, "the event store URL names no database") }
        let port = components.port ?? 5432
        guard (1...65535).contains(port) else { throw EventStoreError(.invalidArgument, "the event store URL's port \(port) is not a port") }
        let modes = components.queryItems?.filter { $0.name == "sslmode" } ?? []
        guard modes.count <= 1 else { throw EventStoreError(.invalidArgument, "the event store URL gives sslmode more than once") }
        let mode = modes.first.map { $0.value ?? "" } ?? "prefer"
        let tls: PostgresClient.Configuration.TLS
        switch mode {
        case "disable": tls = .disable
        case "prefer": tls = .prefer(.makeClientConfiguration())
        case "require": tls = .require(.makeClientConfiguration())
        default: throw EventStoreError(.invalidArgument, "sslmode '\(mode)' is not one of disable, prefer, require")
        }
        if let unknown = components.queryItems?.first(where: { $0.name != "sslmode" }) {
            throw EventStoreError(.invalidArgument, "the event store URL's option '\(unknown.name)' is not known (only sslmode is)")
        }
        var client = PostgresClient.Configuration(
            // URLComponents' user and password are percent-decoded already.
            host: host, port: port, username: user, password: components.password,
            database: database, tls: tls)
        client.options.maximumConnections = max(2, maximumConnections)
        self.init(client: client)
    }
}

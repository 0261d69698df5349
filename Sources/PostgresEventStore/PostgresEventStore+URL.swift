import EventLogCore
import Foundation
import NIOSSL
import PostgresNIO

extension PostgresEventStore.Configuration {
    /// Settings from a connection URL: `postgres://user[:password]@host[:port]/database[?sslmode=…]`
    /// (`postgresql://` too). `sslmode` is `disable`, `prefer` (the default: TLS when the server
    /// offers it) or `require` (TLS, certificate verified); the password is percent-decoded.
    /// - Parameters:
    ///   - url: the URL
    ///   - maximumConnections: the pool's size (default 20)
    /// - Throws: ``EventStoreError`` (`.invalidArgument`) naming what is missing or wrong
    public init(url: String, maximumConnections: Int = 20) throws {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme?.lowercased() ?? "") else {
            throw EventStoreError(.invalidArgument, "the event store URL must look like postgres://user@host:5432/database")
        }
        guard let host = components.host, !host.isEmpty else { throw EventStoreError(.invalidArgument, "the event store URL names no host") }
        guard let user = components.user, !user.isEmpty else { throw EventStoreError(.invalidArgument, "the event store URL names no user") }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty else { throw EventStoreError(.invalidArgument, "the event store URL names no database") }
        let port = components.port ?? 5432
        guard (1...65535).contains(port) else { throw EventStoreError(.invalidArgument, "the event store URL's port \(port) is not a port") }
        let mode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "prefer"
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
            host: host, port: port, username: user.removingPercentEncoding ?? user, password: components.password?.removingPercentEncoding,
            database: database, tls: tls)
        client.options.maximumConnections = max(2, maximumConnections)
        self.init(client: client)
    }
}

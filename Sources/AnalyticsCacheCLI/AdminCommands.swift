import ArgumentParser
import AsyncHTTPClient
import DiskCache
import Foundation
import NIOCore
import NIOHTTP1

/// Talks to a running server over HTTP.
struct ServerClient {
    let base: String
    var client: HTTPClient { HTTPClient.shared }

    func send(_ method: HTTPMethod, _ path: String, headers: [(String, String)] = [], body: String? = nil) async throws -> (Int, [UInt8], HTTPHeaders) {
        var request = HTTPClientRequest(url: base.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + path)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await client.execute(request, timeout: .seconds(120))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        return (Int(response.status.code), Array(buffer: bytes), response.headers)
    }
}

/// `analytics-cache warm [--server URL] [--query ID]…`
struct WarmCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warm",
        abstract: "Run a server's registered queries (default parameters) into its L1 and L2.",
        discussion: "Shows a progress bar on a terminal and one plain line per query otherwise. Exit 1 if a query failed.")

    @Option(help: "The server's base URL.")
    var server = "http://127.0.0.1:8080"

    @Option(help: "Only this query (repeatable; default: every global query).")
    var query: [String] = []

    func run() async throws {
        let api = ServerClient(base: server)
        var ids = query
        if ids.isEmpty {
            let (status, body, _) = try await api.send(.GET, "/api/queries")
            guard status == 200, let list = (try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])?["queries"] as? [[String: Any]] else {
                throw ValidationError("GET /api/queries answered \(status)")
            }
            ids = list.filter { $0["scope"] as? String == "global" }.compactMap { $0["id"] as? String }
        }
        let terminal = isatty(STDOUT_FILENO) == 1
        var failures = 0
        for (index, id) in ids.enumerated() {
            let started = ContinuousClock.now
            let (status, body, headers) = try await api.send(.GET, "/api/queries/\(id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? id)")
            let took = started.duration(to: .now)
            let served = headers.first(name: "X-Cache") ?? "-"
            if status != 200 { failures += 1 }
            let line = status == 200 ? "\(id): \(served), \(body.count) bytes, \(took)" : "\(id): failed \(status) \(String(decoding: body.prefix(200), as: UTF8.self))"
            if terminal {
                let done = index + 1, width = 30
                let bar = String(repeating: "#", count: done * width / ids.count) + String(repeating: ".", count: width - done * width / ids.count)
                print("\r[\(bar)] \(done)/\(ids.count) \(line)".padding(toLength: 110, withPad: " ", startingAt: 0), terminator: done == ids.count ? "\n" : "")
                fflush(nil)
            } else {
                print(line)
            }
        }
        if failures > 0 { throw ExitCode(1) }
    }
}

/// `analytics-cache invalidate [--server URL] [--token T] (--query ID [--param k=v]… | --expression E | --everything)`
struct InvalidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "invalidate",
        abstract: "Invalidate a running server's cached results (POST /api/cache/invalidate).")

    @Option(help: "The server's base URL.")
    var server = "http://127.0.0.1:8080"

    @Option(help: "The admin token (default: $ANALYTICS_CACHE_ADMIN_TOKEN).")
    var token: String?

    @Option(help: "Every result of this query (with --param: one request's).")
    var query: String?

    @Option(help: "A parameter of the request, name=value (repeatable; with --query).")
    var param: [String] = []

    @Option(help: "Results whose dependencies overlap this key expression (events/Type/Id, * and **).")
    var expression: String?

    @Flag(help: "Everything.")
    var everything = false

    func validate() throws {
        guard [query != nil, expression != nil, everything].filter({ $0 }).count == 1 else {
            throw ValidationError("give exactly one of --query, --expression or --everything")
        }
        if !param.isEmpty, query == nil { throw ValidationError("--param needs --query") }
        if let bad = param.first(where: { !$0.contains("=") }) { throw ValidationError("--param \(bad): expected name=value") }
    }

    func run() async throws {
        var body: [String: Any] = [:]
        if everything { body["everything"] = true }
        if let expression { body["expression"] = expression }
        if let query {
            body["query"] = query
            if !param.isEmpty {
                body["parameters"] = Dictionary(param.map { pair -> (String, String) in
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
                }, uniquingKeysWith: { _, last in last })
            }
        }
        let api = ServerClient(base: server)
        let secret = token ?? ProcessInfo.processInfo.environment["ANALYTICS_CACHE_ADMIN_TOKEN"] ?? ""
        let json = String(decoding: try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]), as: UTF8.self)
        let (status, answer, _) = try await api.send(.POST, "/api/cache/invalidate",
                                                     headers: [("Content-Type", "application/json"), ("Authorization", "Bearer \(secret)")], body: json)
        print("\(status) \(String(decoding: answer, as: UTF8.self))")
        if status != 200 { throw ExitCode(1) }
    }
}

/// `analytics-cache stats [--server URL | --l2 DIR]`
struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Cache statistics: a running server's analytics metrics, or an L2 directory's figures.")

    @Option(help: "The server's base URL (reads GET /metrics).")
    var server = "http://127.0.0.1:8080"

    @Option(help: "An L2 directory to read instead (opened alongside a running server; nothing is changed).")
    var l2: String?

    func run() async throws {
        if let l2 {
            let cache = try DiskCache(configuration: .init(path: l2))
            let stats = try cache.statistics()
            print("entries \(stats.entries)")
            print("record_bytes \(stats.recordBytes)")
            print("byte_budget \(stats.byteBudget)")
            print("used_map_bytes \(stats.usedMapBytes)")
            print("evictions \(stats.evictions)")
            print("corrupt_entries \(stats.corruptEntries)")
            return
        }
        let api = ServerClient(base: server)
        let (status, body, _) = try await api.send(.GET, "/metrics")
        guard status == 200 else { throw ValidationError("GET /metrics answered \(status)") }
        for line in String(decoding: body, as: UTF8.self).split(separator: "\n")
        where !line.hasPrefix("#") && (line.hasPrefix("analytics_") || line.hasPrefix("disk_cache") || line.hasPrefix("duckdb_")) {
            print(line)
        }
    }
}

import AnalyticsCache
import AnalyticsServer
import AsyncHTTPClient
import CacheTestSupport
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import TestSupport

/// A live server on a loopback port over a complete cache (real SQLite, DuckDB, LMDB), the
/// projector and the cache running as services beside it, and an HTTP client.
struct ServerRig: Sendable {
    let harness: Harness
    let server: AnalyticsServer
    let port: Int
    let group: ServiceGroup

    /// Shuts the server down gracefully now (as SIGTERM would).
    func shutDown() async { await group.triggerGracefulShutdown() }
    var base: String { "http://127.0.0.1:\(port)" }
    let client: HTTPClient

    static let totals = QueryDefinition(
        id: "tenant-totals", sql: "SELECT count(*) AS n, coalesce(sum(amount), 0)::BIGINT AS total FROM orders WHERE tenant = ?",
        scope: .tenant)
    static let customer = QueryDefinition(
        id: "customer-count", sql: "SELECT count(*) AS n FROM orders WHERE customer = ?",
        parameters: [ParameterSpec("customer", .text, default: .text("c"), rule: .maxLength(16))],
        dependencies: .only(["events/Customer/{customer}"]))
    static let all = QueryDefinition(id: "all-orders", sql: "SELECT count(*) AS n, coalesce(sum(amount), 0)::BIGINT AS total FROM orders")

    /// Runs `body` against a live server, then shuts it down gracefully (as SIGTERM would) and
    /// waits for every service to end.
    static func with(
        _ configure: @Sendable (inout ServerConfiguration) -> Void = { _ in },
        queries: [QueryDefinition] = [ServerRig.totals, ServerRig.customer, ServerRig.all],
        dashboard: [DashboardPanel]? = nil,
        label: String = #function,
        _ body: @Sendable (ServerRig) async throws -> Void
    ) async throws {
        let harness = try await Harness(label: label, refreshDelay: .milliseconds(5))
        defer { TestSupport.remove(harness.root) }
        for query in queries { try await harness.cache.register(query) }
        var configuration = ServerConfiguration(port: 0, adminToken: "secret-admin", tenancy: .header("X-Tenant"))
        configure(&configuration)
        let server = AnalyticsServer(cache: harness.cache, configuration: configuration)
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        let router = server.router()
        if let dashboard { server.addDashboard(to: router, panels: dashboard, title: "Test <dashboard>") }
        let app = server.application(router: router, services: [harness.projector, harness.cache], onServerRunning: { portSink.yield($0) })
        let group = ServiceGroup(configuration: .init(services: [app], logger: Logger(label: "server-tests")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw HarnessError(description: "the server did not start") }
            // Its own client: long-lived SSE requests hold connections, more than the shared
            // client's 8 per host.
            var clientConfiguration = HTTPClient.Configuration()
            clientConfiguration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 512)
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
            defer { _ = client.shutdown() }
            let rig = ServerRig(harness: harness, server: server, port: port, group: group, client: client)
            do {
                try await body(rig)
            } catch {
                await group.triggerGracefulShutdown()
                try? await tasks.waitForAll()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        await harness.shutdown()
    }

    /// A request; the whole body read.
    func send(
        _ method: HTTPMethod = .GET, _ path: String, headers: [(String, String)] = [], body: String? = nil
    ) async throws -> (status: Int, headers: HTTPHeaders, body: [UInt8]) {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await client.execute(request, timeout: .seconds(60))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        return (Int(response.status.code), response.headers, Array(buffer: bytes))
    }

    /// Runs a program off Swift's cooperative threads (the server shares them).
    /// - Returns: its exit status and its standard output (standard error appended)
    static func run(_ executable: String, _ arguments: [String]) async throws -> (Int32, String) {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                do {
                    let process = Process()
                    process.executableURL = URL(fileURLWithPath: executable)
                    process.arguments = arguments
                    let out = Pipe()
                    process.standardOutput = out
                    process.standardError = out
                    try process.run()
                    let data = out.fileHandleForReading.readDataToEndOfFile()
                    process.waitUntilExit()
                    continuation.resume(returning: (process.terminationStatus, String(decoding: data, as: UTF8.self)))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    /// A JSON object from a response body.
    static func object(_ bytes: [UInt8]) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] ?? [:]
    }

    /// JSON rows from a response body.
    static func rows(_ bytes: [UInt8]) -> [[String: Any]] {
        (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [[String: Any]] ?? []
    }

    /// Posts one order event through the API.
    func postOrder(tenant: String, customer: String = "c", amount: Int = 1) async throws -> (status: Int, headers: HTTPHeaders, body: [UInt8]) {
        try await send(.POST, "/api/events", headers: [("Content-Type", "application/json")], body: """
            {"aggregateType":"Customer","aggregateId":"\(customer)","events":[{"type":"OrderPlaced","payload":{"tenant":"\(tenant)","customer":"\(customer)","amount":\(amount)}}]}
            """)
    }
}

/// Reads Server-Sent Events from a streaming response, one frame at a time.
final class SSEReader: @unchecked Sendable {
    // @unchecked: used by one task at a time (the test that opened the stream).
    struct Frame {
        var id: String?
        var event: String?
        var data: String
        var isComment: Bool
        var object: [String: Any] { ServerRig.object(Array(data.utf8)) }
    }

    private var iterator: HTTPClientResponse.Body.AsyncIterator
    private var pending: [UInt8] = []
    let status: Int
    let headers: HTTPHeaders

    init(_ rig: ServerRig, _ path: String, headers: [(String, String)] = []) async throws {
        var request = HTTPClientRequest(url: rig.base + path)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await rig.client.execute(request, timeout: .seconds(120))
        status = Int(response.status.code)
        self.headers = response.headers
        iterator = response.body.makeAsyncIterator()
    }

    /// The next frame (comments included); nil when the stream ended.
    func next() async throws -> Frame? {
        while true {
            if let end = Self.frameEnd(pending) {
                let block = String(decoding: pending[..<end], as: UTF8.self)
                pending.removeFirst(end + 2)
                var frame = Frame(id: nil, event: nil, data: "", isComment: false)
                var data: [String] = []
                for line in block.split(separator: "\n", omittingEmptySubsequences: false) {
                    if line.hasPrefix(":") { frame.isComment = true }
                    else if line.hasPrefix("id: ") { frame.id = String(line.dropFirst(4)) }
                    else if line.hasPrefix("event: ") { frame.event = String(line.dropFirst(7)) }
                    else if line.hasPrefix("data: ") { data.append(String(line.dropFirst(6))) }
                }
                frame.data = data.joined(separator: "\n")
                return frame
            }
            guard let chunk = try await iterator.next() else { return nil }
            pending.append(contentsOf: chunk.readableBytesView)
        }
    }

    /// The next frame that is not a comment.
    func nextEvent() async throws -> Frame? {
        while let frame = try await next() { if !frame.isComment { return frame } }
        return nil
    }

    static func frameEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 2 else { return nil }
        for index in 0..<(bytes.count - 1) where bytes[index] == 10 && bytes[index + 1] == 10 { return index }
        return nil
    }
}

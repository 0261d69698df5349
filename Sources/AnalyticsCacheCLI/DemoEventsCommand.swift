import AnalyticsServer
import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore

/// `analytics-cache demo-events [--rate N] [--count N] [--server URL]`
struct DemoEventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo-events",
        abstract: "Post demo orders to a running server's API at a steady rate.",
        discussion: "Each order is an OrderPlaced event, some followed by OrderPaid or OrderCancelled. Exits 0 once every order was accepted (201), 1 otherwise."
    )

    @Option(help: "Orders per second.")
    var rate = 5.0

    @Option(help: "How many orders.")
    var count = 20

    @Option(help: "The server's base URL.")
    var server = "http://127.0.0.1:8080"

    func validate() throws {
        guard rate > 0 else { throw ValidationError("--rate must be positive") }
        guard count >= 0 else { throw ValidationError("--count must not be negative") }
    }

    func run() async throws {
        let client = HTTPClient.shared
        let first = Int.random(in: 1_000_000..<1_000_000_000)
        let interval = Duration.seconds(1.0 / rate)
        var next = ContinuousClock.now
        var failures = 0
        for index in 0..<count {
            try await Task.sleep(until: next)  // pacing the load, not synchronisation
            next += interval
            var request = HTTPClientRequest(url: server + "/api/events")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: DemoDomain.appendBody(first + index)))
            do {
                let response = try await client.execute(request, timeout: .seconds(30))
                let body = try await response.body.collect(upTo: 1 << 20)
                if response.status.code == 201 {
                    print("order \(index + 1)/\(count) accepted at position \(response.headers.first(name: "X-Event-Position") ?? "?")")
                } else {
                    failures += 1
                    print("order \(index + 1)/\(count) refused: \(response.status.code) \(String(buffer: body))")
                }
            } catch {
                failures += 1
                print("order \(index + 1)/\(count) failed: \(error)")
            }
        }
        if failures > 0 { throw ExitCode(1) }
    }
}

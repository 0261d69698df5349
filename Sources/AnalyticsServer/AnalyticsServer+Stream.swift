import AnalyticsCache
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ResultFormat
import ServiceLifecycle

extension AnalyticsServer {
    /// One watched request of a stream.
    struct Watched {
        var query: String
        var parameters: [String: String]
        var key: String
    }

    /// `GET /api/analytics/stream?queries=a,b&a.param=value`: Server-Sent Events. First the current
    /// result of each watched query (`event: result`), then, as they happen, `invalidated` (a
    /// result changed; its refreshed value follows) and `result` (a refreshed value). Every event
    /// has an `id:`; a client reconnecting with `Last-Event-ID` is given what the bus still holds
    /// after it, or else `event: resync` and the current results again — as is a client that fell
    /// more than the stream buffer behind. A comment heartbeat keeps idle streams open.
    func stream(_ request: Request) async throws -> Response {
        let scope = try await scope(of: request)
        let parameters = try textParameters(request)
        let ids = (parameters["queries"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !ids.isEmpty else { throw APIProblem(.badRequest, "name the queries to watch: ?queries=a,b", details: ["parameter": "queries"]) }
        guard ids.count <= 32 else { throw APIProblem(.badRequest, "at most 32 queries per stream", details: ["parameter": "queries"]) }
        var watched: [Watched] = []
        for id in Set(ids).sorted() {
            guard let definition = cache.definition(of: id) else { throw APIProblem(.notFound, "no query '\(id)' is registered") }
            if definition.scope != .global, scope.tenant == nil {
                throw APIProblem(.unauthorized, "query \(id) is per \(definition.scope.rawValue): the request must name one")
            }
            var own: [String: String] = [:]
            for (name, value) in parameters where name.hasPrefix(id + ".") { own[String(name.dropFirst(id.count + 1))] = value }
            do {
                watched.append(Watched(query: id, parameters: own, key: try cache.key(for: id, textParameters: own, scope: scope).rawValue))
            } catch let error as ParameterError {
                throw APIProblem(.badRequest, "\(id): \(error.description)", details: ["parameter": "\(id).\(error.parameter)", "rule": error.rule])
            }
        }
        return eventStream(watched, scope: scope, resume: StreamPosition(request.headers[.lastEventID]), format: .json)
    }

    /// How a stream writes results: JSON for API clients, or rendered panels for the dashboard.
    enum StreamFormat {
        case json
        case dashboard([String: [DashboardPanel]])
    }

    /// The SSE response for `watched` (see ``stream(_:)``).
    func eventStream(_ watched: [Watched], scope: ScopeValue, resume: StreamPosition?, format: StreamFormat) -> Response {
        let watchedRequests = watched
        let bus = cache.bus
        let after = resume.flatMap { $0.epoch == bus.epoch ? $0.sequence : nil }
        let headers: HTTPFields = [
            .contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-cache",
            .xAccelBuffering: "no",
        ]
        let filter = BusFilter(queries: Set(watched.map(\.query)), keys: Set(watched.map(\.key)))
        return Response(status: .ok, headers: headers, body: ResponseBody { [self] writer in
            // Subscribed when the body is written, before the current results are read (so nothing
            // published in between is missed): a response whose body is never written (a HEAD
            // request's) leaves no subscriber behind on the bus.
            let subscription = bus.subscribe(filter: filter, capacity: configuration.streamBuffer, after: after)
            streams.add(1, ordering: .relaxed)
            streamGauge.record(openStreams)
            defer {
                subscription.cancel()
                streams.subtract(1, ordering: .relaxed)
                streamGauge.record(openStreams)
            }
            await withTaskGroup(of: Void.self) { heartbeats in
                var listener: UInt64?
                switch configuration.heartbeat {
                case .every(let interval):
                    heartbeats.addTask {
                        while !Task.isCancelled {
                            try? await Task.sleep(for: interval)
                            subscription.interrupt()
                        }
                    }
                case .manual(let trigger):
                    listener = trigger.listen { subscription.interrupt() }
                }
                await withGracefulShutdownHandler {
                    do {
                        if resume == nil {
                            try await writeResults(watchedRequests, scope: scope, format: format, to: &writer)
                        } else if after == nil {
                            // Another process's position: what happened since is unknown.
                            try await writer.write(frame(SSEFrame(id: position(bus.lastSequence), event: "resync", data: #"{"reason":"unknown-position"}"#)))
                            try await writeResults(watchedRequests, scope: scope, format: format, to: &writer)
                        }
                        loop: while true {
                            if let hook = streamHook.withLock({ $0 }) { await hook() }
                            switch await subscription.nextEvent() {
                            case .finished:
                                break loop
                            case .interrupted:
                                try await writer.write(ByteBuffer(bytes: SSEFrame.comment("heartbeat")))
                            case .message(.lagged(let missed)):
                                try await writer.write(frame(SSEFrame(id: position(bus.lastSequence), event: "resync",
                                                                      data: #"{"reason":"lagged","missed":\#(missed)}"#)))
                                try await writeResults(watchedRequests, scope: scope, format: format, to: &writer)
                            case .message(.update(let update)):
                                for frame in updateFrames(update, format: format) { try await writer.write(self.frame(frame)) }
                            }
                        }
                    } catch {
                        // The client went away (or a result failed): the stream ends.
                        configuration.logger.debug("stream ended", metadata: ["error": "\(error)"])
                    }
                } onGracefulShutdown: {
                    subscription.cancel()
                }
                if case .manual(let trigger) = configuration.heartbeat, let listener { trigger.stopListening(listener) }
                heartbeats.cancelAll()
            }
            try? await writer.finish(nil)
        })
    }

    func position(_ sequence: UInt64) -> String { StreamPosition(epoch: cache.bus.epoch, sequence: sequence).text }

    func frame(_ frame: SSEFrame) -> ByteBuffer { ByteBuffer(bytes: frame.encoded) }

    /// The current result of each watched request, as `result` events.
    func writeResults(_ watched: [Watched], scope: ScopeValue, format: StreamFormat, to writer: inout any ResponseBodyWriter) async throws {
        let id = position(cache.bus.lastSequence)
        for request in watched {
            let result: AnalyticsResult?
            do {
                result = try await cache.result(for: request.query, textParameters: request.parameters, scope: scope)
            } catch {
                configuration.logger.warning("stream: a watched result failed", metadata: ["query": "\(request.query)", "error": "\(error)"])
                result = nil
            }
            switch format {
            case .json:
                let data = try result.map { try Self.resultJSON(query: request.query, key: request.key, result: $0, reason: "current", position: nil) }
                    ?? Self.object(["query": request.query, "key": request.key, "error": "the result could not be computed"])
                try await writer.write(frame(SSEFrame(id: id, event: "result", data: data)))
            case .dashboard(let panels):
                for panel in panels[request.query] ?? [] {
                    try await writer.write(frame(SSEFrame(id: id, event: "panel", data: DashboardRenderer.panel(panel, result: result))))
                }
            }
        }
    }

    func updateFrames(_ update: AnalyticsUpdate, format: StreamFormat) -> [SSEFrame] {
        let id = position(update.sequence)
        if case .dashboard(let panels) = format {
            return (panels[update.query] ?? []).map { panel in
                if let result = update.result { return SSEFrame(id: id, event: "panel", data: DashboardRenderer.panel(panel, result: result)) }
                return SSEFrame(id: id, event: "stale", data: panel.elementID)
            }
        }
        return [updateFrame(update)]
    }

    func updateFrame(_ update: AnalyticsUpdate) -> SSEFrame {
        let id = position(update.sequence)
        if let result = update.result, let data = try? Self.resultJSON(
            query: update.query, key: update.key, result: result, reason: update.reason.rawValue, position: update.position) {
            return SSEFrame(id: id, event: "result", data: data)
        }
        var object: [String: Any] = ["query": update.query, "reason": update.reason.rawValue, "eventTypes": update.eventTypes.sorted()]
        if let key = update.key { object["key"] = key }
        if let position = update.position { object["position"] = position }
        return SSEFrame(id: id, event: "invalidated", data: Self.object(object))
    }

    /// `{"query", "key", "servedBy", "ageSeconds", "computeMs", "etag", "reason", "position", "rows": [...]}`.
    static func resultJSON(query: String, key: String?, result: AnalyticsResult, reason: String, position: Int64?) throws -> String {
        var head: [String: Any] = [
            "query": query, "servedBy": result.servedBy.rawValue, "ageSeconds": Int(result.age.components.seconds),
            "computeMs": Double(milliseconds(result.computeTime)) ?? 0, "etag": result.etag, "reason": reason,
        ]
        if let key { head["key"] = key }
        if let position { head["position"] = position }
        let rows = try JSONResultEncoder().encode(try ArchivedResult(bytes: result.arrow))
        var text = object(head)
        text.removeLast()  // the closing brace: the rows go in the same object
        return text + #","rows":"# + String(decoding: rows, as: UTF8.self) + "}"
    }

    static func object(_ object: [String: Any]) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8), as: UTF8.self)
    }
}

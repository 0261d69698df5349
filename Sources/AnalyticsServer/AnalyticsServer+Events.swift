import AnalyticsCache
import EventLogCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

extension AnalyticsServer {
    /// `POST /api/events`: `{"aggregateType", "aggregateId", "expectedVersion": n | "any" | "none",
    /// "events": [{"type", "payload": {…}, "metadata": {…}}]}` → 201 with the positions once the
    /// freshness contract holds (committed, projected, invalidated); 409 on a version conflict.
    func appendEvents(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let contentType = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        guard contentType == "application/json" else {
            throw APIProblem(.unsupportedMediaType, "events are posted as application/json")
        }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > configuration.maxEventBodyBytes {
            throw APIProblem(.contentTooLarge, "the body is larger than \(configuration.maxEventBodyBytes) bytes")
        }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: configuration.maxEventBodyBytes)
        } catch {
            throw APIProblem(.contentTooLarge, "the body is larger than \(configuration.maxEventBodyBytes) bytes")
        }
        let (aggregate, expected, events) = try Self.parseAppend(Data(buffer: body))
        if let check = configuration.eventCheck {
            for (index, event) in events.enumerated() {
                if let problem = check(event.type, event.payload) {
                    let field = "events[\(index)]." + (problem.split(separator: ":").first.map(String.init) ?? "payload")
                    throw APIProblem(.badRequest, "events[\(index)].\(problem)", details: ["field": field])
                }
            }
        }
        let recorded: [RecordedEvent]
        do {
            recorded = try await cache.append(events, to: aggregate, expectedVersion: expected)
        } catch let error as EventStoreError {
            switch error.kind {
            case .versionConflict(_, let actual):
                throw APIProblem(.conflict, error.message, details: ["actualVersion": String(actual)])
            case .invalidJSON, .invalidArgument:
                throw APIProblem(.badRequest, error.message)
            case .tooLarge:
                throw APIProblem(.contentTooLarge, error.message)
            case .busy:
                throw APIProblem(.serviceUnavailable, "the event log is busy; retry shortly", headers: [.retryAfter: "1"])
            case .unavailable:
                throw APIProblem(.serviceUnavailable, "the event log cannot be reached; retry shortly", headers: [.retryAfter: "1"])
            default:
                throw error
            }
        }
        let positions = recorded.map(\.position)
        let last = positions.last ?? 0
        return Response.json(
            object: ["positions": positions, "position": last, "version": recorded.last?.version ?? 0],
            status: .created, headers: [.xEventPosition: String(last)])
    }

    /// The append a body asks for; 400 naming the field that is wrong.
    static func parseAppend(_ data: Data) throws -> (AggregateID, ExpectedVersion, [NewEvent]) {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw APIProblem(.badRequest, "the body is not a JSON object")
        }
        guard let type = object["aggregateType"] as? String, !type.isEmpty else {
            throw APIProblem(.badRequest, "aggregateType: a non-empty string is required", details: ["field": "aggregateType"])
        }
        guard let id = object["aggregateId"] as? String, !id.isEmpty else {
            throw APIProblem(.badRequest, "aggregateId: a non-empty string is required", details: ["field": "aggregateId"])
        }
        let expected: ExpectedVersion
        switch object["expectedVersion"] {
        case nil, "any" as String: expected = .any
        case "none" as String: expected = .noStream
        case let number as NSNumber where number.objCType.pointee != 0x63 /* "c": a JSON boolean */ && number.int64Value >= 1
            && Double(number.int64Value) == number.doubleValue:
            expected = .exact(number.int64Value)
        default:
            throw APIProblem(.badRequest, "expectedVersion: \"any\", \"none\" or a version ≥ 1", details: ["field": "expectedVersion"])
        }
        guard let list = object["events"] as? [Any], !list.isEmpty else {
            throw APIProblem(.badRequest, "events: a non-empty array is required", details: ["field": "events"])
        }
        let events = try list.enumerated().map { index, item -> NewEvent in
            guard let event = item as? [String: Any], let type = event["type"] as? String, !type.isEmpty else {
                throw APIProblem(.badRequest, "events[\(index)].type: a non-empty string is required", details: ["field": "events[\(index)].type"])
            }
            func json(_ key: String) throws -> String {
                guard let value = event[key] else { return "{}" }
                guard value is [String: Any] else {
                    throw APIProblem(.badRequest, "events[\(index)].\(key): a JSON object is required", details: ["field": "events[\(index)].\(key)"])
                }
                let data = try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes])
                return String(decoding: data, as: UTF8.self)
            }
            return NewEvent(type: type, payload: try json("payload"), metadata: try json("metadata"))
        }
        return (AggregateID(type: type, id: id), expected, events)
    }

    /// `POST /api/cache/invalidate` (admin token): `{"query": id, "parameters": {…}}`,
    /// `{"query": id}`, `{"expression": "events/…"}` or `{"everything": true}`.
    func invalidate(_ request: Request, context: BasicRequestContext) async throws -> Response {
        try requireAdmin(request)
        var request = request
        let body = try await request.collectBody(upTo: 64 << 10)
        guard let object = (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] else {
            throw APIProblem(.badRequest, "the body is not a JSON object")
        }
        let what: AnalyticsCache.Invalidation
        if object["everything"] as? Bool == true {
            what = .everything
        } else if let expression = object["expression"] as? String {
            what = .expression(expression)
        } else if let query = object["query"] as? String {
            if let parameters = object["parameters"] as? [String: Any] {
                guard let definition = cache.definition(of: query) else { throw APIProblem(.notFound, "no query '\(query)' is registered") }
                let text = parameters.mapValues { "\($0)" }
                let scope = try await scope(of: request)
                do {
                    // Parsed and checked once, as a lookup would (declared names, types, rules).
                    let values = try definition.validate(text: text, scope: scope)
                    what = .request(query: query, parameters: Dictionary(uniqueKeysWithValues: zip(definition.parameters.map(\.name), values)), scope: scope)
                } catch let error as ParameterError {
                    throw APIProblem(.badRequest, error.description, details: ["parameter": error.parameter, "rule": error.rule])
                }
            } else {
                what = .query(query)
            }
        } else {
            throw APIProblem(.badRequest, "name a query (with or without parameters), an expression, or everything")
        }
        do {
            try await cache.invalidate(what)
        } catch let error as AnalyticsCacheError where error.kind == .unknownQuery {
            throw APIProblem(.notFound, error.message)
        } catch let error as KeyExpressionError {
            throw APIProblem(.badRequest, "\(error)")
        }
        return Response.json(object: ["invalidated": true])
    }
}

extension AnalyticsServer {
    /// `POST /api/admin/reload` (admin token): the deployment's config is read again, checked, and
    /// applied; 422 lists the problems of a config that was refused (the old one keeps serving).
    func reload(_ request: Request) async throws -> Response {
        try requireAdmin(request)
        guard let reload = configuration.reload else {
            throw APIProblem(.notFound, "this server has no config to reload (start it with serve --config FILE)")
        }
        do {
            let report = try await reload()
            return Response.json(object: report.mapValues { $0 as Any })
        } catch let refused as ReloadRefused {
            configuration.logger.error("config reload refused", metadata: ["problems": "\(refused.problems)"])
            if refused.partlyApplied {
                return Response.json(object: ["error": "the config was partly reloaded", "problems": refused.problems], status: .internalServerError)
            }
            return Response.json(object: ["error": "the config was not reloaded; the previous one keeps serving", "problems": refused.problems],
                                 status: .unprocessableContent)
        }
    }
}

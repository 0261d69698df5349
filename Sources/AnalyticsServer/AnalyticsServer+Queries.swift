import AnalyticsCache
import DuckDBClient
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ResultFormat

/// How a result is written.
enum ResultEncoding: String {
    case json = "application/json; charset=utf-8"
    case arrow = "application/vnd.apache.arrow.stream"
    case csv = "text/csv; charset=utf-8"

    /// From an `Accept` header: Arrow or CSV when asked for, JSON for JSON, `*/*` or nothing;
    /// nil when only other types are acceptable (406).
    /// The prefix of its bodies' keys in the server's body cache.
    var cachePrefix: String {
        switch self {
        case .json: "j"
        case .arrow: "a"
        case .csv: "c"
        }
    }

    init?(accept: String?) {
        guard let accept, !accept.isEmpty else {
            self = .json
            return
        }
        // The common exact values first: no splitting and lowercasing per request.
        switch accept {
        case "application/vnd.apache.arrow.stream": self = .arrow; return
        case "application/json", "*/*": self = .json; return
        case "text/csv": self = .csv; return
        default: break
        }
        let types = accept.split(separator: ",").map { ($0.split(separator: ";").first ?? "").trimmingCharacters(in: .whitespaces).lowercased() }
        if types.contains("application/vnd.apache.arrow.stream") {
            self = .arrow
        } else if types.contains("text/csv") {
            self = .csv
        } else if types.contains(where: { $0 == "application/json" || $0 == "*/*" || $0 == "application/*" }) {
            self = .json
        } else {
            return nil
        }
    }
}

extension AnalyticsServer {
    /// `GET /api/queries`: every registered query with its parameters' schema.
    func listQueries() -> Response {
        let queries = cache.definitions().map { definition -> [String: Any] in
            [
                "id": definition.id,
                "scope": definition.scope.rawValue,
                "parameters": definition.parameters.map(Self.schema),
            ]
        }
        return Response.json(object: ["queries": queries])
    }

    static func schema(_ spec: ParameterSpec) -> [String: Any] {
        var object: [String: Any] = ["name": spec.name, "type": spec.kind.rawValue, "required": spec.defaultValue == nil]
        if let value = spec.defaultValue { object["default"] = value.description }
        switch spec.rule {
        case .any: break
        case .range(let min, let max):
            if let min { object["minimum"] = min }
            if let max { object["maximum"] = max }
        case .oneOf(let values): object["enum"] = values.map(\.description)
        case .maxLength(let length): object["maxLength"] = length
        }
        return object
    }

    /// `GET /api/queries/{id}`: the result, from the cache, in the format the client accepts.
    func queryResult(_ request: Request, id: String) async throws -> Response {
        guard let definition = cache.definition(of: id) else { throw APIProblem(.notFound, "no query '\(id)' is registered") }
        guard let encoding = ResultEncoding(accept: request.headers[.accept]) else {
            throw APIProblem(.notAcceptable, "results are served as application/json, application/vnd.apache.arrow.stream or text/csv")
        }
        var parameters = try textParameters(request)
        // Causal read tokens (positions from `POST /api/events`, on this node or another): the
        // answer reflects every event through the highest of them. `?after=` is one unless the
        // query declares a parameter of that name; so is `X-Min-Position`.
        var tokens: [String] = request.headers[values: .xMinPosition]
        if !definition.parameters.contains(where: { $0.name == "after" }) {
            parameters.removeValue(forKey: "after")
            tokens += request.uri.queryParameters.filter { $0.key == "after" }.map { String($0.value) }
        }
        let scope = try await scope(of: request)
        if definition.scope != .global, scope.tenant == nil {
            throw APIProblem(.unauthorized, "query \(id) is per \(definition.scope.rawValue): the request must name one")
        }
        // After authentication (an anonymous caller learns nothing of the log), and counted among
        // the requests in flight.
        if !tokens.isEmpty { try await admitted { try await waitForPosition(tokens) } }
        var options = AnalyticsCache.LookupOptions()
        if let control = request.headers[.cacheControl]?.lowercased(), control.contains("no-cache") || control.contains("no-store") {
            if configuration.bypassRequiresAdmin { try requireAdmin(request) }
            options.bypassCache = true
        }
        let result: AnalyticsResult
        do {
            result = try await admitted { try await cache.result(for: id, textParameters: parameters, scope: scope, options: options) }
        } catch let error as ParameterError {
            throw APIProblem(.badRequest, error.description, details: ["parameter": error.parameter, "rule": error.rule])
        } catch let error as AnalyticsCacheError where error.kind == .unknownQuery {
            throw APIProblem(.notFound, error.message)
        } catch let error as DuckDBPoolError {
            switch error {
            case .overloaded:
                throw APIProblem(.serviceUnavailable, "the database is busy; retry shortly", headers: [.retryAfter: "1"])
            case .timedOut:
                throw APIProblem(.gatewayTimeout, "the query did not finish in time")
            default:
                throw APIProblem(.serviceUnavailable, "the database is not available", details: ["reason": error.description], headers: [.retryAfter: "1"])
            }
        }
        let etag = result.etag.hasPrefix("\"") ? result.etag : "\"" + result.etag + "\""
        var headers: HTTPFields = [
            .eTag: etag,
            .age: String(Int(result.age.components.seconds)),
            .xCache: result.servedBy.rawValue,
            .cacheControl: definition.scope == .global ? "no-cache" : "private, no-cache",
            .serverTiming: "compute;dur=\(Self.milliseconds(result.computeTime)), cache;desc=\(result.servedBy.rawValue)",
            .vary: "Accept",
        ]
        if definition.scope != .global { headers[.vary] = "Accept, Authorization" }
        if let match = request.headers[.ifNoneMatch], match.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == etag || $0.trimmingCharacters(in: .whitespaces) == "*" }) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = encoding.rawValue
        let bodyKey = encoding.cachePrefix + result.etag
        if let body = encoded.value(forKey: bodyKey) {
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: body))
        }
        let small = result.arrow.count <= configuration.encodedCacheBytes / 16
        if encoding == .arrow {
            let body = ByteBuffer(bytes: result.arrow)
            if small { encoded.insert(body, forKey: bodyKey) }
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: body))
        }
        let archive = try ArchivedResult(bytes: result.arrow)
        if small {
            let body = ByteBuffer(bytes: try encoding == .json ? JSONResultEncoder().encode(archive) : CSVResultEncoder().encode(archive))
            encoded.insert(body, forKey: bodyKey)
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: body))
        }
        let chunks = encoding == .json ? JSONResultEncoder().chunks(archive) : CSVResultEncoder().chunks(archive)
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            for try await chunk in chunks { try await writer.write(ByteBuffer(bytes: chunk)) }
            try await writer.finish(nil)
        })
    }

    /// Waits (at most ``ServerConfiguration/causalReadTimeout``) until this node has applied the
    /// log through the highest of `tokens` and invalidated what it made stale.
    /// - Throws: 400 for a token that is not a position, or one beyond the log; 503 with
    ///   `Retry-After` when the wait times out
    func waitForPosition(_ tokens: [String]) async throws {
        var position: Int64 = 0
        for token in tokens {
            guard let value = Int64(token.trimmingCharacters(in: .whitespaces)), value >= 0 else {
                throw APIProblem(.badRequest, "X-Min-Position (or after) must be a log position, a non-negative integer",
                                 details: ["parameter": "after", "rule": "a non-negative integer"])
            }
            position = max(position, value)
        }
        if cache.isFresh(through: position) { return }
        let last: Int64
        do { last = try await cache.eventLog.lastPosition() } catch {
            throw APIProblem(.serviceUnavailable, "the event log cannot be read", headers: [.retryAfter: "1"])
        }
        guard position <= last else {
            throw APIProblem(.badRequest, "position \(position) is beyond the event log (its last is \(last))",
                             details: ["parameter": "after", "rule": "at most the log's last position"])
        }
        do {
            try await cache.waitUntilFresh(through: position, timeout: configuration.causalReadTimeout)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw APIProblem(.serviceUnavailable, "this node has not caught up with position \(position) yet; retry shortly",
                             details: ["applied": cache.projector.appliedPosition.map(String.init) ?? "none"], headers: [.retryAfter: "1"])
        }
    }

    /// `duration` in milliseconds with three decimals ("186.435"), without a formatter per call.
    static func milliseconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let micros = max(0, seconds) * 1_000_000 + max(0, attoseconds) / 1_000_000_000_000
        let fraction = String(micros % 1000)
        return String(micros / 1000) + "." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }

    /// The request's query-string parameters (the last of a repeated name wins).
    func textParameters(_ request: Request) throws -> [String: String] {
        var parameters: [String: String] = [:]
        var count = 0
        for (name, value) in request.uri.queryParameters {
            count += 1
            guard count <= configuration.maxParameters else {
                throw APIProblem(.badRequest, "at most \(configuration.maxParameters) query parameters are accepted")
            }
            parameters[String(name)] = String(value)
        }
        return parameters
    }

    /// The tenant or user of a request, from the configured source.
    func scope(of request: Request) async throws -> ScopeValue {
        switch configuration.tenancy {
        case .none:
            return .none
        case .header(let name):
            guard let field = HTTPField.Name(name), let value = request.headers[field], !value.isEmpty else { return .none }
            return ScopeValue(tenant: value, user: value)
        case .jwt(let claim, let verifier):
            guard let authorization = request.headers[.authorization] else { return .none }
            guard authorization.lowercased().hasPrefix("bearer ") else { throw APIProblem(.unauthorized, "expected a bearer token") }
            let token = String(authorization.dropFirst(7)).trimmingCharacters(in: .whitespaces)
            let value: String?
            do { value = try await verifier.claim(claim, of: token) } catch {
                throw APIProblem(.unauthorized, "the bearer token is not valid", headers: [.wwwAuthenticate: "Bearer"])
            }
            guard let value, !value.isEmpty else { throw APIProblem(.unauthorized, "the bearer token has no \(claim) claim") }
            return ScopeValue(tenant: value, user: value)
        }
    }

    /// Throws 401 without the admin token, 403 with a wrong one.
    func requireAdmin(_ request: Request) throws {
        guard let authorization = request.headers[.authorization], authorization.lowercased().hasPrefix("bearer ") else {
            throw APIProblem(.unauthorized, "the admin token is required", headers: [.wwwAuthenticate: "Bearer"])
        }
        let token = Array(authorization.dropFirst(7).trimmingCharacters(in: .whitespaces).utf8)
        guard let expected = configuration.adminToken.map({ Array($0.utf8) }), Self.constantTimeEqual(token, expected) else {
            throw APIProblem(.forbidden, "the admin token is wrong")
        }
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}

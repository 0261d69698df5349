import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One URLSession for every probe (connections are reused across probes), with no cache, no
/// cookies and no credential storage: each probe asks the server.
final class HTTPProbeSession: Sendable {
    static let shared = HTTPProbeSession()

    // URLSession is documented thread-safe; the property is immutable.
    let session: URLSession
    private let redirects = RedirectGuard()

    private init() {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.requestCachePolicy = .reloadIgnoringLocalAndRemoteCacheData
        configuration.urlCache = nil
        configuration.httpCookieStorage = nil
        configuration.urlCredentialStorage = nil
        session = URLSession(configuration: configuration, delegate: redirects, delegateQueue: nil)
    }

    /// Sends `request` and returns the HTTP response and body, mapping failures to
    /// ``DataVersionError``s that name the URL (never a header).
    func send(_ request: URLRequest, timeout: Duration) async throws -> HTTPURLResponse {
        try await sendWithBody(request, timeout: timeout).response
    }

    /// Sends `request`; the response with its body.
    func sendWithBody(_ request: URLRequest, timeout: Duration) async throws -> (response: HTTPURLResponse, body: Data) {
        var request = request
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        request.timeoutInterval = max(0.001, seconds)
        let where_ = "\(request.httpMethod ?? "GET") \(Self.redacted(request.url))"
        do {
            let (body, response) = try await session.data(for: request)
            guard let http = response as? HTTPURLResponse else {
                throw DataVersionError(.malformedResponse, "\(where_): not an HTTP response")
            }
            return (http, body)
        } catch let error as DataVersionError {
            throw error
        } catch let error as URLError {
            if error.code == .timedOut {
                throw DataVersionError(.timedOut, "\(where_): no answer within \(timeout)")
            }
            throw DataVersionError(.unreachable, "\(where_): \(error.localizedDescription) (URLError \(error.code.rawValue))")
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw DataVersionError(.unreachable, "\(where_): \(error)")
        }
    }

    /// The URL without its query (which may carry tokens or signatures) or user info, for messages.
    static func redacted(_ url: URL?) -> String {
        guard let url, var components = URLComponents(url: url, resolvingAgainstBaseURL: false) else { return "?" }
        components.query = nil
        components.user = nil
        components.password = nil
        return components.string ?? "?"
    }
}

/// Follows redirects within one origin as they are; to another origin (scheme, host, port) with a
/// bare request — same method and timeout, none of the original headers — so credentials meant for
/// one host never reach another.
final class RedirectGuard: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
        guard let from = response.url ?? task.currentRequest?.url, let to = request.url else {
            completionHandler(nil)
            return
        }
        if Self.sameOrigin(from, to) {
            completionHandler(request)
        } else {
            var bare = URLRequest(url: to)
            bare.httpMethod = request.httpMethod
            bare.timeoutInterval = request.timeoutInterval
            completionHandler(bare)
        }
    }

    static func sameOrigin(_ a: URL, _ b: URL) -> Bool {
        func port(_ url: URL) -> Int? { url.port ?? (url.scheme?.lowercased() == "https" ? 443 : url.scheme?.lowercased() == "http" ? 80 : nil) }
        return a.scheme?.lowercased() == b.scheme?.lowercased() && a.host?.lowercased() == b.host?.lowercased() && port(a) == port(b)
    }
}

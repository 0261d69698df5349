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

    private init() {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.requestCachePolicy = .reloadIgnoringLocalAndRemoteCacheData
        configuration.urlCache = nil
        configuration.httpCookieStorage = nil
        configuration.urlCredentialStorage = nil
        session = URLSession(configuration: configuration)
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

    /// The URL without its query (which may carry continuation tokens) for messages.
    static func redacted(_ url: URL?) -> String {
        guard let url, var components = URLComponents(url: url, resolvingAgainstBaseURL: false) else { return "?" }
        components.query = nil
        components.user = nil
        components.password = nil
        return components.string ?? "?"
    }
}

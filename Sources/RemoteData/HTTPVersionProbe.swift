import DuckDBClient
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The version of files served over HTTP(S): one `HEAD` request per URL, all at once, versioned by
/// each file's `ETag` (or, when a server sends none, its `Last-Modified` and `Content-Length`).
///
/// A file that is replaced on the server gets a new `ETag` (or modification time), so the version
/// changes. A server that sends neither header cannot be versioned: the probe throws
/// ``DataVersionError/Kind/unversionable`` rather than guess. Redirects are followed, as DuckDB's
/// `httpfs` does — but a redirect to another origin (scheme, host or port) carries none of the
/// request's headers, so a token never reaches a host it was not configured for.
///
/// `Last-Modified` has one-second resolution: a server without ETags that rewrites a file with the
/// same length within the same second keeps the version. Prefer servers that send ETags.
public struct HTTPVersionProbe: DataVersionProbe, CustomStringConvertible, CustomReflectable {
    /// The files the dataset reads.
    public let urls: [URL]
    /// Headers sent with every request; never logged or printed.
    private let headers: [String: String]
    /// Secrets whose headers go to the URLs in their scope (DuckDB's longest-prefix rule).
    private let secrets: [HTTPSecret]
    /// How long one request may take.
    public let timeout: Duration

    /// Creates a probe.
    /// - Parameters:
    ///   - urls: the dataset's files, `http://` or `https://`
    ///   - headers: request headers sent to every URL
    ///   - secrets: HTTP secrets; each URL gets the headers of the secret DuckDB would pick for it
    ///   - timeout: per-request timeout, default 5 s
    /// - Throws: ``DataVersionError`` of kind `.configuration` for an empty list or a URL that is
    ///   not HTTP(S)
    public init(urls: [URL], headers: [String: String] = [:], secrets: [HTTPSecret] = [], timeout: Duration = .seconds(5)) throws {
        guard !urls.isEmpty else { throw DataVersionError(.configuration, "an HTTP data-version probe needs at least one URL") }
        for url in urls where !["http", "https"].contains(url.scheme?.lowercased() ?? "") || url.host == nil {
            throw DataVersionError(.configuration, "\(HTTPProbeSession.redacted(url)) is not an http(s) URL")
        }
        self.urls = urls
        self.headers = headers
        self.secrets = secrets
        self.timeout = timeout
    }

    /// The URLs (without credentials or query) and the timeout; never a header.
    public var description: String {
        "HTTPVersionProbe(\(urls.map { HTTPProbeSession.redacted($0) }), timeout: \(timeout))"
    }
    /// The same as ``description``, for `dump`.
    public var customMirror: Mirror { Mirror(self, children: ["description": description]) }

    /// `HEAD`s every URL and digests their validators in URL order.
    /// - Returns: `http:` and a digest of each URL with its `ETag` (or `Last-Modified` and length)
    /// - Throws: ``DataVersionError``
    public func currentVersion() async throws -> DataVersion {
        let session = HTTPProbeSession.shared
        let validators = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for (index, url) in urls.enumerated() {
                group.addTask {
                    var request = URLRequest(url: url)
                    request.httpMethod = "HEAD"
                    var all = headers
                    if let secret = secrets.secret(for: url.absoluteString) {
                        all.merge(secret.requestHeaders) { _, scoped in scoped }
                    }
                    for (name, value) in all { request.setValue(value, forHTTPHeaderField: name) }
                    let response = try await session.send(request, timeout: timeout)
                    return (index, try Self.validator(of: response, url: url))
                }
            }
            var found = [String](repeating: "", count: urls.count)
            for try await (index, validator) in group { found[index] = validator }
            return found
        }
        var parts: [String] = []
        for (url, validator) in zip(urls, validators) { parts += [url.absoluteString, validator] }
        return DataVersion.digest(kind: "http", parts: parts)
    }

    /// The part of a response that identifies the file's content.
    static func validator(of response: HTTPURLResponse, url: URL) throws -> String {
        guard (200..<300).contains(response.statusCode) else {
            throw DataVersionError(.httpStatus, "HEAD \(HTTPProbeSession.redacted(url)) answered \(response.statusCode)")
        }
        if let etag = response.value(forHTTPHeaderField: "ETag"), !etag.isEmpty {
            return "etag=" + etag
        }
        if let modified = response.value(forHTTPHeaderField: "Last-Modified"), !modified.isEmpty {
            return "modified=\(modified);length=\(response.value(forHTTPHeaderField: "Content-Length") ?? "?")"
        }
        throw DataVersionError(
            .unversionable, "HEAD \(HTTPProbeSession.redacted(url)) carried neither ETag nor Last-Modified: its changes cannot be seen")
    }
}

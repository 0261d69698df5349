import DuckDBClient
import Foundation
import ResultFormat
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The version of the S3 objects a DuckDB glob matches (`s3://bucket/dir/*.parquet`): one signed
/// `ListObjectsV2` request per 1 000 keys under the glob's literal prefix, versioned by every
/// matching key with its ETag and size.
///
/// Replacing, adding or removing a matching object changes the version (S3 gives a rewritten
/// object a new ETag, even with equal content when uploaded in other parts). Credentials and
/// endpoint come from the same ``DuckDBClient/S3Secret`` DuckDB reads the data with.
public struct S3VersionProbe: DataVersionProbe, CustomStringConvertible, CustomReflectable {
    /// The bucket.
    public let bucket: String
    /// The key glob inside it.
    let glob: GlobPattern
    /// Endpoint, style, region and credentials.
    public let secret: S3Secret
    /// How long one request may take.
    public let timeout: Duration
    private let signer: S3RequestSigner?

    /// Creates a probe for an `s3://bucket/key-glob` URL.
    /// - Parameters:
    ///   - url: `s3://bucket/path`, where the path may hold DuckDB glob wildcards
    ///   - secret: endpoint, URL style, region and credentials
    ///   - timeout: per-request timeout, default 5 s
    ///   - environment: where ``DuckDBClient/S3Secret/Credentials/environment`` reads its keys
    /// - Throws: ``DataVersionError`` of kind `.configuration` for a URL that is not `s3://bucket/…`
    ///   or missing credentials
    public init(
        url: String, secret: S3Secret, timeout: Duration = .seconds(5),
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws {
        guard let scheme = ["s3://", "s3a://", "s3n://"].first(where: { url.hasPrefix($0) }) else {
            throw DataVersionError(.configuration, "\(url) is not an s3:// URL")
        }
        // In an s3:// URL, `?` starts DuckDB's per-URL settings (s3_region=…), which would make
        // DuckDB read with other credentials or endpoints than the secret: not versionable here.
        guard !url.contains("?") else {
            throw DataVersionError(.configuration, "\(url.prefix { $0 != "?" })?…: URL parameters are not supported by the S3 probe; configure an S3 secret instead")
        }
        let rest = url.dropFirst(scheme.count)
        let bucket = String(rest.prefix { $0 != "/" })
        guard !bucket.isEmpty, !bucket.contains(where: { "*?[".contains($0) }) else {
            throw DataVersionError(.configuration, "\(url) names no bucket (or a wildcard in the bucket name)")
        }
        self.bucket = bucket
        self.glob = GlobPattern(pattern: String(rest.dropFirst(bucket.count + 1)), flavor: .s3)
        self.secret = secret
        self.timeout = timeout
        do {
            signer = try secret.credentials.resolve(environment: environment).map {
                S3RequestSigner(accessKeyID: $0.accessKeyID, secretAccessKey: $0.secretAccessKey, sessionToken: $0.sessionToken, region: secret.region)
            }
        } catch let error as DuckDBError {
            throw DataVersionError(.configuration, error.message)
        }
    }

    /// The bucket, glob, endpoint and timeout; never a key.
    public var description: String {
        "S3VersionProbe(s3://\(bucket)/\(glob.pattern), \(secret), timeout: \(timeout))"
    }
    /// The same as ``description``, for `dump`.
    public var customMirror: Mirror { Mirror(self, children: ["description": description]) }

    /// Lists the glob's prefix (every page) and digests the matching objects in key order.
    /// - Returns: `s3:` and a digest of each matching key with its ETag and size
    /// - Throws: ``DataVersionError``
    public func currentVersion() async throws -> DataVersion {
        let objects = try await matchingObjects()
        guard !objects.isEmpty else {
            // DuckDB refuses to read a glob that matches nothing; a version for it would be a guess.
            throw DataVersionError(.unreachable, "no object matches s3://\(bucket)/\(glob.pattern)")
        }
        return DataVersion.digest(kind: "s3", parts: [bucket] + objects.flatMap { [$0.key, $0.etag, $0.size] })
    }

    /// Every object of the listing that the glob matches, in S3's key order.
    func matchingObjects() async throws -> [S3Listing.Object] {
        var matched: [S3Listing.Object] = []
        var token: String?
        var seen: Set<String> = []
        let deadline = ContinuousClock.now.advanced(by: timeout * 20)
        repeat {
            let page = try await list(continuationToken: token)
            matched += page.objects.filter { glob.matches(s3Key: $0.key) }
            token = page.isTruncated ? page.nextContinuationToken : nil
            if let token {
                guard seen.insert(token).inserted else {
                    throw DataVersionError(.malformedResponse, "the listing of s3://\(bucket)/\(glob.literalPrefix) repeated a continuation token")
                }
                guard ContinuousClock.now < deadline else {
                    throw DataVersionError(.timedOut, "the listing of s3://\(bucket)/\(glob.literalPrefix) took longer than \(timeout * 20)")
                }
            }
        } while token != nil
        return matched
    }

    /// One `ListObjectsV2` page.
    func list(continuationToken: String?) async throws -> S3Listing {
        var query = [("list-type", "2"), ("prefix", glob.literalPrefix)]
        if let continuationToken { query.append(("continuation-token", continuationToken)) }
        let request = try self.request(query: query, amzDate: Self.amzDate(Date()))
        let (response, body) = try await HTTPProbeSession.shared.sendWithBody(request, timeout: timeout)
        let text = String(decoding: body, as: UTF8.self)
        guard response.statusCode == 200 else {
            let code = S3Listing.elements("Code", in: Substring(text)).first.map(String.init) ?? "no error code"
            throw DataVersionError(.httpStatus, "listing s3://\(bucket)/\(glob.literalPrefix) answered \(response.statusCode) (\(code))")
        }
        return try S3Listing(xml: text)
    }

    /// The signed request for one listing page.
    func request(query: [(String, String)], amzDate: String) throws -> URLRequest {
        let scheme = secret.useSSL ? "https" : "http"
        let endpoint = secret.endpoint ?? "s3.\(secret.region).amazonaws.com"
        let host: String
        let path: String
        switch secret.urlStyle {
        case .path:
            host = endpoint
            path = "/" + S3RequestSigner.uriEncode(bucket)
        case .virtualHost:
            host = "\(bucket).\(endpoint)"
            path = "/"
        }
        let canonicalQuery = S3RequestSigner.canonicalQuery(query)
        guard let url = URL(string: "\(scheme)://\(host)\(path)?\(canonicalQuery)") else {
            throw DataVersionError(.configuration, "cannot form a listing URL for endpoint \(endpoint) and bucket \(bucket)")
        }
        var request = URLRequest(url: url)
        request.httpMethod = "GET"
        if let signer {
            let headers = signer.sign(method: "GET", path: path, query: query, headers: ["host": host], amzDate: amzDate)
            for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        }
        return request
    }

    /// `YYYYMMDDTHHMMSSZ` in UTC.
    static func amzDate(_ date: Date) -> String {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = ValueFormatting.civil(fromDays: days)
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(year)\(two(month))\(two(day))T\(two(secondOfDay / 3600))\(two(secondOfDay / 60 % 60))\(two(secondOfDay % 60))Z"
    }
}

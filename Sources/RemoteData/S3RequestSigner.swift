import Crypto

/// AWS Signature Version 4 for S3 requests without a body (`GET`, `HEAD`): a pure function of the
/// request, the keys and the time, so it is tested against AWS's published examples and botocore.
///
/// The payload is declared as the SHA-256 of the empty body, which is what a bodiless request has.
struct S3RequestSigner: Sendable {
    let accessKeyID: String
    let secretAccessKey: String
    let sessionToken: String?
    let region: String
    let service = "s3"

    static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// The headers to send: `x-amz-date`, `x-amz-content-sha256`, optional `x-amz-security-token`,
    /// and `Authorization`, for a request whose other signed headers are `headers` (it must include
    /// `host`).
    /// - Parameters:
    ///   - method: `GET` or `HEAD`
    ///   - path: the URI path, already percent-encoded as sent (`/bucket/key` or `/`)
    ///   - query: query parameters, not encoded (the signer encodes them canonically)
    ///   - headers: headers to sign besides the x-amz ones, names in any case
    ///   - amzDate: the time as `YYYYMMDDTHHMMSSZ`
    func sign(method: String, path: String, query: [(String, String)], headers: [String: String], amzDate: String)
        -> [String: String]
    {
        var signed: [String: String] = [:]
        for (name, value) in headers { signed[name.lowercased()] = Self.trimmed(value) }
        signed["x-amz-date"] = amzDate
        signed["x-amz-content-sha256"] = Self.emptyPayloadHash
        if let sessionToken { signed["x-amz-security-token"] = sessionToken }
        let names = signed.keys.sorted()
        let canonicalHeaders = names.map { "\($0):\(signed[$0] ?? "")\n" }.joined()
        let signedHeaders = names.joined(separator: ";")
        let canonicalRequest = [
            method, path, Self.canonicalQuery(query), canonicalHeaders, signedHeaders, Self.emptyPayloadHash,
        ].joined(separator: "\n")
        let day = String(amzDate.prefix(8))
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, Self.hex(SHA256.hash(data: Array(canonicalRequest.utf8)))]
            .joined(separator: "\n")
        var key = SymmetricKey(data: Array("AWS4\(secretAccessKey)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
        let signature = Self.hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key))
        var out = signed
        out.removeValue(forKey: "host")
        out["authorization"] =
            "AWS4-HMAC-SHA256 Credential=\(accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
        return out
    }

    /// Query parameters encoded per SigV4 and sorted by name, then value.
    static func canonicalQuery(_ query: [(String, String)]) -> String {
        query.map { (uriEncode($0.0), uriEncode($0.1)) }
            .sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            .map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// RFC 3986 encoding as SigV4 wants it: unreserved characters kept, every other byte `%XX`
    /// (upper-case hex); `/` too unless `keepSlash`.
    static func uriEncode(_ text: String, keepSlash: Bool = false) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "/") where keepSlash:
                out.append("/")
            default:
                let digits = Array("0123456789ABCDEF".unicodeScalars)
                out.append("%")
                out.unicodeScalars.append(digits[Int(byte >> 4)])
                out.unicodeScalars.append(digits[Int(byte & 15)])
            }
        }
        return out
    }

    /// Leading and trailing spaces removed and inner runs of spaces made one, as SigV4 wants.
    static func trimmed(_ value: String) -> String {
        value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".unicodeScalars)
        var out = ""
        for byte in digest {
            out.unicodeScalars.append(digits[Int(byte >> 4)])
            out.unicodeScalars.append(digits[Int(byte & 15)])
        }
        return out
    }
}

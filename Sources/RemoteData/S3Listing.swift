/// One page of an S3 `ListObjectsV2` answer, read from its XML with a small scanner: the listing
/// is a flat, fixed schema, and this keeps the module free of an XML library.
struct S3Listing: Equatable {
    /// One object.
    struct Object: Equatable {
        var key: String
        var etag: String
        var size: String
        var lastModified: String
    }

    var objects: [Object]
    var nextContinuationToken: String?
    var isTruncated: Bool

    /// Reads a `ListBucketResult` document.
    /// - Throws: ``DataVersionError`` of kind `.malformedResponse` when it is not one, or when an
    ///   object lacks its key or ETag
    init(xml: String) throws {
        guard xml.contains("<ListBucketResult") else {
            throw DataVersionError(.malformedResponse, "the S3 listing is not a ListBucketResult document")
        }
        objects = []
        for block in Self.elements("Contents", in: Substring(xml)) {
            guard let key = Self.elements("Key", in: block).first, let etag = Self.elements("ETag", in: block).first else {
                throw DataVersionError(.malformedResponse, "an object in the S3 listing has no Key or ETag")
            }
            objects.append(
                Object(
                    key: try Self.unescape(key), etag: try Self.unescape(etag),
                    size: try Self.elements("Size", in: block).first.map(Self.unescape) ?? "",
                    lastModified: try Self.elements("LastModified", in: block).first.map(Self.unescape) ?? ""))
        }
        isTruncated = try Self.elements("IsTruncated", in: Substring(xml)).first.map(Self.unescape) == "true"
        nextContinuationToken = try Self.elements("NextContinuationToken", in: Substring(xml)).first.map(Self.unescape)
        if isTruncated && nextContinuationToken == nil {
            throw DataVersionError(.malformedResponse, "the S3 listing is truncated but names no continuation token")
        }
    }

    /// The contents of each `<name>…</name>` in `text` (not nested in one another).
    static func elements(_ name: String, in text: Substring) -> [Substring] {
        let open = "<\(name)>"
        let close = "</\(name)>"
        var found: [Substring] = []
        var rest = text[...]
        while let start = rest.range(of: open) {
            guard let end = rest[start.upperBound...].range(of: close) else { break }
            found.append(rest[start.upperBound..<end.lowerBound])
            rest = rest[end.upperBound...]
        }
        return found
    }

    /// XML's five named entities and numeric character references decoded.
    static func unescape(_ text: Substring) throws -> String {
        guard text.contains("&") else { return String(text) }
        var out = ""
        var rest = text[...]
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            guard let semi = rest[amp...].firstIndex(of: ";") else {
                throw DataVersionError(.malformedResponse, "an unterminated entity in the S3 listing")
            }
            let entity = rest[rest.index(after: amp)..<semi]
            switch entity {
            case "amp": out += "&"
            case "lt": out += "<"
            case "gt": out += ">"
            case "quot": out += "\""
            case "apos": out += "'"
            default:
                var code: UInt32?
                if entity.hasPrefix("#x") || entity.hasPrefix("#X") {
                    code = UInt32(entity.dropFirst(2), radix: 16)
                } else if entity.hasPrefix("#") {
                    code = UInt32(entity.dropFirst(), radix: 10)
                }
                guard let code, let scalar = Unicode.Scalar(code) else {
                    throw DataVersionError(.malformedResponse, "an unknown entity &\(entity); in the S3 listing")
                }
                out.unicodeScalars.append(scalar)
            }
            rest = rest[rest.index(after: semi)...]
        }
        return out + rest
    }
}

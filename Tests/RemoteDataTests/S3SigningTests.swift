import Foundation
import Testing
import TestSupport

@testable import RemoteData

@Suite struct S3SigningTests {
    /// AWS's published Signature Version 4 example for S3: `GET /test.txt` with `Range: bytes=0-9`
    /// from the `examplebucket` at 2013-05-24T00:00:00Z, with AWS's documented example keys.
    @Test func theSignatureMatchesAWSsPublishedExample() throws {
        let signer = S3RequestSigner(
            accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            sessionToken: nil, region: "us-east-1")
        let headers = signer.sign(
            method: "GET", path: "/test.txt", query: [],
            headers: ["Host": "examplebucket.s3.amazonaws.com", "Range": "bytes=0-9"], amzDate: "20130524T000000Z")
        #expect(
            headers["authorization"]
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(headers["x-amz-date"] == "20130524T000000Z")
        #expect(headers["host"] == nil)
    }

    /// botocore (the AWS SDK for Python) signs the same listing requests, with awkward prefixes and
    /// continuation tokens, a session token, and another region: the signatures must agree.
    @Test func listingSignaturesAgreeWithBotocore() throws {
        let cases: [(prefix: String, token: String?, session: String?, region: String)] = [
            ("orders/", nil, nil, "us-east-1"),
            ("a b/c+d=e&f/ü/*", "1/ab+==", "FwoGZXIvYXdzEJr//////////wEaDH", "eu-central-1"),
            ("", nil, nil, "auto"),
            ("~tilde_-./%41", "next token", nil, "ap-southeast-2"),
        ]
        for c in cases {
            let signer = S3RequestSigner(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "secret/with+chars=", sessionToken: c.session, region: c.region)
            var query = [("list-type", "2"), ("prefix", c.prefix)]
            if let token = c.token { query.append(("continuation-token", token)) }
            let host = "127.0.0.1:9000"
            let ours = signer.sign(method: "GET", path: "/bucket", query: query, headers: ["host": host], amzDate: "20261129T120102Z")
            let script = #"""
                import json, sys, urllib.parse
                from botocore.auth import S3SigV4Auth
                from botocore.awsrequest import AWSRequest
                from botocore.credentials import Credentials
                args = json.loads(sys.argv[1])
                creds = Credentials("AKIDEXAMPLE", "secret/with+chars=", args["session"])
                auth = S3SigV4Auth(creds, "s3", args["region"])
                query = urllib.parse.urlencode([tuple(q) for q in args["query"]], quote_via=urllib.parse.quote, safe="-_.~")
                request = AWSRequest(method="GET", url="http://%s/bucket?%s" % (args["host"], query))
                request.context["timestamp"] = "20261129T120102Z"
                request.headers["X-Amz-Date"] = "20261129T120102Z"
                request.headers["X-Amz-Content-SHA256"] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
                if args["session"]:
                    request.headers["X-Amz-Security-Token"] = args["session"]
                canonical = auth.canonical_request(request)
                to_sign = auth.string_to_sign(request, canonical)
                print(auth.signature(to_sign, request))
                """#
            let arguments = try JSONSerialization.data(withJSONObject: [
                "session": c.session as Any, "region": c.region, "host": host, "query": query.map { [$0.0, $0.1] },
            ])
            let theirs = String(decoding: try TestSupport.runPython(script, arguments: [String(decoding: arguments, as: UTF8.self)]), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(ours["authorization"]?.hasSuffix("Signature=\(theirs)") == true, "prefix \(c.prefix.debugDescription)")
            #expect(ours["x-amz-security-token"] == c.session)
        }
    }

    @Test func uriEncodingKeepsOnlyUnreservedCharacters() throws {
        #expect(S3RequestSigner.uriEncode("aZ09-_.~") == "aZ09-_.~")
        #expect(S3RequestSigner.uriEncode("a b+c/d=é") == "a%20b%2Bc%2Fd%3D%C3%A9")
        #expect(S3RequestSigner.uriEncode("a/b c", keepSlash: true) == "a/b%20c")
        #expect(S3RequestSigner.canonicalQuery([("prefix", "x y"), ("list-type", "2")]) == "list-type=2&prefix=x%20y")
    }

    @Test func amzDatesAreUTCCalendarTimes() throws {
        #expect(S3VersionProbe.amzDate(Date(timeIntervalSince1970: 0)) == "19700101T000000Z")
        #expect(S3VersionProbe.amzDate(Date(timeIntervalSince1970: 1_369_353_600)) == "20130524T000000Z")
        #expect(S3VersionProbe.amzDate(Date(timeIntervalSince1970: 1_709_251_199.9)) == "20240229T235959Z")
        #expect(S3VersionProbe.amzDate(Date(timeIntervalSince1970: 4_102_444_800)) == "21000101T000000Z")
    }
}

@Suite struct S3ListingTests {
    @Test func listingsAreReadWithEntitiesDecoded() throws {
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>p/</Prefix>
            <IsTruncated>true</IsTruncated><NextContinuationToken>tok&amp;en==</NextContinuationToken>
            <Contents><Key>p/a&lt;1&gt;&#233;.parquet</Key><LastModified>2026-11-29T10:00:00.000Z</LastModified>
            <ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag><Size>123</Size></Contents>
            <Contents><Key>p/b.parquet</Key><ETag>"abc-2"</ETag><Size>0</Size></Contents>
            </ListBucketResult>
            """
        let listing = try S3Listing(xml: xml)
        #expect(listing.isTruncated)
        #expect(listing.nextContinuationToken == "tok&en==")
        #expect(listing.objects.map(\.key) == ["p/a<1>é.parquet", "p/b.parquet"])
        #expect(listing.objects.map(\.etag) == ["\"9b2cf535f27731c974343645a3985328\"", "\"abc-2\""])
        #expect(listing.objects.map(\.size) == ["123", "0"])
    }

    @Test func malformedListingsAreErrorsNotGuesses() throws {
        for xml in [
            "<Error><Code>AccessDenied</Code></Error>",
            "<ListBucketResult><Contents><Key>k</Key></Contents></ListBucketResult>",
            "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
            "<ListBucketResult><Contents><Key>a&bogus;</Key><ETag>e</ETag></Contents></ListBucketResult>",
            "<ListBucketResult><Contents><Key>a&amp</Key><ETag>e</ETag></Contents></ListBucketResult>",
            "<ListBucketResult><Contents><Key>&#x110000;</Key><ETag>e</ETag></Contents></ListBucketResult>",
        ] {
            #expect(throws: DataVersionError.self, "\(xml)") { _ = try S3Listing(xml: xml) }
        }
        #expect(try S3Listing(xml: "<ListBucketResult></ListBucketResult>").objects.isEmpty)
    }
}

@Suite struct GlobPatternTests {
    @Test func globsMatchAsDuckDBs() throws {
        let cases: [(String, String, Bool)] = [
            ("dir/*.parquet", "dir/a.parquet", true),
            ("dir/*.parquet", "dir/sub/a.parquet", false),
            ("dir/*.parquet", "dir/a.parquet.bak", false),
            ("dir/*.parquet", "dir2/a.parquet", false),
            ("dir/part-?.parquet", "dir/part-1.parquet", true),
            ("dir/part-?.parquet", "dir/part-10.parquet", false),
            ("dir/part-[0-3].parquet", "dir/part-2.parquet", true),
            ("dir/part-[0-3].parquet", "dir/part-7.parquet", false),
            ("dir/part-[!0-3].parquet", "dir/part-7.parquet", true),
            ("dir/**/*.parquet", "dir/a.parquet", true),
            ("dir/**/*.parquet", "dir/x/y/a.parquet", true),
            ("dir/**/*.parquet", "other/a.parquet", false),
            ("dir/file.parquet", "dir/file.parquet", true),
            ("dir/file.parquet", "dir/file.parquet2", false),
            ("*", "", true),
            ("a[", "a[", false),  // an unclosed class matches nothing, as in DuckDB
            ("a\\b", "a/b", true),  // locally a backslash separates segments, as in DuckDB
            ("[^a].parquet", "^.parquet", true),  // only ! negates
            ("[^a].parquet", "b.parquet", false),
        ]
        for (pattern, path, expected) in cases {
            #expect(GlobPattern(pattern: pattern).matches(path) == expected, "\(pattern) ~ \(path)")
        }
        // On S3 a backslash escapes, `?` is literal, empty segments vanish, a trailing ** needs a segment.
        #expect(GlobPattern(pattern: "a\\[1\\]", flavor: .s3).matches(s3Key: "a[1]"))
        #expect(GlobPattern(pattern: "a\\[1\\]", flavor: .s3).literalPrefix == "a[1]")
        #expect(GlobPattern(pattern: "d/*.parquet", flavor: .s3).matches(s3Key: "d//x.parquet"))
        #expect(!GlobPattern(pattern: "d/**", flavor: .s3).matches(s3Key: "d"))
        #expect(GlobPattern(pattern: "d/**", flavor: .s3).matches(s3Key: "d/x"))
        #expect(!GlobPattern(pattern: "d/*", flavor: .s3).matches(s3Key: "d/x/"))
        #expect(GlobPattern(pattern: "dir/sub/*.parquet").literalPrefix == "dir/sub/")
        #expect(GlobPattern(pattern: "dir/a.parquet").literalPrefix == "dir/a.parquet")
        #expect(!GlobPattern(pattern: "dir/a.parquet").hasWildcard)
    }
}

import Foundation
import JWTKit

/// Verifies bearer tokens (signature, `exp`) and reads one claim of them: the scope of a request.
public struct JWTVerifier: Sendable {
    let keys: JWTKeyCollection

    /// A verifier for tokens signed with HS256 and this shared secret.
    /// - Parameter secret: the secret (at least 32 bytes: HS256's key must be as long as its hash)
    /// - Returns: the verifier
    /// - Throws: ``JWTConfigurationError`` for a shorter secret
    public static func hs256(secret: String) async throws -> JWTVerifier {
        guard secret.utf8.count >= 32 else {
            throw JWTConfigurationError(description: "an HS256 secret must be at least 32 bytes, got \(secret.utf8.count)")
        }
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        return JWTVerifier(keys: keys)
    }

    /// A verifier for tokens signed with ES256 by the holder of this public key's private key.
    /// - Parameter publicKeyPEM: the public key, PEM
    /// - Returns: the verifier
    /// - Throws: when the key does not parse
    public static func es256(publicKeyPEM: String) async throws -> JWTVerifier {
        let keys = JWTKeyCollection()
        await keys.add(ecdsa: try ES256PublicKey(pem: publicKeyPEM))
        return JWTVerifier(keys: keys)
    }

    /// The claims of a verified token that every token must satisfy.
    struct Checked: JWTPayload {
        var exp: ExpirationClaim?
        func verify(using algorithm: some JWTAlgorithm) async throws { try exp?.verifyNotExpired() }
    }

    /// The value of `claim` in `token` after verifying its signature and expiry.
    /// - Returns: the claim as text (strings as they are, numbers in decimal), nil when absent
    /// - Throws: when the token is malformed, badly signed or expired
    func claim(_ claim: String, of token: String) async throws -> String? {
        _ = try await keys.verify(token, as: Checked.self)
        // Verified: read the claim from the payload part (base64url JSON).
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        var base64 = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64),
              let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        switch object[claim] {
        case let text as String: return text
        case let number as NSNumber: return number.stringValue
        default: return nil
        }
    }
}

/// A token verifier that cannot be built as configured.
public struct JWTConfigurationError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

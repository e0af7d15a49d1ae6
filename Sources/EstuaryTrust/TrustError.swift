#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What went wrong with a key, a certificate, a CSR or a secret file, in words an operator can
/// act on. `kind` is for code that branches; `description` is for people.
public struct TrustError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// Text that is not the PEM (or DER) object it should be.
        case malformedPEM
        case malformedCSR
        case malformedCertificate
        /// A certificate used as a CA that is not one (no basicConstraints CA:true, or no keyCertSign).
        case notACA
        /// A private key that does not belong to its certificate.
        case keyMismatch
        /// A CSR whose self-signature does not verify: its sender does not hold the key.
        case badCSRSignature
        /// A key type Estuary does not issue for or sign with.
        case unsupportedKey
        /// A DNS name or IP address that cannot go into a certificate.
        case invalidName
        /// A validity period that is empty or negative.
        case invalidValidity
        /// `ca.pem` without `ca.key`, or the reverse.
        case incompleteCA
        /// A file could not be read, written or renamed.
        case io
        /// A secret file that group or others may access.
        case insecureFileMode
        /// A certificate that does not chain to the trusted CA.
        case untrusted
        case expired
        case notYetValid
        /// A leaf without an `estuary://` URI SAN, with several, or with an ill-formed one.
        case identity
        /// A CA certificate presented where a leaf is expected.
        case notALeaf
    }

    public let kind: Kind
    public let message: String
    /// The file concerned, for `io`, `insecureFileMode` and `incompleteCA`.
    public let path: String?

    public init(_ kind: Kind, _ message: String, path: String? = nil) {
        self.kind = kind
        self.message = message
        self.path = path
    }

    public var description: String {
        if let path { return "\(path): \(message)" }
        return message
    }

    static func io(_ path: String, _ operation: String, errno code: Int32) -> TrustError {
        TrustError(.io, "\(operation) failed: \(String(cString: strerror(code))) (errno \(code))", path: path)
    }
}

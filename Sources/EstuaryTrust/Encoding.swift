import Crypto
import SwiftASN1
import X509

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

enum Hex {
    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// "sha256:<64 hex>" of DER bytes: how Estuary names a certificate in logs and on screen.
func certificateFingerprint(der: [UInt8]) -> String {
    "sha256:" + Hex.encode(SHA256.hash(data: der))
}

extension Certificate {
    func derBytes() throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serialize(self)
        return serializer.serializedBytes
    }

    /// PEM ending in a newline, so that PEM blocks can be concatenated.
    func pemText() throws -> String {
        withTrailingNewline(try serializeAsPEM().pemString)
    }

    /// Lower-case hex of the serial number's magnitude, without leading zero bytes.
    var serialText: String {
        var bytes = serialNumber.bytes[...]
        while bytes.count > 1, bytes.first == 0 { bytes = bytes.dropFirst() }
        return Hex.encode(bytes)
    }
}

extension Certificate.SerialNumber {
    /// A random positive 128-bit serial (never zero).
    static func random128() -> Certificate.SerialNumber {
        var generator = SystemRandomNumberGenerator()
        while true {
            let bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if bytes.contains(where: { $0 != 0 }) { return Certificate.SerialNumber(bytes: bytes) }
        }
    }
}

func withTrailingNewline(_ text: String) -> String {
    text.hasSuffix("\n") ? text : text + "\n"
}

extension Duration {
    var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}

/// IP addresses as text ↔ the 4 or 16 bytes of an iPAddress SAN.
enum IPAddressText {
    static func bytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }

    static func text(_ bytes: some Collection<UInt8>) -> String? {
        let bytes = Array(bytes)
        let family: Int32
        switch bytes.count {
        case 4: family = AF_INET
        case 16: family = AF_INET6
        default: return nil
        }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let ok = bytes.withUnsafeBytes { raw in
            inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil
        }
        guard ok else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// DNS names accepted in a certificate: LDH labels, dots between, no wildcard, ≤ 253 chars.
enum DNSNameText {
    static func isValid(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        return labels.allSatisfy { label in
            guard (1...63).contains(label.utf8.count) else { return false }
            guard label.first != "-", label.last != "-" else { return false }
            return label.utf8.allSatisfy { byte in
                (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x30 && byte <= 0x39)
                    || byte == 0x2d
            }
        }
    }
}

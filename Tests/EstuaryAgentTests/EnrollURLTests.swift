import Testing

@testable import EstuaryAgent

/// `--enroll-url`: which HTTPS URLs name a coordinator's API, and where.
@Suite("enroll URL")
struct EnrollURLTests {
    @Test("host and port, IPv6 in brackets, 443 when no port is given")
    func accepted() {
        #expect(Enrollment.parseHTTPS("https://coord.example.org:7400") ?? ("", 0) == ("coord.example.org", 7400))
        #expect(Enrollment.parseHTTPS("https://coord.example.org/") ?? ("", 0) == ("coord.example.org", 443))
        #expect(Enrollment.parseHTTPS("https://[::1]:7400") ?? ("", 0) == ("::1", 7400))
        #expect(Enrollment.parseHTTPS("https://[fd00::5]") ?? ("", 0) == ("fd00::5", 443))
    }

    @Test("plain HTTP, paths, bare IPv6, empty hosts and bad ports are refused")
    func refused() {
        for url in [
            "http://coord:7400", "https://coord:7400/v1", "https://fd00::5:7400", "https://:7400", "https://", "https://coord:0",
            "https://coord:70000", "https://coord:port",
        ] {
            #expect(Enrollment.parseHTTPS(url) == nil, "\(url)")
        }
    }
}

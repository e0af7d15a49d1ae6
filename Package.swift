// swift-tools-version:6.1
import PackageDescription

// Estuary: a compute-federation mesh. See docs/ARCHITECTURE.md for the module map.
// Pure modules (EstuaryModel, and the scheduler/ledger/gossip cores to come) depend on nothing
// that does I/O; everything with a socket, a file or a clock lives in the service modules.

let package = Package(
    name: "estuary",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "estuary-coordinator", targets: ["estuary-coordinator"]),
        .executable(name: "estuary-agent", targets: ["estuary-agent"]),
        .executable(name: "estuaryctl", targets: ["estuaryctl"]),
        // Libraries only so that Fuzz/ (a separate package built with -sanitize=fuzzer) can link
        // the decoders and parsers it fuzzes.
        .library(name: "EstuaryWire", targets: ["EstuaryWire"]),
        .library(name: "EstuaryConfig", targets: ["EstuaryConfig"]),
        .library(name: "EstuaryLedger", targets: ["EstuaryLedger"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
    ],
    targets: [
        // MARK: pure
        .target(name: "EstuaryModel"),
        .target(name: "EstuaryScheduler", dependencies: ["EstuaryModel"]),
        .target(name: "EstuarySimulation", dependencies: ["EstuaryScheduler", "EstuaryModel", "EstuaryConfig"]),
        // Money: rating, double-entry postings, vouchers, settlement. Pure, like the scheduler.
        .target(name: "EstuaryLedger", dependencies: ["EstuaryModel"]),
        // Membership (SWIM + Lifeguard), capacity anti-entropy, Vivaldi, and a seeded simulator.
        .target(name: "EstuaryGossip", dependencies: ["EstuaryModel"]),

        // MARK: wire and configuration
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .target(
            name: "EstuaryWire",
            dependencies: [
                "EstuaryModel", "CZstd",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .target(
            name: "EstuaryConfig",
            dependencies: ["EstuaryModel", "EstuaryScheduler", "EstuaryLedger", .product(name: "TOMLKit", package: "TOMLKit")]
        ),

        // MARK: trust (CA, certificates, identities, secret tokens; no sockets)
        .target(
            name: "EstuaryTrust",
            dependencies: [
                "EstuaryModel",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),

        // MARK: I/O
        .target(
            name: "EstuaryTransport",
            dependencies: [
                "EstuaryWire", "EstuaryTrust",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "EstuaryStore",
            dependencies: [
                "EstuaryModel", "EstuaryLedger",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "EstuaryCoordinator",
            dependencies: [
                "EstuaryModel", "EstuaryWire", "EstuaryConfig", "EstuaryTransport", "EstuaryStore", "EstuaryTrust",
                "EstuaryScheduler", "EstuaryLedger", "EstuaryGossip",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdHTTP2", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "EstuaryAgent",
            dependencies: [
                "EstuaryModel", "EstuaryWire", "EstuaryConfig", "EstuaryTransport", "EstuaryTrust",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // MARK: executables (thin)
        .executableTarget(
            name: "estuary-coordinator",
            dependencies: [
                "EstuaryCoordinator", "EstuaryModel", "EstuaryConfig", "EstuaryScheduler", "EstuaryLedger", "EstuaryGossip",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "estuary-agent",
            dependencies: [
                "EstuaryAgent", "EstuaryConfig",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "estuaryctl",
            dependencies: [
                "EstuaryModel", "EstuaryConfig", "EstuaryScheduler", "EstuaryLedger",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),

        // MARK: benchmarks (run by Benchmarks/run.sh in release mode, never by swift test)
        .executableTarget(
            name: "estuary-bench",
            dependencies: [
                "EstuaryModel", "EstuaryWire", "EstuaryTransport", "EstuaryConfig", "EstuaryTrust", "EstuaryScheduler",
                "EstuarySimulation", "EstuaryCoordinator", "EstuaryStore", "EstuaryLedger", "EstuaryGossip",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Benchmarks/EstuaryBench"
        ),

        // MARK: tests
        .testTarget(name: "EstuaryModelTests", dependencies: ["EstuaryModel"]),
        .testTarget(name: "EstuarySchedulerTests", dependencies: ["EstuaryScheduler", "EstuarySimulation", "EstuaryModel"]),
        .testTarget(name: "EstuaryLedgerTests", dependencies: ["EstuaryLedger", "EstuaryModel"]),
        .testTarget(name: "EstuaryGossipTests", dependencies: ["EstuaryGossip", "EstuaryModel"]),
        .testTarget(
            name: "EstuaryWireTests",
            dependencies: ["EstuaryWire", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(
            name: "EstuaryTrustTests",
            dependencies: ["EstuaryTrust", .product(name: "X509", package: "swift-certificates"), .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(
            name: "EstuaryTransportTests",
            dependencies: [
                "EstuaryTransport", "EstuaryTrust", "EstuaryWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
            ]
        ),
        .testTarget(
            name: "EstuaryConfigTests", dependencies: ["EstuaryConfig", "EstuaryModel", "EstuaryScheduler", "EstuaryLedger"],
            // Recorded tool outputs, read from the source tree like Agents/catalog.toml (see their README.md).
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "EstuaryStoreTests", dependencies: ["EstuaryStore", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "EstuaryAgentTests", dependencies: ["EstuaryAgent", "EstuaryTransport", "EstuaryConfig", "EstuaryTrust"]),
        .testTarget(
            name: "EstuaryCoordinatorTests",
            dependencies: [
                "EstuaryCoordinator", "EstuaryStore", "EstuaryWire", "EstuaryScheduler", "EstuaryGossip",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "EstuaryIntegrationTests",
            dependencies: [
                "EstuaryModel", "EstuaryWire", "EstuaryTransport", "EstuaryTrust", "EstuaryLedger",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
            ]
        ),
    ]
)

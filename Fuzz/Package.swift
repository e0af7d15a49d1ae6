// swift-tools-version:5.4
// 5.4, not newer, on purpose: from tools version 5.5 on, SwiftPM renames an executable's entry
// point to `<Target>_main` and links with `--defsym main=<Target>_main`, which breaks here because
// the fuzz targets have no entry point of their own (libFuzzer's `main` runs them). The targets
// therefore also build in the Swift 5 language mode.
import PackageDescription

// libFuzzer targets for Estuary's decoders and parsers (issue #3). A separate package so that
// the sanitizer flags below never touch the main build. Build and run with scripts/fuzz.sh;
// see Fuzz/README.md.
//
// Every target is an executable whose `LLVMFuzzerTestOneInput` is exported with @_cdecl. They
// only link when built with `-sanitize=fuzzer` (libFuzzer supplies `main`), e.g.
//
//   swift build -c release --scratch-path .build \
//     -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
let package = Package(
    name: "estuary-fuzz",
    platforms: [.macOS("15.0")],
    dependencies: [
        .package(name: "estuary", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
    ],
    targets: [
        .target(
            name: "FuzzSupport",
            dependencies: [
                .product(name: "EstuaryWire", package: "estuary"),
                .product(name: "EstuaryConfig", package: "estuary"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .executableTarget(
            name: "FuzzFrameDecoder",
            dependencies: [
                "FuzzSupport",
                .product(name: "EstuaryWire", package: "estuary"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "FuzzEnvelopeDecoder",
            dependencies: [
                "FuzzSupport",
                .product(name: "EstuaryWire", package: "estuary"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .executableTarget(
            name: "FuzzJobFile",
            dependencies: [
                "FuzzSupport",
                .product(name: "EstuaryConfig", package: "estuary"),
                .product(name: "EstuaryLedger", package: "estuary"),
                .product(name: "EstuaryWire", package: "estuary"),
            ]
        ),
    ]
)

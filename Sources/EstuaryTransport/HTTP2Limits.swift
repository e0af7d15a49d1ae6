import NIOCore
import NIOHTTP2

/// HTTP/2 limits of a mesh connection, set explicitly rather than inherited from library
/// defaults (Protocol/PROTOCOL.md §2 lists them). One agent needs one session stream, so the
/// stream limit is small; windows are large enough for a full capacity report of a big site.
public struct HTTP2Limits: Sendable, Hashable {
    public var maxConcurrentStreams: Int = 4
    public var initialStreamWindow: Int = 1 << 20
    public var connectionWindow: Int = 4 << 20
    public var maxFrameSize: Int = 1 << 16
    public var maxHeaderListSize: Int = 16 << 10
    /// Outbound bytes buffered per stream before writers are suspended.
    public var outboundHighWatermark: Int = 256 << 10
    public var outboundLowWatermark: Int = 64 << 10
    /// Reset-flood protection (CVE-2023-44487 "rapid reset"): streams reset per window.
    public var maxResetsPerWindow: Int = 200
    public var resetWindow: TimeAmount = .seconds(30)

    public init() {}

    func handlerConfiguration() -> NIOHTTP2Handler.Configuration {
        var configuration = NIOHTTP2Handler.Configuration()
        configuration.connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: maxConcurrentStreams),
            HTTP2Setting(parameter: .initialWindowSize, value: initialStreamWindow),
            HTTP2Setting(parameter: .maxFrameSize, value: maxFrameSize),
            HTTP2Setting(parameter: .maxHeaderListSize, value: maxHeaderListSize),
            HTTP2Setting(parameter: .enablePush, value: 0),
        ]
        configuration.connection.targetWindowSize = connectionWindow
        configuration.stream.targetWindowSize = initialStreamWindow
        configuration.stream.outboundBufferSizeHighWatermark = outboundHighWatermark
        configuration.stream.outboundBufferSizeLowWatermark = outboundLowWatermark
        configuration.stream.streamResetFrameRateLimit.maximumCount = maxResetsPerWindow
        configuration.stream.streamResetFrameRateLimit.windowLength = resetWindow
        configuration.stream.streamErrorRateLimit.maximumCount = maxResetsPerWindow
        configuration.stream.streamErrorRateLimit.windowLength = resetWindow
        return configuration
    }
}

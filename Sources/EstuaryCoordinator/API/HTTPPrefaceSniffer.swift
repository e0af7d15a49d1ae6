import NIOCore

/// The first handler of an API connection: holds the bytes that arrive until ``HTTPPreface``
/// can tell HTTP/2 from HTTP/1.1, asks `configure` to build the matching pipeline behind it,
/// then leaves the pipeline and replays what it held, so the chosen codec sees the stream from
/// its first byte.
///
/// Runs on the channel's event loop only, like every channel handler.
final class HTTPPrefaceSniffer<Output: Sendable>: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// Builds the protocol's pipeline after this handler; called once, on the event loop.
    typealias Configure = (HTTPPreface.Verdict) -> EventLoopFuture<Output>

    private enum State {
        case sniffing
        case configuring
        case done
    }

    private var state = State.sniffing
    private var held: ByteBuffer?
    private let configure: Configure
    private let promise: EventLoopPromise<Output>

    /// The configured pipeline's output, or the failure that ended the connection first.
    var result: EventLoopFuture<Output> { promise.futureResult }

    init(promise: EventLoopPromise<Output>, configure: @escaping Configure) {
        self.promise = promise
        self.configure = configure
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .sniffing = state else {
            // Bytes that arrive while the new pipeline is being built: keep them in order.
            var buffer = unwrapInboundIn(data)
            if case .configuring = state { held.setOrWriteBuffer(&buffer) } else { context.fireChannelRead(data) }
            return
        }
        var buffer = unwrapInboundIn(data)
        held.setOrWriteBuffer(&buffer)
        let verdict = HTTPPreface.classify(held!.readableBytesView)
        guard verdict != .undecided else { return }

        state = .configuring
        configure(verdict).assumeIsolated().whenComplete { result in
            switch result {
            case .success(let output):
                context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
                self.promise.succeed(output)
            case .failure(let error):
                self.state = .done
                self.promise.fail(error)
                context.close(promise: nil)
            }
        }
    }

    func removeHandler(context: ChannelHandlerContext, removalToken: ChannelHandlerContext.RemovalToken) {
        state = .done
        if let buffer = held, buffer.readableBytes > 0 {
            held = nil
            context.fireChannelRead(wrapInboundOut(buffer))
            context.fireChannelReadComplete()
        }
        context.leavePipeline(removalToken: removalToken)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failIfPending(ChannelError.eof)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if failIfPending(error) {
            context.close(promise: nil)
        } else {
            context.fireErrorCaught(error)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The server is shutting down, or the client stopped sending before its first bytes
        // told us the protocol: there is no request to answer.
        let stopsSniffing = event is ChannelShouldQuiesceEvent || (event as? ChannelEvent) == .inputClosed
        if stopsSniffing, case .sniffing = state {
            failIfPending(ChannelError.eof)
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // The pipeline was torn down (connection closed) before a protocol was chosen.
        failIfPending(ChannelError.ioOnClosedChannel)
    }

    @discardableResult
    private func failIfPending(_ error: any Error) -> Bool {
        guard case .sniffing = state else { return false }
        state = .done
        promise.fail(error)
        return true
    }
}

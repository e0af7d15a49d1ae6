import NIOCore
import NIOHTTP2

/// Closes a connection that has not completed a session handshake in time, so that a client
/// that connects and then trickles bytes (slow loris) cannot hold a connection slot. The
/// session removes this handler once its Hello has been accepted.
final class HandshakeDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    static let name = "estuary.handshake-deadline"

    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?

    init(timeout: TimeAmount) { self.timeout = timeout }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }

    private func arm(_ context: ChannelHandlerContext) {
        guard deadline == nil else { return }
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: timeout) {
            channel.close(promise: nil)
        }
    }
}

/// Closes the connection when `IdleStateHandler` reports that nothing was read for too long:
/// after one idle period, or `peerIdlePeriods` once the connection carries coordinator gossip
/// (`PeerConnectionEstablished`). A coordinator talks to each other coordinator only every
/// few probe rounds; keeping those connections costs less than a TLS handshake each time.
final class IdleCloseHandler: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    private let peerIdlePeriods: Int
    private var allowedPeriods = 1
    private var idlePeriods = 0

    init(peerIdlePeriods: Int = 10) { self.peerIdlePeriods = peerIdlePeriods }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        idlePeriods = 0
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is PeerConnectionEstablished {
            allowedPeriods = peerIdlePeriods
            return
        }
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            idlePeriods += 1
            if idlePeriods >= allowedPeriods { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}

/// Sent down a server connection's pipeline when a coordinator's gossip succeeded on it.
struct PeerConnectionEstablished {}

/// Sends an HTTP/2 PING every `interval` and closes the connection when no PING ACK has
/// arrived for `timeout`: a dead peer or a silent network cut is noticed in bounded time,
/// even when no session traffic flows.
final class KeepaliveHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame
    typealias OutboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    private let interval: TimeAmount
    private let timeout: TimeAmount
    private var lastAck = NIODeadline.now()
    private var ticker: RepeatedTask?
    private var sequence: UInt64 = 0

    init(interval: TimeAmount, timeout: TimeAmount) {
        self.interval = interval
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) { stop() }

    func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if case .ping(_, ack: true) = frame.payload {
            lastAck = .now()
        }
        context.fireChannelRead(data)
    }

    private func start(_ context: ChannelHandlerContext) {
        guard ticker == nil else { return }
        lastAck = .now()
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        ticker = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            let (handler, context) = bound.value
            handler.tick(context)
        }
    }

    private func tick(_ context: ChannelHandlerContext) {
        if NIODeadline.now() - lastAck > timeout {
            stop()
            context.fireErrorCaught(TransportError.keepaliveTimeout)
            context.close(promise: nil)
            return
        }
        sequence &+= 1
        let ping = HTTP2Frame(streamID: .rootStream, payload: .ping(HTTP2PingData(withInteger: sequence), ack: false))
        context.writeAndFlush(wrapOutboundOut(ping), promise: nil)
    }

    private func stop() {
        ticker?.cancel()
        ticker = nil
    }
}

/// Closes the connection once we have sent GOAWAY. NIOHTTP2Handler answers a connection error
/// (garbage instead of the preface, a malformed frame, a flood) with GOAWAY but leaves the socket
/// open; without this, a peer that sent garbage would hold its connection until the handshake
/// deadline. The close runs on the next event-loop tick, after the GOAWAY is flushed.
struct CloseAfterGoAway: NIOHTTP2FrameDelegate {
    let channel: any Channel

    func wroteFrame(_ frame: HTTP2Frame) {
        guard case .goAway = frame.payload else { return }
        let channel = self.channel
        channel.eventLoop.execute { channel.close(promise: nil) }
    }
}

extension Estuary_V1_Envelope {
    /// An envelope carrying `body`, with the given sequence and acknowledgement numbers.
    public init(seq: UInt64 = 0, ack: UInt64 = 0, body: OneOf_Body?) {
        self.init()
        self.seq = seq
        self.ack = ack
        self.body = body
    }

    /// The fatal `Error` envelope a receiver sends after a frame error (PROTOCOL.md §3.6).
    public init(frameError: FrameError, ack: UInt64 = 0) {
        var error = Estuary_V1_Error()
        error.code = frameError.protocolErrorCode
        error.message = frameError.description
        error.fatal = true
        self.init(ack: ack, body: .error(error))
    }

    /// Whether the body is delivered reliably (carries a seq, kept until acked): JobUpdate and
    /// UsageBatch upstream, JobAssign and JobCancel downstream (PROTOCOL.md §4.2).
    public var isReliable: Bool {
        switch body {
        case .jobUpdate, .usage, .jobAssign, .jobCancel: true
        default: false
        }
    }

    /// True for an envelope without a body: a pure acknowledgement or keepalive.
    public var isPureAck: Bool { body == nil }
}

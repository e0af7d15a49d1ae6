// EstuaryWire: the bytes Estuary peers exchange on a session stream.
//
// - `Frames/`: the 5-byte-header frame format (`FrameEncoder`, `FrameDecoder`, `FrameLimits`,
//   `FrameError`) and zstd compression (`Zstd`).
// - `Negotiation/`: protocol versions, compression and frame-size negotiation, and the HTTP
//   names of the session stream (`WireProtocol`, `Compression`).
// - `Conversions/`: EstuaryModel values <-> generated protobuf messages.
// - `Generated/`: `estuary.pb.swift`, generated from Protocol/estuary.proto by
//   Protocol/generate.sh; never edited by hand.
//
// Protocol/PROTOCOL.md is the normative description; this module implements its §3 (frames)
// and the negotiation rules of §5.

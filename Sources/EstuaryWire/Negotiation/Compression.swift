/// A payload compression scheme. The raw value is the token used on the wire:
/// `Hello.compression` lists tokens the agent accepts, `Welcome.compression` carries the chosen
/// one, and the empty string means no compression (PROTOCOL.md §5.2).
public enum Compression: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case none = ""
    case zstd = "zstd"

    public var description: String { self == .none ? "none" : rawValue }

    /// Chooses the compression for a session from the tokens a peer offered: zstd when both the
    /// peer offers it and `supported` contains it, otherwise none. Unknown tokens are ignored.
    public static func negotiate(offered: [String], supported: Set<Compression> = [.zstd]) -> Compression {
        supported.contains(.zstd) && offered.contains(Compression.zstd.rawValue) ? .zstd : .none
    }

    /// The tokens to offer in `Hello.compression`.
    public static func offer(_ supported: Set<Compression> = [.zstd]) -> [String] {
        supported.contains(.zstd) ? [Compression.zstd.rawValue] : []
    }
}

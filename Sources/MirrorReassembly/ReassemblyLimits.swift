// vpcmirror: the reassembler's bounds and policy, all passed in, with documented defaults.

/// Which copy wins when two segments carry different bytes for the same sequence numbers.
///
/// The receiving host decides which copy the application saw, and hosts differ: Suricata names its
/// policies after them (`OS_POLICY_BSD`, its default, keeps the data it already has in most overlap
/// shapes; its Linux, Windows and Solaris policies differ for some shapes, e.g. a new segment that starts
/// before the old one). `.first` is the BSD-like choice and our default. Once bytes went to the delegate
/// they stay, whatever the policy.
public enum OverlapPolicy: Hashable, Sendable {
    /// Bytes already received win; later copies only fill holes. In-order bytes are delivered at once,
    /// straight from the frame.
    case first
    /// The latest copy received before the receiver acknowledged the bytes wins. In-order bytes are
    /// copied and held until the peer's ACK covers them (as Suricata inspects up to the last ACK), or
    /// until a cap or the connection's close forces them out: slower, and later when ACKs are not mirrored.
    case last
}

/// Memory and time bounds of a `TCPReassembler`. Time is in nanoseconds of packet timestamps.
public struct ReassemblyLimits: Hashable, Sendable {
    /// Out-of-order bytes held per direction before the first hole is declared lost and skipped.
    /// Buffered segments are charged their payload plus `TCPReassembler.bufferedSegmentOverhead` (64)
    /// for their bookkeeping, so that many tiny segments cannot hold far more memory than the cap says.
    /// Default: 1 MiB.
    public var maxBufferedBytesPerDirection = 1 << 20
    /// Live connections plus closed ones kept to absorb retransmissions. When a new connection does not
    /// fit, the oldest closed one is dropped, else the least recently seen live one is evicted.
    /// Default: 100,000.
    public var maxConnections = 100_000
    /// All buffered bytes of all connections together (charged as above). Default: 128 MiB.
    public var memcapBytes = 128 << 20
    /// A connection with no segment for longer than this is closed by `expire(now:)`. Default: 120 s.
    public var idleTimeoutNanoseconds: Int64 = 120 * 1_000_000_000
    /// How long a closed connection's key is kept, so late retransmissions and duplicates are counted
    /// instead of opening a new midstream connection. Default: 5 s.
    public var closedLingerNanoseconds: Int64 = 5 * 1_000_000_000
    /// How long a hole may stay open after the peer has acknowledged the bytes after it (so the receiver
    /// has them and only the mirror lost them) before it is declared lost. The delay absorbs mirror
    /// reordering, where an ACK overtakes the data it acknowledges. Default: 100 ms.
    public var acknowledgedHoleDelayNanoseconds: Int64 = 100 * 1_000_000
    /// Default: `.first`.
    public var overlapPolicy = OverlapPolicy.first

    public init() {}
}

// vpcmirror: what the reassembler tells its consumer: connections, in-order bytes, gaps and ends.
public import MirrorWire

/// Why a connection was closed.
public enum CloseReason: Hashable, Sendable {
    /// Both directions' FINs were delivered in order.
    case fin
    /// A RST was seen (from either side).
    case reset
    /// No segment for `idleTimeoutNanoseconds`.
    case idle
    /// Removed to make room in a full connection table.
    case evicted
    /// `closeAll` (end of input, shutdown).
    case shutdown
    /// A SYN with a new initial sequence number arrived on the key of a live connection: the old
    /// connection ended without a FIN or RST that we saw, and the port pair is being reused.
    case reused
}

/// Why stream bytes are missing.
public enum GapReason: Hashable, Sendable {
    /// Never seen: lost by the mirror or the capture. Declared when the buffer or memory cap forces it,
    /// when the peer acknowledged the missing bytes, or when the connection closes.
    case lost
    /// Sent, and their segment seen, but cut off by a capture or mirror session length
    /// (captured payload shorter than the IP header's length).
    case truncated
}

/// Receives a `TCPReassembler`'s output, in order per direction. For each connection: `opened` first,
/// then `data`/`gap` per direction with offsets that start at 0 and follow on exactly (each call starts
/// where the previous one of its direction ended), `ended` at most once per direction after its last
/// byte, and `closed` exactly once, last.
public protocol ReassemblyDelegate {
    /// A new connection. `initiator` sent the SYN (or, midstream, the first segment seen).
    /// `midstream` is true when no handshake was seen, so offset 0 is not the start of the stream.
    mutating func opened(
        _ id: ConnectionID, key: ConnectionKey, initiator: (IPAddress, UInt16), responder: (IPAddress, UInt16),
        midstream: Bool, timestamp: Int64)
    /// In-order bytes at stream `offset`. `bytes` is valid only during the call (it may point into the
    /// frame being processed): copy what you keep.
    mutating func data(
        _ id: ConnectionID, _ direction: StreamDirection, offset: UInt64, bytes: UnsafeRawBufferPointer,
        timestamp: Int64)
    /// `length` bytes at `offset` are missing and will never be delivered.
    mutating func gap(
        _ id: ConnectionID, _ direction: StreamDirection, offset: UInt64, length: UInt64, reason: GapReason,
        timestamp: Int64)
    /// The direction's FIN was reached in order: no more bytes will come.
    mutating func ended(_ id: ConnectionID, _ direction: StreamDirection, timestamp: Int64)
    /// The connection is gone; no further calls name `id`.
    mutating func closed(_ id: ConnectionID, reason: CloseReason, timestamp: Int64)
    /// `expire` or `closeAll` is about to look at `id`; what it reports next is about that connection. `order` is
    /// the ordinal (see `TCPReassembler.process(_:frame:key:timestamp:ordinal:delegate:)`) of the frame that last
    /// touched it (`expire`) or opened it (`closeAll`): consumers of several reassemblers merge by it.
    mutating func sweeping(_ id: ConnectionID, order: UInt64)
}

extension ReassemblyDelegate {
    public mutating func sweeping(_ id: ConnectionID, order: UInt64) {}
}

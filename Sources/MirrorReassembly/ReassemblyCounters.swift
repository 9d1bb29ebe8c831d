// vpcmirror: what the reassembler did with every segment and byte; nothing is dropped without a count.

/// Running totals of a `TCPReassembler`. Every segment lands in exactly one of the first group:
/// `segments == invalidSegments + segmentsWithoutConnection + segmentsAfterClose + segmentsProcessed`.
public struct ReassemblyCounters: Hashable, Sendable {
    // MARK: Segments
    public var segments = 0
    /// Not TCP, a fragment, offsets or lengths that do not fit the frame, or a key that names neither endpoint.
    public var invalidSegments = 0
    /// A RST for a connection we do not know (nothing to close, nothing to open).
    public var segmentsWithoutConnection = 0
    /// Segments for a connection closed less than `closedLingerNanoseconds` earlier: late retransmissions,
    /// duplicates, the last ACK. Counted and dropped rather than opening a new midstream connection.
    public var segmentsAfterClose = 0
    /// Segments applied to a live connection.
    public var segmentsProcessed = 0
    /// SYNs and SYN-ACKs seen again for the same handshake (retransmitted, duplicated, or a SYN after its SYN-ACK).
    public var repeatedHandshakeSegments = 0
    /// SYN-ACKs that contradict the handshake already seen; ignored.
    public var unexpectedHandshakeSegments = 0
    public var resets = 0

    // MARK: Bytes in
    /// Payload bytes the IP headers announce, captured or not.
    public var payloadBytes = 0
    /// Segments that carried at least one byte already delivered (retransmission, mirror duplicate).
    public var retransmittedSegments = 0
    /// Bytes received again after they were delivered; dropped.
    public var retransmittedBytes = 0
    /// Segments that brought no byte we did not already have (delivered or buffered).
    public var duplicateSegments = 0
    /// Segments that overlapped buffered, undelivered bytes, and how many bytes overlapped.
    public var overlappingSegments = 0
    public var overlappingBytes = 0
    /// Overlaps in which some byte differed from the buffered copy (the policy picked one), and how many
    /// bytes differed.
    public var conflictingSegments = 0
    public var conflictingBytes = 0
    /// Segments that put new bytes into the buffer (out of order, or under `.last` held until acknowledged),
    /// and those bytes: the only copies the reassembler makes. Under `.first`, a stream that arrives in
    /// order leaves both at 0.
    public var copiedSegments = 0
    public var copiedBytes = 0
    /// Bytes before offset 0 of their stream (e.g. before the first segment of a midstream pickup); dropped.
    public var bytesBeforeStreamStart = 0
    /// Bytes after the direction's FIN; dropped.
    public var bytesAfterFIN = 0

    // MARK: Bytes out
    /// Bytes passed to `data`.
    public var bytesDelivered = 0
    /// `gap(.lost)` notices and their bytes, and the part of them declared because a cap forced it.
    public var lostGaps = 0
    public var lostBytes = 0
    public var lostBytesAtBufferLimit = 0
    /// Bytes skipped over because the memcap was reached (holes declared lost early to free memory).
    public var lostBytesAtMemcap = 0
    /// Holes declared lost because the peer had acknowledged them (after `acknowledgedHoleDelayNanoseconds`).
    public var lostBytesAcknowledged = 0
    /// `gap(.truncated)` notices and their bytes: sent, seen, but cut by the capture length.
    public var truncatedGaps = 0
    public var truncatedBytes = 0

    // MARK: Connections
    public var connectionsOpened = 0
    public var connectionsOpenedMidstream = 0
    public var closedByFIN = 0
    public var closedByReset = 0
    public var closedIdle = 0
    /// Live connections closed to make room in a full table (`closed(.evicted)`).
    public var closedEvicted = 0
    public var closedAtShutdown = 0
    public var closedReused = 0
    /// Closed connections whose linger was cut short to make room in a full table.
    public var lingeringDropped = 0

    /// Bytes buffered now (payload plus per-segment overhead), over all connections; a gauge, not a total.
    public var bufferedBytes = 0

    public init() {}

    public var connectionsClosed: Int {
        self.closedByFIN + self.closedByReset + self.closedIdle + self.closedEvicted + self.closedAtShutdown
            + self.closedReused
    }

    /// `segments` is the sum of its four outcomes.
    public var isBalanced: Bool {
        self.segments == self.invalidSegments + self.segmentsWithoutConnection + self.segmentsAfterClose
            + self.segmentsProcessed
    }

    /// Every counter: what ``add(_:)`` sums (a test checks that none is missing).
    public static var all: [WritableKeyPath<ReassemblyCounters, Int>] {
        [
            \.segments, \.invalidSegments, \.segmentsWithoutConnection, \.segmentsAfterClose, \.segmentsProcessed,
            \.repeatedHandshakeSegments, \.unexpectedHandshakeSegments, \.resets, \.payloadBytes,
            \.retransmittedSegments, \.retransmittedBytes, \.duplicateSegments, \.overlappingSegments,
            \.overlappingBytes, \.conflictingSegments, \.conflictingBytes, \.copiedSegments, \.copiedBytes,
            \.bytesBeforeStreamStart, \.bytesAfterFIN, \.bytesDelivered, \.lostGaps, \.lostBytes,
            \.lostBytesAtBufferLimit, \.lostBytesAtMemcap, \.lostBytesAcknowledged, \.truncatedGaps, \.truncatedBytes,
            \.connectionsOpened, \.connectionsOpenedMidstream, \.closedByFIN, \.closedByReset, \.closedIdle,
            \.closedEvicted, \.closedAtShutdown, \.closedReused, \.lingeringDropped, \.bufferedBytes,
        ]
    }

    /// Adds the counters of another reassembler (one of several sharing the connections of one input).
    public mutating func add(_ other: ReassemblyCounters) {
        for path in Self.all { self[keyPath: path] += other[keyPath: path] }
    }
}

// vpcmirror: TCP reassembly for a passive observer: segments in, in-order bytes, gaps and lifecycle events out.
public import MirrorWire

/// Rebuilds the byte streams of TCP connections from mirrored segments, which may arrive reordered,
/// duplicated, retransmitted with other boundaries, overlapping with other bytes, lost, or truncated.
///
/// The reassembler is driven by the caller, one segment at a time, and reports through a
/// `ReassemblyDelegate` passed to each call; it keeps no reference to the consumer. Time is the packets'
/// own timestamps (nanoseconds), so reading a file gives the same output on every run.
///
/// Policies:
/// - **Offsets**: per direction, 64-bit, from the ISN + 1 (the SYN takes one sequence number), or from
///   the first segment seen when picked up midstream (or from an earlier acknowledgment of the peer's,
///   when reordering put that first segment behind later ones).
/// - **Overlaps**: `ReassemblyLimits.overlapPolicy` (`.first` by default) picks which copy of undelivered
///   bytes wins (`.last` holds in-order bytes until they are acknowledged, see `OverlapPolicy`); delivered
///   bytes never change, so later copies of them are dropped and counted. Differing copies are counted as
///   conflicting only against buffered bytes (delivered bytes are not kept).
/// - **Gaps**: a hole is declared lost (`gap(.lost)`) when the direction's buffer exceeds its cap or all
///   buffers exceed the memcap (holes skipped oldest first), when the peer acknowledged bytes beyond it at
///   least `acknowledgedHoleDelayNanoseconds` earlier (the receiver has them, only the mirror lost them),
///   and when the connection closes (RST, idle, eviction, shutdown, reuse). A FIN does not by itself end
///   the wait for a hole before it: the FIN may simply have overtaken the data. Bytes a segment announces
///   but the capture cut off are a `gap(.truncated)` at their place in the stream.
/// - **Close**: `closed(.fin)` as soon as both directions' FINs are delivered in order; `closed(.reset)`
///   at the first RST, after buffered bytes are delivered with their gaps. The key is then kept for
///   `closedLingerNanoseconds`, and segments for it are counted (`segmentsAfterClose`) and dropped, except
///   a SYN with a new ISN, which opens a new connection.
/// - **Eviction**: when the table (live plus lingering connections) is full, the oldest lingering one is
///   forgotten, else the least recently seen live one is flushed and closed with `.evicted`.
public struct TCPReassembler: Sendable {
    /// What each buffered segment is charged beyond its payload: about what its bookkeeping costs.
    public static let bufferedSegmentOverhead = 64

    public let limits: ReassemblyLimits
    public private(set) var counters = ReassemblyCounters()

    private var table = ConnectionTable()
    private var connections: [Connection] = []
    private var freeSlots: [Int] = []
    /// Both lists run from the least recently touched to the most: the head is the first to expire.
    private var live = SlotList()
    private var lingering = SlotList()
    private var nextID: UInt64 = 1
    /// The ordinal given to segments processed without one.
    private var nextOrdinal: UInt64 = 1
    /// The latest time seen (segments, `expire`, the caller's clock): connections are idle, and closed ones
    /// linger, by this clock, so a file whose timestamps run behind an earlier one's does not look idle.
    private var clock: Int64 = .min

    public init(limits: ReassemblyLimits = .init()) {
        self.limits = limits
    }

    /// Connections open now (lingering closed ones not included).
    public var connectionCount: Int { self.live.count }

    /// Closed connections whose keys are kept to absorb late segments.
    public var lingeringCount: Int { self.lingering.count }

    // MARK: - Segments

    /// Processes one TCP segment.
    ///
    /// - Parameters:
    ///   - summary: the decoded frame: addresses, ports, TCP header offset, length and flags, IP packet length.
    ///   - frame: the frame's captured bytes (sequence and acknowledgment numbers are read from it). The
    ///     payload is what follows the TCP header up to the IP packet's end (Ethernet padding is ignored);
    ///     what the IP length announces beyond the captured bytes becomes a `truncated` gap.
    ///   - key: the connection's key, built by the caller, which knows the VNI.
    ///   - timestamp: the packet's time in nanoseconds.
    public mutating func process<D: ReassemblyDelegate>(
        _ summary: PacketSummary, frame: UnsafeRawBufferPointer, key: ConnectionKey, timestamp: Int64,
        delegate: inout D
    ) {
        self.process(
            summary, frame: frame, key: key, timestamp: timestamp, ordinal: self.nextOrdinal, clock: timestamp,
            delegate: &delegate)
    }

    /// Processes one TCP segment, as above, numbered by the caller.
    ///
    /// - Parameters:
    ///   - ordinal: the caller's number for the frame, increasing from frame to frame. It orders the
    ///     connections of several reassemblers fed from one stream of frames (each taking its share of the
    ///     connections): `expire` and `closeAll` hand connections to the delegate in the order of these numbers
    ///     (``ReassemblyDelegate/sweeping(_:order:)``).
    ///   - clock: the caller's time, e.g. the latest timestamp of all frames so far (the segment's own when
    ///     alone). Idleness and lingering are measured on it, so reassemblers that share one stream agree.
    public mutating func process<D: ReassemblyDelegate>(
        _ summary: PacketSummary, frame: UnsafeRawBufferPointer, key: ConnectionKey, timestamp: Int64,
        ordinal: UInt64, clock: Int64, delegate: inout D
    ) {
        var summary = summary
        self.process(
            lending: &summary, frame: frame, key: key, timestamp: timestamp, ordinal: ordinal, clock: clock,
            delegate: &delegate)
    }

    /// The same, with the decoding lent `inout` (it is not changed): a caller that holds it `inout` itself passes
    /// its address instead of a copy of its 184 bytes, which would be read back at once (a stall).
    public mutating func process<D: ReassemblyDelegate>(
        lending summary: inout PacketSummary, frame: UnsafeRawBufferPointer, key: ConnectionKey, timestamp: Int64,
        ordinal: UInt64, clock: Int64, delegate: inout D
    ) {
        self.nextOrdinal = max(self.nextOrdinal, ordinal &+ 1)
        self.clock = max(self.clock, clock, timestamp)
        self.counters.segments += 1
        guard let segment = TCPSegment(&summary, frame: frame) else {
            self.counters.invalidSegments += 1
            return
        }
        let fromLower: Bool
        let (source, sourcePort) = (summary.source, summary.sourcePort)
        if source == key.lower && sourcePort == key.lowerPort {
            fromLower = true
        } else if source == key.upper && sourcePort == key.upperPort {
            fromLower = false
        } else {
            self.counters.invalidSegments += 1
            return
        }

        var slot = self.table.find(key)
        if let index = slot, self.connections[index].isClosed {
            let connection = self.connections[index]
            let expired = elapsed(since: connection.closedAt, until: self.clock) > self.limits.closedLingerNanoseconds
            if !expired && !(segment.isSYN && !connection.isSameHandshake(segment, fromLower: fromLower)) {
                self.counters.segmentsAfterClose += 1
                return
            }
            self.removeLingering(index)
            slot = nil
        }
        if segment.isSYN, let index = slot, self.connections[index].isNewConnection(segment, fromLower: fromLower) {
            self.close(index, reason: .reused, timestamp: timestamp, delegate: &delegate)
            slot = nil
        }
        let index: Int
        if let slot {
            index = slot
        } else {
            guard !segment.isRST else {
                self.counters.segmentsWithoutConnection += 1
                return
            }
            index = self.open(
                key, segment: segment, fromLower: fromLower, timestamp: timestamp, ordinal: ordinal, delegate: &delegate)
        }
        self.counters.segmentsProcessed += 1
        self.live.moveToTail(index, in: &self.connections)
        self.connections[index].lastTouched = ordinal
        self.connections[index].lastSeen = self.clock
        self.apply(segment, to: index, fromLower: fromLower, timestamp: timestamp, delegate: &delegate)
    }

    /// Applies a segment to a live connection.
    private mutating func apply<D: ReassemblyDelegate>(
        _ segment: TCPSegment, to index: Int, fromLower: Bool, timestamp: Int64, delegate: inout D
    ) {
        let id = self.connections[index].id
        let direction: StreamDirection =
            fromLower == self.connections[index].initiatorIsLower ? .initiatorToResponder : .responderToInitiator
        let output = TCPStreamBuffer.Output(id: id, direction: direction, timestamp: timestamp)
        self.counters.payloadBytes += segment.length

        if segment.isRST {
            // A RST ends both directions now; its payload, if any, is a diagnostic, not stream data.
            self.counters.resets += 1
            self.close(index, reason: .reset, timestamp: timestamp, delegate: &delegate)
            return
        }

        // The streams are only ever reached through mutating calls (`_modify`, in place): reading them
        // through the getter copies a whole `TCPStreamBuffer` (measured: a fifth of the per-segment cost).
        var payloadSequence = segment.sequence
        if segment.isSYN {
            payloadSequence = segment.sequence.advanced(by: 1)
            switch self.connections[index].streams[direction].start(handshakeAt: payloadSequence) {
            case .started: break
            case .repeated: self.counters.repeatedHandshakeSegments += 1
            case .contradicted:
                self.counters.unexpectedHandshakeSegments += 1
                return
            }
        } else {
            self.connections[index].streams[direction].start(
                midstreamAt: segment.sequence, maxDistance: self.limits.maxBufferedBytesPerDirection)
        }

        if segment.length > 0 || segment.isFIN {
            if segment.length > 0 {
                self.connections[index].streams[direction].receive(
                    at: payloadSequence, length: segment.length, payload: segment.payload,
                    policy: self.limits.overlapPolicy, output: output, counters: &self.counters, delegate: &delegate)
            }
            if segment.isFIN {
                // The FIN's sequence number follows the payload.
                self.connections[index].streams[direction].receiveFIN(
                    at: payloadSequence.advanced(by: UInt32(truncatingIfNeeded: segment.length)), output: output,
                    counters: &self.counters, delegate: &delegate)
            }
            self.connections[index].streams[direction].enforceLimits(
                self.limits, output: output, counters: &self.counters, delegate: &delegate)
        }
        if segment.isACK {
            // The other direction, as far as this side has received it.
            let peer = direction.reversed
            self.connections[index].streams[peer].acknowledge(
                segment.acknowledgment, timestamp: timestamp, delay: self.limits.acknowledgedHoleDelayNanoseconds,
                policy: self.limits.overlapPolicy, output: .init(id: id, direction: peer, timestamp: timestamp),
                counters: &self.counters, delegate: &delegate)
        }
        self.declareAcknowledgedHoles(index, now: timestamp, delegate: &delegate)

        if self.connections[index].streams.initiator.isEnded && self.connections[index].streams.responder.isEnded {
            self.close(index, reason: .fin, timestamp: timestamp, delegate: &delegate)
        }
    }

    private mutating func declareAcknowledgedHoles<D: ReassemblyDelegate>(
        _ index: Int, now: Int64, delegate: inout D
    ) {
        // Two plain checks rather than a loop over an array literal, which could allocate per segment.
        if now >= self.connections[index].streams.initiator.acknowledgedHoleDeadline {
            self.declareAcknowledgedHoles(index, .initiatorToResponder, now: now, delegate: &delegate)
        }
        if now >= self.connections[index].streams.responder.acknowledgedHoleDeadline {
            self.declareAcknowledgedHoles(index, .responderToInitiator, now: now, delegate: &delegate)
        }
    }

    private mutating func declareAcknowledgedHoles<D: ReassemblyDelegate>(
        _ index: Int, _ direction: StreamDirection, now: Int64, delegate: inout D
    ) {
        let output = TCPStreamBuffer.Output(id: self.connections[index].id, direction: direction, timestamp: now)
        self.connections[index].streams[direction].declareAcknowledgedHoles(
            now: now, delay: self.limits.acknowledgedHoleDelayNanoseconds, policy: self.limits.overlapPolicy,
            output: output, counters: &self.counters, delegate: &delegate)
    }

    // MARK: - Time and shutdown

    /// Closes (`.idle`) connections whose last segment is more than `idleTimeoutNanoseconds` before `now`,
    /// forgets closed connections lingering longer than `closedLingerNanoseconds`, and declares holes
    /// whose acknowledgment delay has passed. `now` is packet time, e.g. the latest timestamp seen; idleness and
    /// lingering are measured on the reassembler's clock, which `now` moves on (never back).
    ///
    /// Live connections are visited least recently touched first, each on its own merits (so the outcome for
    /// one connection does not depend on which others share this reassembler).
    public mutating func expire<D: ReassemblyDelegate>(now: Int64, delegate: inout D) {
        self.clock = max(self.clock, now)
        while let head = self.lingering.head,
            elapsed(since: self.connections[head].closedAt, until: self.clock) > self.limits.closedLingerNanoseconds
        {
            self.removeLingering(head)
        }
        var index = self.live.head
        while let current = index {
            index = self.connections[current].next
            delegate.sweeping(self.connections[current].id, order: self.connections[current].lastTouched)
            if elapsed(since: self.connections[current].lastSeen, until: self.clock) > self.limits.idleTimeoutNanoseconds {
                self.close(current, reason: .idle, timestamp: now, delegate: &delegate)
                continue
            }
            self.declareAcknowledgedHoles(current, now: now, delegate: &delegate)
            if self.connections[current].streams.initiator.isEnded
                && self.connections[current].streams.responder.isEnded
            {
                self.close(current, reason: .fin, timestamp: now, delegate: &delegate)
            }
        }
    }

    /// Flushes and closes (`.shutdown`) every connection, in the order they were opened: buffered
    /// bytes are delivered after gap notices for the holes before them. Lingering keys are forgotten.
    public mutating func closeAll<D: ReassemblyDelegate>(timestamp: Int64, delegate: inout D) {
        var open: [Int] = []
        var index = self.live.head
        while let current = index {
            open.append(current)
            index = self.connections[current].next
        }
        open.sort {
            (self.connections[$0].opened, self.connections[$0].id) < (self.connections[$1].opened, self.connections[$1].id)
        }
        for current in open {
            delegate.sweeping(self.connections[current].id, order: self.connections[current].opened)
            self.close(current, reason: .shutdown, timestamp: timestamp, delegate: &delegate)
        }
        while let head = self.lingering.head {
            self.removeLingering(head)
        }
    }

    // MARK: - The connection table

    /// Opens a connection for `segment`, making room first when the table is full.
    private mutating func open<D: ReassemblyDelegate>(
        _ key: ConnectionKey, segment: TCPSegment, fromLower: Bool, timestamp: Int64, ordinal: UInt64,
        delegate: inout D
    ) -> Int {
        while self.live.count + self.lingering.count >= max(1, self.limits.maxConnections) {
            if let head = self.lingering.head {
                self.removeLingering(head)
                self.counters.lingeringDropped += 1
            } else if let head = self.live.head {
                self.close(head, reason: .evicted, timestamp: timestamp, delegate: &delegate)
            } else {
                break
            }
        }
        // The SYN-ACK's sender is the responder, wherever the SYN is; otherwise the sender initiates.
        let senderInitiates = !(segment.isSYN && segment.isACK)
        let midstream = !segment.isSYN
        let index = self.freeSlots.popLast() ?? self.connections.count
        let id = ConnectionID(rawValue: self.nextID, slot: index)
        self.nextID += 1
        var connection = Connection(
            key: key, id: id, initiatorIsLower: senderInitiates == fromLower, lastSeen: self.clock, opened: ordinal)
        if segment.isSYN && segment.isACK {
            // SYN-ACK first (SYN reordered behind it, or lost): its acknowledgment is the initiator's ISN + 1.
            connection.streams.initiator.start(at: segment.acknowledgment)
        }
        if index < self.connections.count {
            self.connections[index] = connection
        } else {
            self.connections.append(connection)
        }
        self.table.set(key, index)
        self.live.append(index, in: &self.connections)
        self.counters.connectionsOpened += 1
        if midstream { self.counters.connectionsOpenedMidstream += 1 }
        let lower = (key.lower, key.lowerPort)
        let upper = (key.upper, key.upperPort)
        let initiatorIsLower = self.connections[index].initiatorIsLower
        delegate.opened(
            id, key: key, initiator: initiatorIsLower ? lower : upper, responder: initiatorIsLower ? upper : lower,
            midstream: midstream, timestamp: timestamp)
        return index
    }

    /// Delivers what is buffered (with gaps), reports `closed`, and either keeps the key lingering
    /// (FIN, RST) or frees the slot.
    private mutating func close<D: ReassemblyDelegate>(
        _ index: Int, reason: CloseReason, timestamp: Int64, delegate: inout D
    ) {
        let id = self.connections[index].id
        self.connections[index].streams.initiator.flush(
            output: .init(id: id, direction: .initiatorToResponder, timestamp: timestamp), counters: &self.counters,
            delegate: &delegate)
        self.connections[index].streams.responder.flush(
            output: .init(id: id, direction: .responderToInitiator, timestamp: timestamp), counters: &self.counters,
            delegate: &delegate)
        delegate.closed(id, reason: reason, timestamp: timestamp)
        switch reason {
        case .fin: self.counters.closedByFIN += 1
        case .reset: self.counters.closedByReset += 1
        case .idle: self.counters.closedIdle += 1
        case .evicted: self.counters.closedEvicted += 1
        case .shutdown: self.counters.closedAtShutdown += 1
        case .reused: self.counters.closedReused += 1
        }
        self.live.remove(index, in: &self.connections)
        if reason == .fin || reason == .reset {
            self.connections[index].isClosed = true
            self.connections[index].closedAt = max(self.clock, timestamp)
            self.lingering.append(index, in: &self.connections)
        } else {
            self.free(index)
        }
    }

    private mutating func removeLingering(_ index: Int) {
        self.lingering.remove(index, in: &self.connections)
        self.free(index)
    }

    private mutating func free(_ index: Int) {
        let key = self.connections[index].key
        self.table.remove(key, ifSlot: index)
        self.connections[index].streams = StreamPair()
        self.connections[index].isClosed = true
        self.freeSlots.append(index)
    }
}

/// `until - since`, saturating: timestamps come from packets and may be anything.
private func elapsed(since start: Int64, until end: Int64) -> Int64 {
    let (difference, overflow) = end.subtractingReportingOverflow(start)
    return overflow ? (end > start ? .max : .min) : difference
}

// MARK: - Connection state

/// A connection's two directions.
struct StreamPair {
    var initiator = TCPStreamBuffer()
    var responder = TCPStreamBuffer()

    subscript(direction: StreamDirection) -> TCPStreamBuffer {
        // A plain getter, inlined so that reading one field copies nothing: a `_read` coroutine here
        // allocated its frame on every segment (measured, -O).
        @inline(__always) get { direction == .initiatorToResponder ? self.initiator : self.responder }
        // In place: a copy out and back would make the buffer array copy on write.
        _modify {
            if direction == .initiatorToResponder { yield &self.initiator } else { yield &self.responder }
        }
    }
}

/// One slot of the connection table, live or lingering after close.
struct Connection: SlotLinked {
    var key: ConnectionKey
    var id: ConnectionID
    /// The initiator is the key's `lower` endpoint.
    var initiatorIsLower: Bool
    var streams = StreamPair()
    var lastSeen: Int64
    /// The caller's ordinals of the frames that opened it and that last touched it (moved it to the live list's tail).
    var opened: UInt64
    var lastTouched: UInt64
    var isClosed = false
    var closedAt: Int64 = 0
    /// Links of the live or lingering list.
    var previous: Int? = nil
    var next: Int? = nil

    init(key: ConnectionKey, id: ConnectionID, initiatorIsLower: Bool, lastSeen: Int64, opened: UInt64) {
        self.key = key
        self.id = id
        self.initiatorIsLower = initiatorIsLower
        self.lastSeen = lastSeen
        self.opened = opened
        self.lastTouched = opened
    }

    private func sender(fromLower: Bool) -> StreamDirection {
        fromLower == self.initiatorIsLower ? .initiatorToResponder : .responderToInitiator
    }

    /// A SYN (or SYN-ACK) that repeats this connection's handshake, from the same side with the same ISN.
    func isSameHandshake(_ segment: TCPSegment, fromLower: Bool) -> Bool {
        let direction = self.sender(fromLower: fromLower)
        guard direction == (segment.isACK ? .responderToInitiator : .initiatorToResponder) else { return false }
        let stream = self.streams[direction]
        return stream.isInitialized && stream.baseSequence == segment.sequence.advanced(by: 1)
    }

    /// A SYN that cannot belong to this live connection: the port pair is being reused.
    func isNewConnection(_ segment: TCPSegment, fromLower: Bool) -> Bool {
        guard segment.isSYN else { return false }
        let direction = self.sender(fromLower: fromLower)
        let expected: StreamDirection = segment.isACK ? .responderToInitiator : .initiatorToResponder
        // A SYN from the responder, or a SYN-ACK from the initiator: the roles we chose do not fit.
        guard direction == expected else { return true }
        let stream = self.streams[direction]
        // Not started: the first SYN (or SYN-ACK) of this direction. A SYN-ACK that contradicts a SYN-ACK
        // already seen is ignored rather than trusted to start over.
        guard stream.isInitialized, !segment.isACK else { return false }
        return stream.baseSequence != segment.sequence.advanced(by: 1)
    }
}

// MARK: - The segment

/// The fields of one TCP segment, read from the frame with every offset checked against it.
struct TCPSegment {
    var sequence: TCPSequenceNumber
    var acknowledgment: TCPSequenceNumber
    var flags: UInt8
    /// Captured payload: at most `length` bytes.
    var payload: UnsafeRawBufferPointer
    /// Payload length the IP header announces.
    var length: Int

    var isFIN: Bool { self.flags & 0x01 != 0 }
    var isSYN: Bool { self.flags & 0x02 != 0 }
    var isRST: Bool { self.flags & 0x04 != 0 }
    var isACK: Bool { self.flags & 0x10 != 0 }

    /// - Returns: nil when the summary is not a whole TCP segment or its offsets do not fit the frame.
    /// - Parameter summary: lent `inout` (not changed), so that it is not copied.
    init?(_ summary: inout PacketSummary, frame: UnsafeRawBufferPointer) {
        // Fragments are reassembled before TCP; a fragment here has no whole segment to offer.
        guard summary.isIP, summary.transportProtocol == .tcp, summary.hasPorts, summary.fragment == .none else {
            return nil
        }
        let count = frame.count
        let network = summary.networkOffset
        let transport = summary.transportOffset
        let headerLength = summary.tcpHeaderLength
        // Sequence and acknowledgment numbers and flags: the first 14 bytes of the TCP header.
        guard count >= 14, network >= 0, transport >= network, transport <= count - 14,
            headerLength >= 20, headerLength <= 60,
            summary.ipPacketLength >= 0, summary.ipPacketLength <= Int(Int32.max)
        else { return nil }
        let ipEnd = network + summary.ipPacketLength
        let payloadStart = transport + headerLength
        guard ipEnd >= payloadStart else { return nil }
        self.length = ipEnd - payloadStart
        // Bytes after the IP packet's end are link padding; bytes missing before it were cut off.
        let capturedEnd = min(ipEnd, count)
        self.payload =
            capturedEnd > payloadStart
            ? UnsafeRawBufferPointer(rebasing: frame[payloadStart..<capturedEnd])
            : UnsafeRawBufferPointer(start: nil, count: 0)
        self.sequence = TCPSequenceNumber(rawValue: Self.bigEndianWord(frame, at: transport + 4))
        self.acknowledgment = TCPSequenceNumber(rawValue: Self.bigEndianWord(frame, at: transport + 8))
        self.flags = summary.tcpFlags
    }

    /// Four bytes in network order; the caller has checked the bounds.
    @inline(__always)
    private static func bigEndianWord(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt32 {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8
            | UInt32(bytes[offset + 3])
    }
}

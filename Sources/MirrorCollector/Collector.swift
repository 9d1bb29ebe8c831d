// vpcmirror: the collector's per-frame path: decapsulate, reassemble TCP, parse HTTP/1, write ECS lines.
public import MirrorHTTP1
public import MirrorReassembly
public import MirrorWire

/// How a collector runs.
public struct CollectorOptions: Sendable {
    public var vxlanPorts: [UInt16] = [4789, 8472]
    public var reassembly = ReassemblyLimits()
    public var http = HTTP1Limits()
    /// VNI → TrafficMirrorSessionId, from a sessions file.
    public var sessionsByVNI: [UInt32: String] = [:]
    public init() {}
}

/// What the collector counted, besides its parts' own counters.
public struct CollectorCounters: Hashable, Sendable {
    /// Frames (or datagrams) whose mirrored frame was analysed.
    public var analysed = 0
    /// Analysed frames that were not TCP (UDP, ICMP, ARP, …): not HTTP, not reassembled.
    public var notTCP = 0
    /// Inner frames that did not decode, by reason.
    public var malformed: [String: Int] = [:]
    public var transactions = 0
    /// Placeholders for messages lost whole on both sides (no request, no response, nothing known): counted, not
    /// written. They come from non-HTTP connections with gaps.
    public var emptyExchanges = 0
    /// Transactions by flag.
    public var flags: [String: Int] = [:]
    public init() {}
}

/// The collector: one per thread. Lines come out through `emit` in the order exchanges complete; with the same
/// input that order is always the same (time comes from packets, and connections close in a fixed order).
public struct Collector {
    public private(set) var decapsulator: Decapsulator
    public private(set) var reassembler: TCPReassembler
    var innerFragments = IPv4Defragmenter()
    var delegate: Conversations
    public private(set) var counters = CollectorCounters()
    /// The latest packet time seen: the collector's clock.
    public private(set) var now: Int64 = 0
    var sinceExpiry = 0

    public init(options: CollectorOptions = .init()) {
        self.decapsulator = Decapsulator(ports: options.vxlanPorts)
        self.reassembler = TCPReassembler(limits: options.reassembly)
        self.delegate = Conversations(http: options.http, sessionsByVNI: options.sessionsByVNI)
    }

    public var httpCounters: HTTP1Counters { self.delegate.httpCounters }

    /// One captured frame (`--read`): VXLAN is unwrapped, other frames are analysed as they are.
    public mutating func process(frame bytes: UnsafeRawBufferPointer, linkType: LinkType, timestamp: Int64, emit: (String) -> Void) {
        self.tick(timestamp, emit: emit)
        var d = self.decapsulator
        d.decapsulate(bytes, linkType: linkType, timestamp: timestamp) { frame in
            self.analyse(frame, timestamp: timestamp, emit: emit)
        }
        self.decapsulator = d
    }

    /// One UDP datagram from a socket: a VXLAN header and the mirrored frame.
    public mutating func process(datagram payload: UnsafeRawBufferPointer, timestamp: Int64, emit: (String) -> Void) {
        self.tick(timestamp, emit: emit)
        var d = self.decapsulator
        d.countDatagram()
        d.vxlanPayload(payload) { frame in
            self.analyse(frame, timestamp: timestamp, emit: emit)
        }
        self.decapsulator = d
    }

    /// Closes idle connections by packet time; call it also when no packets come (live input).
    public mutating func expire(now: Int64, emit: (String) -> Void) {
        self.now = max(self.now, now)
        self.reassembler.expire(now: self.now, delegate: &self.delegate)
        self.drain(emit)
        self.innerFragments.expire(now: self.now)
    }

    /// End of input (end of files, SIGINT, SIGTERM): every open exchange is written, flagged as it stands.
    public mutating func finish(emit: (String) -> Void) {
        self.reassembler.closeAll(timestamp: self.now, delegate: &self.delegate)
        self.drain(emit)
        self.counters.transactions = self.delegate.transactions
        self.counters.emptyExchanges = self.delegate.emptyExchanges
        self.counters.flags = self.delegate.flagCounts
    }

    mutating func tick(_ timestamp: Int64, emit: (String) -> Void) {
        if timestamp > self.now { self.now = timestamp }
        self.sinceExpiry += 1
        // Idle expiry every 4096 frames keeps the cost per frame small and the result independent of batching.
        if self.sinceExpiry >= 4096 {
            self.sinceExpiry = 0
            self.expire(now: self.now, emit: emit)
        }
    }

    mutating func analyse(_ frame: Decapsulator.Frame, timestamp: Int64, emit: (String) -> Void) {
        self.counters.analysed += 1
        let summary: PacketSummary
        do {
            summary = try PacketSummary(decoding: frame.bytes, linkType: frame.linkType)
        } catch {
            self.counters.malformed["inner \(error.layer) \(error.code)", default: 0] += 1
            return
        }
        if summary.ipVersion == 4 && summary.fragment != .none && summary.transportProtocol == .tcp {
            // TCP in IPv4 fragments: rare, but reassembled rather than lost.
            let packet = UnsafeRawBufferPointer(rebasing: frame.bytes[summary.networkOffset...])
            guard let whole = self.innerFragments.add(summary, packet: packet, timestamp: timestamp) else { return }
            whole.withUnsafeBytes { raw in
                guard let s = try? PacketSummary(decoding: raw, linkType: .raw) else {
                    self.counters.malformed["inner reassembled datagram undecodable", default: 0] += 1
                    return
                }
                self.segment(s, frame: raw, vni: frame.vni, vlans: (summary.outerVLAN, summary.innerVLAN, summary.vlanCount),
                             timestamp: timestamp, emit: emit)
            }
            return
        }
        guard summary.transportProtocol == .tcp, summary.hasPorts else {
            self.counters.notTCP += 1
            return
        }
        self.segment(summary, frame: frame.bytes, vni: frame.vni, vlans: (summary.outerVLAN, summary.innerVLAN, summary.vlanCount),
                     timestamp: timestamp, emit: emit)
    }

    mutating func segment(
        _ s: PacketSummary, frame: UnsafeRawBufferPointer, vni: UInt32?, vlans: (UInt16, UInt16, UInt8), timestamp: Int64,
        emit: (String) -> Void
    ) {
        // VNI and VLANs are part of the key: the same 5-tuple under another VNI or tag is another connection.
        let key = ConnectionKey(
            vni: vni ?? Conversations.noVNI, outerVLAN: vlans.2 > 0 ? vlans.0 : 0, innerVLAN: vlans.2 > 1 ? vlans.1 : 0,
            source: s.source, sourcePort: s.sourcePort, destination: s.destination, destinationPort: s.destinationPort)
        self.reassembler.process(s, frame: frame, key: key, timestamp: timestamp, delegate: &self.delegate)
        if !self.delegate.lines.isEmpty { self.drain(emit) }
        self.counters.transactions = self.delegate.transactions
    }

    mutating func drain(_ emit: (String) -> Void) {
        for line in self.delegate.lines { emit(line) }
        self.delegate.lines.removeAll(keepingCapacity: true)
    }

    /// Counters of exchanges by flag, so far.
    public var flagCounts: [String: Int] { self.delegate.flagCounts }
}

/// The reassembler's delegate: one HTTP conversation per TCP connection.
struct Conversations: ReassemblyDelegate {
    /// VNIs are 24 bits; this marks frames that did not come in VXLAN.
    static let noVNI: UInt32 = 0xFFFF_FFFF

    struct State {
        var key: ConnectionKey
        var initiator: (IPAddress, UInt16)
        var responder: (IPAddress, UInt16)
        var conversation: HTTP1Conversation
    }

    let http: HTTP1Limits
    let sessionsByVNI: [UInt32: String]
    var connections: [ConnectionID: State] = [:]
    /// Lines written since the collector last drained them (the delegate cannot hold the caller's closure).
    var lines: [String] = []
    /// Transactions of the current call, written once the conversation is updated (reused, not reallocated).
    var finished: [HTTPTransaction] = []
    var transactions = 0
    var emptyExchanges = 0
    var flagCounts: [String: Int] = [:]
    var finishedHTTP = HTTP1Counters()

    init(http: HTTP1Limits, sessionsByVNI: [UInt32: String]) {
        self.http = http
        self.sessionsByVNI = sessionsByVNI
    }

    var httpCounters: HTTP1Counters {
        var total = self.finishedHTTP
        for s in self.connections.values { total.add(s.conversation.counters) }
        return total
    }

    mutating func opened(
        _ id: ConnectionID, key: ConnectionKey, initiator: (IPAddress, UInt16), responder: (IPAddress, UInt16), midstream: Bool,
        timestamp: Int64
    ) {
        self.connections[id] = State(
            key: key, initiator: initiator, responder: responder,
            conversation: HTTP1Conversation(limits: self.http, midstream: midstream))
    }

    static func direction(_ d: StreamDirection) -> HTTPStreamDirection {
        d == .initiatorToResponder ? .clientToServer : .serverToClient
    }

    mutating func data(_ id: ConnectionID, _ direction: StreamDirection, offset: UInt64, bytes: UnsafeRawBufferPointer, timestamp: Int64) {
        guard var state = self.connections.removeValue(forKey: id) else { return }
        state.conversation.receive(bytes, from: Self.direction(direction), timestamp: timestamp) { self.finished.append($0) }
        self.flush(state)
        self.connections[id] = state
    }

    mutating func gap(_ id: ConnectionID, _ direction: StreamDirection, offset: UInt64, length: UInt64, reason: GapReason, timestamp: Int64) {
        guard var state = self.connections.removeValue(forKey: id) else { return }
        state.conversation.gap(length: length, from: Self.direction(direction), truncated: reason == .truncated, timestamp: timestamp) {
            self.finished.append($0)
        }
        self.flush(state)
        self.connections[id] = state
    }

    mutating func ended(_ id: ConnectionID, _ direction: StreamDirection, timestamp: Int64) {
        guard var state = self.connections.removeValue(forKey: id) else { return }
        state.conversation.end(from: Self.direction(direction), timestamp: timestamp) { self.finished.append($0) }
        self.flush(state)
        self.connections[id] = state
    }

    mutating func closed(_ id: ConnectionID, reason: CloseReason, timestamp: Int64) {
        guard var state = self.connections.removeValue(forKey: id) else { return }
        state.conversation.close(timestamp: timestamp) { self.finished.append($0) }
        self.flush(state)
        self.finishedHTTP.add(state.conversation.counters)
    }

    mutating func flush(_ state: State) {
        guard !self.finished.isEmpty else { return }
        for t in self.finished { self.write(t, state) }
        self.finished.removeAll(keepingCapacity: true)
    }

    mutating func write(_ t: HTTPTransaction, _ state: State) {
        guard t.method != nil || t.statusCode != nil || t.requestBytes != nil || t.responseBytes != nil else {
            self.emptyExchanges += 1
            return
        }
        // The side that sent requests is the client, whatever the TCP handshake (or its absence) suggested.
        let swapped = state.conversation.rolesSwapped
        let client = swapped ? state.responder : state.initiator
        let server = swapped ? state.initiator : state.responder
        let record = ExchangeMapping.record(t, client: client, server: server, key: state.key,
                                            vni: state.key.vni == Self.noVNI ? nil : state.key.vni, sessionsByVNI: self.sessionsByVNI)
        self.transactions += 1
        for f in record.flags { self.flagCounts[f, default: 0] += 1 }
        self.lines.append(ECSFormatter.line(record))
    }
}

extension HTTP1Counters {
    /// Adds another connection's counters.
    mutating func add(_ o: HTTP1Counters) {
        self.requests += o.requests
        self.responses += o.responses
        self.interimResponses += o.interimResponses
        self.transactions += o.transactions
        self.lostRequests += o.lostRequests
        self.lostResponses += o.lostResponses
        self.evictedExchanges += o.evictedExchanges
        self.gaps += o.gaps
        self.gapBytes += o.gapBytes
        self.truncatedGaps += o.truncatedGaps
        self.resyncs += o.resyncs
        self.bytesSkipped += o.bytesSkipped
        self.tunnelBytes += o.tunnelBytes
        self.decodeErrors += o.decodeErrors
        self.decodeLimits += o.decodeLimits
        self.parseErrors.invalidStartLine += o.parseErrors.invalidStartLine
        self.parseErrors.invalidHeaderLine += o.parseErrors.invalidHeaderLine
        self.parseErrors.invalidContentLength += o.parseErrors.invalidContentLength
        self.parseErrors.invalidTransferEncoding += o.parseErrors.invalidTransferEncoding
        self.parseErrors.invalidChunk += o.parseErrors.invalidChunk
        self.parseErrors.startLineTooLong += o.parseErrors.startLineTooLong
        self.parseErrors.headerBlockTooLarge += o.parseErrors.headerBlockTooLarge
        self.parseErrors.tooManyHeaders += o.parseErrors.tooManyHeaders
        self.parseErrors.chunkSizeLineTooLong += o.parseErrors.chunkSizeLineTooLong
    }
}

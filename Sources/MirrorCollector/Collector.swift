// vpcmirror: the collector's per-frame path: decapsulate, reassemble TCP, parse HTTP/1, write ECS lines.
public import MirrorHTTP1
public import MirrorReassembly
public import MirrorWire
import MirrorJSON

/// How a collector runs.
public struct CollectorOptions: Sendable {
    public var vxlanPorts: [UInt16] = [4789, 8472]
    public var reassembly = ReassemblyLimits()
    public var http = HTTP1Limits()
    /// VNI → TrafficMirrorSessionId, from a sessions file.
    public var sessionsByVNI: [UInt32: String] = [:]
    /// Several collectors may share one input, each analysing the TCP connections of its share: one collector
    /// routes every frame (``Collector/route(frame:linkType:timestamp:)``, share decisions by
    /// ``MirrorReassembly/ConnectionShares``) and the others process the frames as routed
    /// (``Collector/process(frame:linkType:timestamp:route:ordinal:clock:)``), this one taking share `shareIndex` of
    /// `shareCount`.
    /// With more than one share a collector notes where each line belongs among the others'
    /// (``Collector/takeOutput(_:)``).
    public var shareIndex = 0
    public var shareCount = 1
    public init() {}
}

/// Which collector of several sharing an input takes a frame (``Collector/route(frame:linkType:timestamp:)``).
public struct FrameRoute: Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// Nobody: not TCP, or undecodable (the router counted it). Shares number at most 127, so 0x7F is no share.
    public static let nobody = FrameRoute(rawValue: 0x7F)
    /// Everybody holds it (an IPv4 fragment, outer or inner), nobody analyses it yet.
    public static let fragmentForNobody = FrameRoute(rawValue: 0xFF)
    /// The share that analyses the frame.
    static func share(_ index: Int, fragment: Bool) -> FrameRoute {
        FrameRoute(rawValue: UInt8(index) | (fragment ? 0x80 : 0))
    }
    /// Every share must decapsulate and decode it (fragments are held by all, so all agree on what completes).
    public var isForEveryone: Bool { self.rawValue & 0x80 != 0 }
    /// The share that analyses it, if any.
    public var owner: Int? { self.rawValue & 0x7F == 0x7F ? nil : Int(self.rawValue & 0x7F) }
    /// Whether share `index` decodes the frame (its own, or a fragment).
    public func isDecoded(byShare index: Int) -> Bool { self.isForEveryone || self.owner == index }
}

/// Where the lines of one place in the input start in a collector's output. Places are ordered by
/// (`major`, `minor`); merging the outputs of collectors that share an input by place gives the lines one
/// collector would have written, in its order.
public struct OutputRun: Hashable, Sendable {
    /// Twice the frame's ordinal, plus 1 for lines of the frame itself rather than of the idle sweep before it;
    /// `UInt64.max` for the lines written at the end.
    public var major: UInt64
    /// In a sweep or at the end: the ordinal of the frame that last touched (sweep) or opened (end) the
    /// connection.
    public var minor: UInt64
    /// Offset of the run's first line in the output taken.
    public var start: Int
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

/// The collector: one per thread. Lines are written, in the order exchanges complete, into an output buffer the
/// caller takes them from (``takeOutput(_:)``); with the same input that order is always the same (time comes from
/// packets, and connections close in a fixed order). Copies of a collector share that buffer: use one.
public struct Collector {
    public private(set) var decapsulator: Decapsulator
    /// Everything after decapsulation. Kept apart so that a frame goes from one to the other without a copy of
    /// either (the decapsulator hands frames to a closure, which may then change only this).
    @usableFromInline var analysis: Analysis

    public init(options: CollectorOptions = .init()) {
        self.decapsulator = Decapsulator(ports: options.vxlanPorts)
        self.analysis = Analysis(options: options)
    }

    public var reassembler: TCPReassembler { self.analysis.reassembler }
    public var counters: CollectorCounters { self.analysis.counters }
    /// Which share of the connections this collector takes (``CollectorOptions/shareIndex``).
    public var shareIndex: Int { self.analysis.shareIndex }
    /// The latest packet time seen: the collector's clock.
    // Inlinable: through an opaque getter, a caller in another module copied the whole collector to read it.
    @inlinable public var now: Int64 { self.analysis.now }
    public var httpCounters: HTTP1Counters { self.analysis.delegate.httpCounters }
    /// Counters of exchanges by flag, so far.
    public var flagCounts: [String: Int] { self.analysis.delegate.flagCounts }

    /// Bytes of output not taken yet.
    public var pendingOutputByteCount: Int { self.analysis.delegate.output.count }

    /// Hands the output written so far (whole lines, each ending in a newline) to `body`, then forgets it.
    public mutating func takeOutput(_ body: (UnsafeRawBufferPointer) -> Void) {
        self.takeOutput { bytes, _ in body(bytes) }
    }

    /// As above, with where each run of lines belongs among other collectors' (empty with one share).
    public mutating func takeOutput(_ body: (UnsafeRawBufferPointer, [OutputRun]) -> Void) {
        let sink = self.analysis.delegate.sink
        sink.output.withBytes { body($0, sink.runs) }
        sink.output.removeAll()
        sink.runs.removeAll(keepingCapacity: true)
    }

    /// One captured frame (`--read`): VXLAN is unwrapped, other frames are analysed as they are.
    public mutating func process(frame bytes: UnsafeRawBufferPointer, linkType: LinkType, timestamp: Int64) {
        self.analysis.tick(timestamp)
        Self.decapsulate(bytes, linkType, timestamp, &self.decapsulator, &self.analysis)
    }

    /// For the collector that routes for `shareCount` others: decapsulates and decodes the frame (so this
    /// collector's decapsulation and decoding counters are the input's), and says which share analyses it.
    /// Nothing is reassembled here.
    public mutating func route(frame bytes: UnsafeRawBufferPointer, linkType: LinkType, timestamp: Int64) -> FrameRoute {
        self.analysis.tick(timestamp)
        self.analysis.isRouter = true
        // Most frames are whole TCP segments: their connection is read from a few fields, and counted as the full
        // decoding below would count them (the share decodes the frame in full anyway).
        if self.analysis.shares.count > 1,
            let fast = FastRoute.of(bytes, linkType: linkType, vxlanPorts: self.decapsulator.ports)
        {
            self.decapsulator.countFastRouted(fast)
            self.analysis.analysed += 1
            return .share(self.analysis.shares.share(of: fast.key, clock: self.analysis.now), fragment: false)
        }
        self.analysis.routedShare = nil
        self.analysis.heldFragment = false
        self.decapsulator.heldFragment = false
        Self.decapsulate(bytes, linkType, timestamp, &self.decapsulator, &self.analysis)
        let fragment = self.analysis.heldFragment || self.decapsulator.heldFragment
        if let share = self.analysis.routedShare { return .share(share, fragment: fragment) }
        return fragment ? .fragmentForNobody : .nobody
    }

    /// Frames seen so far (routed or processed, or passed over by ``advance(to:clock:)``).
    @inlinable public var framesSeen: UInt64 { self.analysis.ordinal }

    /// For share `shareIndex`: the `ordinal`-th frame of the input, as the router routed it. Only frames the route
    /// gives this share are decoded, and the share need not be given the others: those before this one are passed
    /// over (``advance(to:clock:)``). `clock` gives the router's clock (``now``) after any frame since the last one
    /// this share was given, by ordinal.
    public mutating func process(
        frame bytes: UnsafeRawBufferPointer, linkType: LinkType, timestamp: Int64, route: FrameRoute,
        ordinal: UInt64, clock: (UInt64) -> Int64
    ) {
        self.analysis.advance(through: ordinal, clock: clock)
        guard route.isDecoded(byShare: self.analysis.shareIndex) else { return }
        self.analysis.route = route
        Self.decapsulate(bytes, linkType, timestamp, &self.decapsulator, &self.analysis)
    }

    /// For share `shareIndex`: frames up to the `ordinal`-th passed, none of them its own. What one collector would
    /// have done meanwhile is done: the idle sweeps due among them, each at the clock `clock` gives for its frame.
    public mutating func advance(to ordinal: UInt64, clock: (UInt64) -> Int64) {
        self.analysis.advance(through: ordinal, clock: clock)
    }

    private static func decapsulate(
        _ bytes: UnsafeRawBufferPointer, _ linkType: LinkType, _ timestamp: Int64, _ decapsulator: inout Decapsulator,
        _ analysis: inout Analysis
    ) {
        decapsulator.decapsulate(
            bytes, linkType: linkType, timestamp: timestamp,
            plain: { bytes, linkType, summary in
                analysis.analyse(bytes, linkType: linkType, vni: nil, summary: &summary, timestamp: timestamp)
            },
            vxlan: { frame in analysis.analyse(frame, timestamp: timestamp) })
    }

    /// One UDP datagram from a socket: a VXLAN header and the mirrored frame.
    public mutating func process(datagram payload: UnsafeRawBufferPointer, timestamp: Int64) {
        self.analysis.tick(timestamp)
        self.decapsulator.countDatagram()
        Self.unwrap(payload, timestamp, &self.decapsulator, &self.analysis)
    }

    private static func unwrap(
        _ payload: UnsafeRawBufferPointer, _ timestamp: Int64, _ decapsulator: inout Decapsulator,
        _ analysis: inout Analysis
    ) {
        decapsulator.vxlanPayload(payload) { frame in analysis.analyse(frame, timestamp: timestamp) }
    }

    /// Closes idle connections by packet time; call it also when no packets come (live input).
    public mutating func expire(now: Int64) {
        self.analysis.expire(now: now)
    }

    /// End of input (end of files, SIGINT, SIGTERM): every open exchange is written, flagged as it stands.
    public mutating func finish() {
        self.analysis.delegate.sink.major = .max
        self.analysis.reassembler.closeAll(timestamp: self.analysis.now, delegate: &self.analysis.delegate)
    }
}

/// The collector's path after decapsulation: inner frames, reassembly, conversations.
@usableFromInline struct Analysis {
    var reassembler: TCPReassembler
    var innerFragments = IPv4Defragmenter()
    var delegate: Conversations
    @usableFromInline var now: Int64 = 0
    /// Frames (or datagrams) so far: the ordinal of the current one.
    @usableFromInline var ordinal: UInt64 = 0
    let shareIndex: Int
    /// The router's: which share takes each connection.
    var shares: ConnectionShares
    /// The router's outcome for the current frame: the share of its segment, and whether it held a fragment.
    var isRouter = false
    var routedShare: Int? = nil
    var heldFragment = false
    /// A share's: the route of the current frame (frames reach a share's decoding only when routed to it or to all).
    var route = FrameRoute.nobody
    var analysed = 0
    var notTCP = 0
    var malformed: [String: Int] = [:]

    init(options: CollectorOptions) {
        self.reassembler = TCPReassembler(limits: options.reassembly)
        self.delegate = Conversations(http: options.http, sessionsByVNI: options.sessionsByVNI)
        // Every share's bound, since the shares are decided over all connections.
        self.shares = ConnectionShares(
            count: options.shareCount, limits: options.reassembly,
            maxKeys: 2 * max(1, options.shareCount) * max(512, options.reassembly.maxConnections))
        self.shareIndex = min(max(0, options.shareIndex), self.shares.count - 1)
        self.delegate.sink.recordsRuns = self.shares.count > 1
    }

    var counters: CollectorCounters {
        var c = CollectorCounters()
        c.analysed = self.analysed
        c.notTCP = self.notTCP
        c.malformed = self.malformed
        c.transactions = self.delegate.transactions
        c.emptyExchanges = self.delegate.emptyExchanges
        c.flags = self.delegate.flagCounts
        return c
    }

    /// Idle expiry every 4096 frames keeps the cost per frame small and the result independent of batching.
    static let sweepInterval: UInt64 = 4096

    mutating func tick(_ timestamp: Int64) {
        self.advance(to: self.ordinal &+ 1, clock: timestamp)
    }

    /// Over every frame up to the `ordinal`-th, stopping only at those due a sweep: `clock` gives the clock after a
    /// frame, by its ordinal. (A share moves over the frames that are not its own at once.)
    @inline(__always)
    mutating func advance(through ordinal: UInt64, clock: (UInt64) -> Int64) {
        guard ordinal > self.ordinal else { return }
        var sweep = (self.ordinal / Self.sweepInterval &+ 1) &* Self.sweepInterval
        while sweep < ordinal {
            self.advance(to: sweep, clock: clock(sweep))
            sweep &+= Self.sweepInterval
        }
        self.advance(to: ordinal, clock: clock(ordinal))
    }

    /// To the `ordinal`-th frame, which brought the clock to at least `clock`: its sweep, if one is due, and then
    /// its place in the output. No sweep may be due before it (``advance(through:clock:)`` stops at each).
    @inline(__always)
    mutating func advance(to ordinal: UInt64, clock: Int64) {
        guard ordinal > self.ordinal else { return }
        precondition((ordinal &- 1) / Self.sweepInterval == self.ordinal / Self.sweepInterval, "a sweep passed over")
        if clock > self.now { self.now = clock }
        self.ordinal = ordinal
        if ordinal % Self.sweepInterval == 0 {
            self.delegate.sink.major = ordinal &* 2
            self.expire(now: self.now)
        }
        self.delegate.sink.major = ordinal &* 2 &+ 1
        self.delegate.sink.minor = 0
    }

    mutating func expire(now: Int64) {
        self.now = max(self.now, now)
        self.reassembler.expire(now: self.now, delegate: &self.delegate)
        self.innerFragments.expire(now: self.now)
        if self.isRouter { self.shares.expire(clock: self.now) }
    }

    /// A mirrored frame, not decoded yet (the inner frame of VXLAN).
    mutating func analyse(_ frame: Decapsulator.Frame, timestamp: Int64) {
        var summary = PacketSummary()
        do {
            try summary.redecode(frame.bytes, linkType: frame.linkType)
        } catch {
            self.analysed += 1
            self.malformed["inner \(error.layer) \(error.code)", default: 0] += 1
            return
        }
        self.analyse(frame.bytes, linkType: frame.linkType, vni: frame.vni, summary: &summary, timestamp: timestamp)
    }

    /// A mirrored frame and its decoding (`inout` only so that it is lent, not copied: it is not changed).
    mutating func analyse(
        _ bytes: UnsafeRawBufferPointer, linkType: LinkType, vni: UInt32?, summary: inout PacketSummary,
        timestamp: Int64
    ) {
        self.analysed += 1
        let vlans = (summary.outerVLAN, summary.innerVLAN, summary.vlanCount)
        if summary.ipVersion == 4 && summary.fragment != .none && summary.transportProtocol == .tcp {
            // TCP in IPv4 fragments: rare, but reassembled rather than lost.
            self.heldFragment = true
            let packet = UnsafeRawBufferPointer(rebasing: bytes[summary.networkOffset...])
            guard let whole = self.innerFragments.add(summary, packet: packet, timestamp: timestamp) else { return }
            whole.withUnsafeBytes { raw in
                guard var s = try? PacketSummary(decoding: raw, linkType: .raw) else {
                    self.malformed["inner reassembled datagram undecodable", default: 0] += 1
                    return
                }
                self.segment(&s, frame: raw, vni: vni, vlans: vlans, timestamp: timestamp)
            }
            return
        }
        guard summary.transportProtocol == .tcp, summary.hasPorts else {
            self.notTCP += 1
            return
        }
        self.segment(&summary, frame: bytes, vni: vni, vlans: vlans, timestamp: timestamp)
    }

    /// `s` is lent `inout` only so that it is not copied (a copy of its 184 bytes, read back at once, stalls).
    mutating func segment(
        _ s: inout PacketSummary, frame: UnsafeRawBufferPointer, vni: UInt32?, vlans: (UInt16, UInt16, UInt8),
        timestamp: Int64
    ) {
        // VNI and VLANs are part of the key: the same 5-tuple under another VNI or tag is another connection.
        let key = ConnectionKey(
            vni: vni ?? Conversations.noVNI, tags: (vlans.0, vlans.1, Int(vlans.2)), source: s.source,
            sourcePort: s.sourcePort, destination: s.destination, destinationPort: s.destinationPort)
        if self.shares.count > 1 {
            // The router decides and goes no further; a share takes what was routed to it.
            if self.isRouter {
                self.routedShare = self.shares.share(of: key, clock: self.now)
                return
            }
            guard self.route.owner == self.shareIndex else { return }
        }
        self.reassembler.process(
            lending: &s, frame: frame, key: key, timestamp: timestamp, ordinal: self.ordinal, clock: self.now,
            delegate: &self.delegate)
    }
}

extension ConnectionKey {
    /// The key the collector gives a TCP segment (``Analysis/segment``, ``FastRoute``): the mirror VNI
    /// (``Conversations/noVNI`` outside VXLAN), the VLAN tags it carried (outermost first: of `count` tags the first
    /// two count), and its endpoints.
    init(
        vni: UInt32, tags: (outer: UInt16, inner: UInt16, count: Int), source: IPAddress, sourcePort: UInt16,
        destination: IPAddress, destinationPort: UInt16
    ) {
        self.init(
            vni: vni, outerVLAN: tags.count > 0 ? tags.outer : 0, innerVLAN: tags.count > 1 ? tags.inner : 0,
            source: source, sourcePort: sourcePort, destination: destination, destinationPort: destinationPort)
    }
}

/// The reassembler's delegate: one HTTP conversation per TCP connection, its exchanges written as ECS lines as
/// they complete.
struct Conversations: ReassemblyDelegate {
    /// VNIs are 24 bits; this marks frames that did not come in VXLAN.
    static let noVNI: UInt32 = 0xFFFF_FFFF

    /// The connection in a slot (id 0: none) and its lines, unretained: `connections` keeps them.
    struct Slot {
        var id: UInt64 = 0
        var lines: Unmanaged<ConnectionLines>?
    }

    let http: HTTP1Limits
    let sessionsByVNI: [UInt32: String]
    /// All three by the reassembler's slot of the connection (``ConnectionID/slot``): no hashing per callback, and a
    /// conversation is changed where it lies.
    var conversations: [HTTP1Conversation?] = []
    var connections: [ConnectionLines?] = []
    /// What a callback needs, without a retain and a release per segment.
    var slots: [Slot] = []
    let sink = LineSink()
    /// `sink`, which keeps it alive.
    let unretainedSink: Unmanaged<LineSink>
    /// HTTP counters of the connections that closed.
    var finishedHTTP = HTTP1Counters()

    init(http: HTTP1Limits, sessionsByVNI: [UInt32: String]) {
        self.http = http
        self.sessionsByVNI = sessionsByVNI
        self.unretainedSink = Unmanaged.passUnretained(self.sink)
    }

    var output: JSONBuffer { self.sink.output }
    var transactions: Int { self.sink.transactions }
    var emptyExchanges: Int { self.sink.emptyExchanges }

    var httpCounters: HTTP1Counters {
        var total = self.finishedHTTP
        for case let c? in self.conversations { total.add(c.counters) }
        return total
    }

    var flagCounts: [String: Int] {
        var counts: [String: Int] = [:]
        for (i, entry) in HTTPTransactionFlags.all.enumerated() where self.sink.flagTotals[i] > 0 {
            counts[entry.name] = self.sink.flagTotals[i]
        }
        return counts
    }

    mutating func opened(
        _ id: ConnectionID, key: ConnectionKey, initiator: (IPAddress, UInt16), responder: (IPAddress, UInt16), midstream: Bool,
        timestamp: Int64
    ) {
        while self.conversations.count <= id.slot {
            self.conversations.append(nil)
            self.connections.append(nil)
            self.slots.append(Slot())
        }
        let vni = key.vni == Self.noVNI ? nil : key.vni
        let sessionID = vni.flatMap { self.sessionsByVNI[$0] }
        let lines = ConnectionLines(key: key, initiator: initiator, responder: responder, vni: vni, sessionID: sessionID)
        self.connections[id.slot] = lines
        self.slots[id.slot] = Slot(id: id.rawValue, lines: Unmanaged.passUnretained(lines))
        self.conversations[id.slot] = HTTP1Conversation(limits: self.http, midstream: midstream)
    }

    static func direction(_ d: StreamDirection) -> HTTPStreamDirection {
        d == .initiatorToResponder ? .clientToServer : .serverToClient
    }

    /// The connection's lines, if `id` is the connection in its slot (it always is: the reassembler reports only
    /// open connections).
    func lines(_ id: ConnectionID) -> Unmanaged<ConnectionLines>? {
        guard id.slot < self.slots.count, self.slots[id.slot].id == id.rawValue else { return nil }
        return self.slots[id.slot].lines
    }

    mutating func data(_ id: ConnectionID, _ direction: StreamDirection, offset: UInt64, bytes: UnsafeRawBufferPointer, timestamp: Int64) {
        guard let lines = self.lines(id) else { return }
        let sink = self.unretainedSink
        self.conversations[id.slot]!.receive(bytes, from: Self.direction(direction), timestamp: timestamp) {
            sink.takeUnretainedValue().write($0, lines.takeUnretainedValue())
        }
    }

    mutating func gap(_ id: ConnectionID, _ direction: StreamDirection, offset: UInt64, length: UInt64, reason: GapReason, timestamp: Int64) {
        guard let lines = self.lines(id) else { return }
        let sink = self.unretainedSink
        self.conversations[id.slot]!.gap(
            length: length, from: Self.direction(direction), truncated: reason == .truncated, timestamp: timestamp
        ) { sink.takeUnretainedValue().write($0, lines.takeUnretainedValue()) }
    }

    mutating func ended(_ id: ConnectionID, _ direction: StreamDirection, timestamp: Int64) {
        guard let lines = self.lines(id) else { return }
        let sink = self.unretainedSink
        self.conversations[id.slot]!.end(from: Self.direction(direction), timestamp: timestamp) {
            sink.takeUnretainedValue().write($0, lines.takeUnretainedValue())
        }
    }

    mutating func sweeping(_ id: ConnectionID, order: UInt64) {
        self.sink.minor = order
    }

    mutating func closed(_ id: ConnectionID, reason: CloseReason, timestamp: Int64) {
        guard let lines = self.lines(id) else { return }
        let sink = self.unretainedSink
        self.conversations[id.slot]!.close(timestamp: timestamp) {
            sink.takeUnretainedValue().write($0, lines.takeUnretainedValue())
        }
        self.finishedHTTP.add(self.conversations[id.slot]!.counters)
        self.conversations[id.slot] = nil
        self.slots[id.slot] = Slot()
        self.connections[id.slot] = nil
    }
}

/// What the lines of one connection say about it, made the first time a line needs it.
final class ConnectionLines {
    let key: ConnectionKey
    let initiator: (IPAddress, UInt16)
    let responder: (IPAddress, UInt16)
    let vni: UInt32?
    let sessionID: String?

    init(
        key: ConnectionKey, initiator: (IPAddress, UInt16), responder: (IPAddress, UInt16), vni: UInt32?,
        sessionID: String?
    ) {
        self.key = key
        self.initiator = initiator
        self.responder = responder
        self.vni = vni
        self.sessionID = sessionID
    }

    /// The initiator as client.
    private(set) lazy var plain = self.connection(client: self.initiator, server: self.responder)
    /// The responder as client (it sent the requests).
    private(set) lazy var swapped = self.connection(client: self.responder, server: self.initiator)

    private func connection(client: (IPAddress, UInt16), server: (IPAddress, UInt16)) -> ECSConnection {
        ECSConnection(
            client: client, server: server, outerVLAN: self.key.outerVLAN == 0 ? nil : self.key.outerVLAN,
            innerVLAN: self.key.innerVLAN == 0 ? nil : self.key.innerVLAN, vni: self.vni, sessionID: self.sessionID)
    }
}

/// Where exchanges become lines, and what was found. A class so that a conversation's callback can add to it while
/// the conversation (inside the delegate) is being changed.
final class LineSink {
    /// Lines not yet taken by the caller.
    let output = JSONBuffer(capacity: 1 << 16)
    // One sink belongs to one collector, on one thread: exclusivity checks would buy nothing.
    @exclusivity(unchecked) var transactions = 0
    /// Placeholders for messages lost whole on both sides (nothing known): counted, not written.
    @exclusivity(unchecked) var emptyExchanges = 0
    /// Exchanges by flag, in the order of `HTTPTransactionFlags.all`.
    @exclusivity(unchecked) var flagTotals = [Int](repeating: 0, count: HTTPTransactionFlags.all.count)
    /// With several shares: where the lines written now belong (see ``OutputRun``), and the runs so far.
    @exclusivity(unchecked) var recordsRuns = false
    @exclusivity(unchecked) var major: UInt64 = 0
    @exclusivity(unchecked) var minor: UInt64 = 0
    @exclusivity(unchecked) var runs: [OutputRun] = []
    /// The text of the second the last line was dated in.
    @exclusivity(unchecked) var second = ECSFormatter.SecondText()

    func write(_ t: consuming HTTPTransaction, _ lines: ConnectionLines) {
        guard t.hasRequestMethod || t.hasStatusCode || t.requestBytes != nil || t.responseBytes != nil else {
            self.emptyExchanges += 1
            return
        }
        self.transactions += 1
        if !t.flags.isEmpty {
            for (i, entry) in HTTPTransactionFlags.all.enumerated() where t.flags.contains(entry.flag) {
                self.flagTotals[i] += 1
            }
        }
        if self.recordsRuns, self.runs.last.map({ $0.major != self.major || $0.minor != self.minor }) ?? true {
            self.runs.append(OutputRun(major: self.major, minor: self.minor, start: self.output.count))
        }
        // The side that sent requests is the client, whatever the TCP handshake (or its absence) suggested.
        ECSFormatter.write(t, on: t.rolesSwapped ? lines.swapped : lines.plain, into: self.output, second: &self.second)
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

// vpcmirror: from what the wire or a file holds to the frame that was mirrored, and its VNI.
public import MirrorVXLAN
public import MirrorWire

/// Finds the mirrored frame inside a captured one: VXLAN (UDP to one of `ports`, RFC 7348) is unwrapped, IPv4
/// fragments of the outer datagram are put back together first, and anything else is analysed as it is.
public struct Decapsulator: Sendable {
    public struct Counters: Hashable, Sendable {
        public var frames = 0
        public var vxlan = 0
        /// VXLAN headers with reserved bits set: accepted (RFC 7348 §5 says receivers ignore them) and counted.
        public var vxlanReservedBitsSet = 0
        /// Frames that are not VXLAN, analysed as captured.
        public var plain = 0
        /// Outer fragments held for reassembly (not yet a frame).
        public var outerFragmentsHeld = 0
        /// Frames that could not be decoded, by reason ("outer ipv4 truncated", "vxlan I flag clear", …).
        public var malformed: [String: Int] = [:]
        public init() {}
        public var malformedTotal: Int { self.malformed.values.reduce(0, +) }
    }

    /// UDP destination ports carrying VXLAN: IANA's 4789 and Linux's historical 8472 by default.
    public var ports: [UInt16]
    public private(set) var counters = Counters()
    public private(set) var outerFragments = IPv4Defragmenter()
    /// Set when a frame was an outer fragment (the collector routing for others clears it per frame).
    var heldFragment = false

    public init(ports: [UInt16] = [VXLANHeader.ianaPort, VXLANHeader.linuxPort]) {
        self.ports = ports
    }

    /// A frame to analyse: the inner Ethernet frame of VXLAN (`vni` set) or the captured frame itself.
    public struct Frame {
        public var bytes: UnsafeRawBufferPointer
        public var linkType: LinkType
        public var vni: UInt32?
    }

    mutating func malformed(_ reason: String) {
        self.counters.malformed[reason, default: 0] += 1
    }

    /// Unwraps one captured frame and calls `body` with the frame to analyse (valid only during the call).
    /// Outer fragments are held until their datagram is whole; undecodable frames are counted, not passed on.
    public mutating func decapsulate(
        _ bytes: UnsafeRawBufferPointer, linkType: LinkType, timestamp: Int64, _ body: (Frame) -> Void
    ) {
        self.decapsulate(
            bytes, linkType: linkType, timestamp: timestamp,
            plain: { bytes, linkType, _ in body(Frame(bytes: bytes, linkType: linkType, vni: nil)) }, vxlan: body)
    }

    /// The same, with a frame that is not VXLAN handed to `plain` with its decoding, which is then neither done
    /// again nor copied (it is a few hundred bytes: lent `inout`, which passes its address, where a borrow of a
    /// local variable is a copy). `plain` must not change it.
    mutating func decapsulate(
        _ bytes: UnsafeRawBufferPointer, linkType: LinkType, timestamp: Int64,
        plain: (UnsafeRawBufferPointer, LinkType, inout PacketSummary) -> Void, vxlan: (Frame) -> Void
    ) {
        self.counters.frames += 1
        // Decoded in place and lent to `plain`, not copied on the way.
        var outer = PacketSummary()
        do {
            try outer.redecode(bytes, linkType: linkType)
        } catch {
            // The frame may still be analysable as a whole (e.g. an IP header cut short is reported downstream).
            self.malformed("outer \(error.layer) \(error.code)")
            return
        }
        if outer.ipVersion == 4 && outer.fragment != .none && outer.transportProtocol == .udp {
            // A fragment of a UDP datagram: maybe VXLAN. Put it back together, then look again.
            self.heldFragment = true
            let packet = UnsafeRawBufferPointer(rebasing: bytes[outer.networkOffset...])
            guard let whole = self.outerFragments.add(outer, packet: packet, timestamp: timestamp) else {
                self.counters.outerFragmentsHeld += 1
                return
            }
            whole.withUnsafeBytes { raw in
                guard var s = try? PacketSummary(decoding: raw, linkType: .raw) else {
                    self.malformed("outer reassembled datagram undecodable")
                    return
                }
                self.unwrap(raw, summary: &s, linkType: .raw, plain: plain, vxlan: vxlan)
            }
            return
        }
        self.unwrap(bytes, summary: &outer, linkType: linkType, plain: plain, vxlan: vxlan)
    }

    mutating func unwrap(
        _ bytes: UnsafeRawBufferPointer, summary s: inout PacketSummary, linkType: LinkType,
        plain: (UnsafeRawBufferPointer, LinkType, inout PacketSummary) -> Void, vxlan: (Frame) -> Void
    ) {
        guard s.transportProtocol == .udp, s.hasPorts, self.ports.contains(s.destinationPort) else {
            self.counters.plain += 1
            plain(bytes, linkType, &s)
            return
        }
        let end = min(bytes.count, s.networkOffset + s.ipPacketLength)
        let start = s.transportOffset + 8
        guard end >= start else {
            self.malformed("vxlan truncated")
            return
        }
        self.vxlanPayload(UnsafeRawBufferPointer(rebasing: bytes[start..<end]), vxlan)
    }

    /// Unwraps a VXLAN payload (header + inner Ethernet frame), as a UDP socket receives it.
    public mutating func vxlanPayload(_ payload: UnsafeRawBufferPointer, _ body: (Frame) -> Void) {
        let header: VXLANHeader
        do {
            header = try VXLANHeader(decoding: payload)
        } catch {
            self.malformed(error.code == .truncated ? "vxlan truncated" : "vxlan I flag clear")
            return
        }
        if header.hasReservedBitsSet { self.counters.vxlanReservedBitsSet += 1 }
        self.counters.vxlan += 1
        body(Frame(bytes: UnsafeRawBufferPointer(rebasing: payload[VXLANHeader.byteCount...]), linkType: .ethernet, vni: header.vni))
    }

    /// Counts a frame the router read with ``FastRoute`` as `decapsulate` would have counted it.
    mutating func countFastRouted(_ route: FastRoute) {
        self.counters.frames += 1
        if route.vxlan {
            self.counters.vxlan += 1
            if route.vxlanReservedBitsSet { self.counters.vxlanReservedBitsSet += 1 }
        } else {
            self.counters.plain += 1
        }
    }

    /// Counts a received datagram that `vxlanPayload` will see (socket input has no outer frame).
    public mutating func countDatagram() { self.counters.frames += 1 }
}

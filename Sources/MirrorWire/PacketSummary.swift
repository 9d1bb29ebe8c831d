// vpcmirror: one pass over a captured frame that finds what filters and flow hashes need, in place.

/// Where a packet sits in IP fragmentation.
public enum IPFragment: UInt8, Hashable, Sendable {
    /// Not fragmented.
    case none
    /// The first fragment: it has the transport header.
    case first
    /// A later fragment: no transport header, so no ports.
    case later
}

/// The fields of one frame that mirroring decisions use, with offsets into the captured bytes.
/// Decoding reads the bytes in place and allocates nothing.
public struct PacketSummary: Sendable {
    public var linkType: LinkType = .ethernet
    public var capturedLength = 0

    // MARK: Link layer
    /// The frame begins with an Ethernet II header (tags included) that can be forwarded as it is.
    public var hasEthernetHeader = false
    /// Ethernet addresses; for Linux cooked captures the source comes from the SLL header when it has one.
    public var sourceMAC: MACAddress? = nil
    public var destinationMAC: MACAddress? = nil
    /// Linux `PACKET_*` type from SLL/SLL2: 0 to us, 1 broadcast, 2 multicast, 3 to another host, 4 sent by us.
    public var linuxPacketType: UInt8? = nil
    /// 802.1Q/802.1ad tags, outermost first (at most two are kept; more are walked).
    public var vlanCount: UInt8 = 0
    public var outerVLAN: UInt16 = 0
    public var innerVLAN: UInt16 = 0
    public var etherType = EtherType(rawValue: 0)
    /// Offset of the network header in the captured bytes.
    public var networkOffset = 0

    // MARK: Network layer
    /// 4 or 6; 0 when the frame does not carry IP.
    public var ipVersion: UInt8 = 0
    public var source = IPAddress(ipv4: 0)
    public var destination = IPAddress(ipv4: 0)
    /// IPv4 header or IPv6 header plus extension headers: the distance from `networkOffset` to `transportOffset`.
    public var ipHeaderLength = 0
    /// The packet length the IP header states (IPv4 Total Length; 40 + IPv6 Payload Length).
    public var ipPacketLength = 0
    /// The transport protocol, after IPv6 extension headers.
    public var transportProtocol = IPProtocol(rawValue: 0)
    public var fragment = IPFragment.none
    /// IPv4 Identification or the IPv6 Fragment header's Identification: which datagram a fragment belongs to.
    public var fragmentIdentification: UInt32 = 0
    public var transportOffset = 0

    // MARK: Transport layer
    /// True for TCP and UDP with a transport header (not later fragments).
    public var hasPorts = false
    public var sourcePort: UInt16 = 0
    public var destinationPort: UInt16 = 0
    public var tcpFlags: UInt8 = 0
    public var tcpHeaderLength = 0
    /// ICMP echo identifier (0 otherwise): it plays the port in ICMP flow keys, as in Linux conntrack.
    public var icmpEchoIdentifier: UInt16 = 0
    public var isICMPEcho = false
    /// For a later fragment: its datagram's ports, learnt from the first fragment (`FragmentFlowTable`).
    /// Used only to hash the flow; rules still see a later fragment as having no ports, as AWS does.
    public var hasFlowPorts = false
    public var flowSourcePort: UInt16 = 0
    public var flowDestinationPort: UInt16 = 0

    @inlinable
    public init() {}

    public var isIP: Bool { self.ipVersion != 0 }

    /// Bytes of the IP packet actually present in the capture.
    public var capturedIPLength: Int { self.capturedLength - self.networkOffset }

    /// Decodes `bytes`, captured with link type `linkType`.
    /// Non-IP frames decode successfully with `ipVersion == 0`.
    /// - Throws: `WireError` when a header is cut short or holds impossible values.
    @inlinable
    public init(decoding bytes: UnsafeRawBufferPointer, linkType: LinkType) throws(WireError) {
        self.init()
        try self.decode(bytes, linkType: linkType)
    }

    /// Decodes `bytes` into this value, replacing all it held: the value `init(decoding:linkType:)` gives, built
    /// where the caller keeps it (a summary is 184 bytes, and one returned from an initializer is copied).
    /// - Throws: as `init(decoding:linkType:)`; the value is then unspecified.
    @inlinable
    public mutating func redecode(_ bytes: UnsafeRawBufferPointer, linkType: LinkType) throws(WireError) {
        self = PacketSummary()
        try self.decode(bytes, linkType: linkType)
    }

    // MARK: - Decoding

    @usableFromInline
    mutating func decode(_ bytes: UnsafeRawBufferPointer, linkType: LinkType) throws(WireError) {
        self.linkType = linkType
        self.capturedLength = bytes.count
        let n = bytes.count
        var offset = 0
        switch linkType {
        case .ethernet:
            guard n >= 14 else { throw .truncated(.ethernet, at: 0, needed: 14, available: n) }
            self.hasEthernetHeader = true
            self.destinationMAC = MACAddress(unchecked: bytes, at: 0)
            self.sourceMAC = MACAddress(unchecked: bytes, at: 6)
            self.etherType = EtherType(rawValue: bytes.loadBigEndian(at: 12, as: UInt16.self))
            offset = 14
        case .linuxSLL:
            guard n >= 16 else { throw .truncated(.link, at: 0, needed: 16, available: n) }
            self.linuxPacketType = UInt8(truncatingIfNeeded: bytes.loadBigEndian(at: 0, as: UInt16.self))
            let hardwareType = bytes.loadBigEndian(at: 2, as: UInt16.self)
            let addressLength = bytes.loadBigEndian(at: 4, as: UInt16.self)
            if hardwareType == 1 && addressLength == 6 { self.sourceMAC = MACAddress(unchecked: bytes, at: 6) }
            self.etherType = EtherType(rawValue: bytes.loadBigEndian(at: 14, as: UInt16.self))
            offset = 16
        case .linuxSLL2:
            guard n >= 20 else { throw .truncated(.link, at: 0, needed: 20, available: n) }
            self.etherType = EtherType(rawValue: bytes.loadBigEndian(at: 0, as: UInt16.self))
            let hardwareType = bytes.loadBigEndian(at: 8, as: UInt16.self)
            self.linuxPacketType = bytes[10]
            if hardwareType == 1 && bytes[11] == 6 { self.sourceMAC = MACAddress(unchecked: bytes, at: 12) }
            offset = 20
        case .null, .loop:
            guard n >= 4 else { throw .truncated(.link, at: 0, needed: 4, available: n) }
            // NULL stores the family in the capturing host's order; accept either order.
            let big = bytes.loadBigEndian(at: 0, as: UInt32.self)
            let family = linkType == .loop || big < 0x100 ? big : big.byteSwapped
            switch family {
            case 2: self.etherType = .ipv4
            case 10, 24, 28, 30: self.etherType = .ipv6  // Linux, NetBSD/OpenBSD, FreeBSD, Darwin
            default: self.etherType = EtherType(rawValue: 0)
            }
            offset = 4
        case .raw, .rawDLT12, .rawDLT14, .ipv4, .ipv6:
            guard n >= 1 else { throw .truncated(.link, at: 0, needed: 1, available: 0) }
            switch bytes[0] >> 4 {
            case 4: self.etherType = .ipv4
            case 6: self.etherType = .ipv6
            default: throw .malformed(.link, at: 0, "raw IP frame with IP version \(bytes[0] >> 4)")
            }
        default:
            throw .unsupported(.link, at: 0, "link type \(linkType.rawValue)")
        }

        // 802.1Q / 802.1ad tags; walk up to 8, keep the two outermost.
        var tags = 0
        while self.etherType.isVLANTag {
            guard tags < 8 else { throw .malformed(.vlan, at: offset, "more than 8 VLAN tags") }
            guard n >= offset + 4 else { throw .truncated(.vlan, at: offset, needed: 4, available: n - offset) }
            let vid = bytes.loadBigEndian(at: offset, as: UInt16.self) & 0x0FFF
            if tags == 0 { self.outerVLAN = vid } else if tags == 1 { self.innerVLAN = vid }
            self.etherType = EtherType(rawValue: bytes.loadBigEndian(at: offset + 2, as: UInt16.self))
            offset += 4
            tags += 1
        }
        self.vlanCount = UInt8(tags)
        self.networkOffset = offset

        switch self.etherType {
        case .ipv4: try self.decodeIPv4(bytes, at: offset)
        case .ipv6: try self.decodeIPv6(bytes, at: offset)
        default: return
        }
        if self.fragment != .later {
            try self.decodeTransport(bytes)
        }
    }

    @usableFromInline
    mutating func decodeIPv4(_ bytes: UnsafeRawBufferPointer, at start: Int) throws(WireError) {
        let available = bytes.count - start
        guard available >= 20 else { throw .truncated(.ipv4, at: start, needed: 20, available: available) }
        let versionIHL = bytes[start]
        guard versionIHL >> 4 == 4 else { throw .malformed(.ipv4, at: start, "version \(versionIHL >> 4) in an IPv4 frame") }
        let headerLength = Int(versionIHL & 0x0F) * 4
        guard headerLength >= 20 else { throw .malformed(.ipv4, at: start, "header length \(headerLength) < 20") }
        guard available >= headerLength else {
            throw .truncated(.ipv4, at: start, needed: headerLength, available: available)
        }
        var totalLength = Int(bytes.loadBigEndian(at: start + 2, as: UInt16.self))
        // Segmentation offload writes 0 into super-frames whose length does not fit 16 bits.
        if totalLength == 0 { totalLength = available }
        guard totalLength >= headerLength else {
            throw .malformed(.ipv4, at: start + 2, "total length \(totalLength) < header length \(headerLength)")
        }
        let flagsFragment = bytes.loadBigEndian(at: start + 6, as: UInt16.self)
        let fragmentOffset = flagsFragment & 0x1FFF
        let moreFragments = flagsFragment & 0x2000 != 0
        self.fragment = fragmentOffset != 0 ? .later : (moreFragments ? .first : .none)
        self.fragmentIdentification = UInt32(bytes.loadBigEndian(at: start + 4, as: UInt16.self))
        self.ipVersion = 4
        self.transportProtocol = IPProtocol(rawValue: bytes[start + 9])
        self.source = IPAddress(unchecked: bytes, at: start + 12, family: .ipv4)
        self.destination = IPAddress(unchecked: bytes, at: start + 16, family: .ipv4)
        self.ipHeaderLength = headerLength
        self.ipPacketLength = totalLength
        self.transportOffset = start + headerLength
    }

    @usableFromInline
    mutating func decodeIPv6(_ bytes: UnsafeRawBufferPointer, at start: Int) throws(WireError) {
        let available = bytes.count - start
        guard available >= 40 else { throw .truncated(.ipv6, at: start, needed: 40, available: available) }
        guard bytes[start] >> 4 == 6 else { throw .malformed(.ipv6, at: start, "version \(bytes[start] >> 4) in an IPv6 frame") }
        self.ipVersion = 6
        let payloadLength = Int(bytes.loadBigEndian(at: start + 4, as: UInt16.self))
        // A jumbogram or an offload super-frame says 0; the capture then tells the length.
        self.ipPacketLength = payloadLength == 0 ? available : 40 + payloadLength
        self.source = IPAddress(unchecked: bytes, at: start + 8, family: .ipv6)
        self.destination = IPAddress(unchecked: bytes, at: start + 24, family: .ipv6)
        var next = IPProtocol(rawValue: bytes[start + 6])
        var offset = start + 40
        // Walk extension headers to the transport header (RFC 8200 §4), at most 16 of them.
        var walked = 0
        walk: while true {
            switch next {
            case .hopByHop, .ipv6Routing, .ipv6DestinationOptions, .mobility, .hip, .shim6, .ah, .ipv6Fragment:
                guard walked < 16 else { throw .malformed(.ipv6Extension, at: offset, "more than 16 extension headers") }
                walked += 1
                guard bytes.count >= offset + 8 else {
                    throw .truncated(.ipv6Extension, at: offset, needed: 8, available: bytes.count - offset)
                }
                let headerNext = IPProtocol(rawValue: bytes[offset])
                let length: Int
                if next == .ipv6Fragment {
                    length = 8
                    let field = bytes.loadBigEndian(at: offset + 2, as: UInt16.self)
                    let fragmentOffset = field & 0xFFF8
                    let more = field & 1 != 0
                    self.fragment = fragmentOffset != 0 ? .later : (more ? .first : .none)
                    self.fragmentIdentification = bytes.loadBigEndian(at: offset + 4, as: UInt32.self)
                } else if next == .ah {
                    length = (Int(bytes[offset + 1]) + 2) * 4  // RFC 4302: in 4-octet units, minus 2
                } else {
                    length = (Int(bytes[offset + 1]) + 1) * 8
                }
                guard bytes.count >= offset + length else {
                    throw .truncated(.ipv6Extension, at: offset, needed: length, available: bytes.count - offset)
                }
                next = headerNext
                offset += length
                if self.fragment == .later { break walk }
            default:
                break walk
            }
        }
        self.transportProtocol = next
        self.ipHeaderLength = offset - start
        self.transportOffset = offset
    }

    @usableFromInline
    mutating func decodeTransport(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        let start = self.transportOffset
        let available = bytes.count - start
        switch self.transportProtocol {
        case .tcp:
            guard available >= 14 else { throw .truncated(.tcp, at: start, needed: 14, available: available) }
            self.hasPorts = true
            self.sourcePort = bytes.loadBigEndian(at: start, as: UInt16.self)
            self.destinationPort = bytes.loadBigEndian(at: start + 2, as: UInt16.self)
            self.tcpHeaderLength = Int(bytes[start + 12] >> 4) * 4
            self.tcpFlags = bytes[start + 13]
            guard self.tcpHeaderLength >= 20 else {
                throw .malformed(.tcp, at: start + 12, "data offset \(self.tcpHeaderLength) < 20")
            }
        case .udp:
            guard available >= 8 else { throw .truncated(.udp, at: start, needed: 8, available: available) }
            self.hasPorts = true
            self.sourcePort = bytes.loadBigEndian(at: start, as: UInt16.self)
            self.destinationPort = bytes.loadBigEndian(at: start + 2, as: UInt16.self)
        case .icmp, .icmpv6:
            guard available >= 4 else { throw .truncated(.icmp, at: start, needed: 4, available: available) }
            let type = bytes[start]
            let echo = self.transportProtocol == .icmp ? (type == 8 || type == 0) : (type == 128 || type == 129)
            if echo && available >= 6 {
                self.isICMPEcho = true
                self.icmpEchoIdentifier = bytes.loadBigEndian(at: start + 4, as: UInt16.self)
            }
        default:
            return
        }
    }
}

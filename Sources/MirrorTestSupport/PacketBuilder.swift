// vpcmirror: builds Ethernet/802.1Q/IPv4/IPv6/TCP/UDP/ICMP frames with correct checksums, for tests.
public import MirrorWire

/// Builds frames as `[UInt8]`. The stored properties hold what stays the same from frame to frame (MACs,
/// VLAN tags, IP header fields, IPv6 extension headers); the methods take the rest.
///
/// Checksums are computed here, byte by byte, rather than with MirrorWire's `InternetChecksum`, so that
/// tests of the decoder do not share its arithmetic.
///
/// ```swift
/// var builder = PacketBuilder(vlanTags: [.init(vlanID: 120)])
/// let syn = builder.tcp(source: IPAddress("10.0.0.1")!, sourcePort: 40000,
///                       destination: IPAddress("10.0.0.2")!, destinationPort: 80, flags: .syn)
/// ```
public struct PacketBuilder: Hashable, Sendable {
    /// One IEEE 802.1Q tag; the outermost tag of a QinQ frame usually has `tagProtocol: .qinq`.
    public struct VLANTag: Hashable, Sendable {
        public var vlanID: UInt16
        public var priority: UInt8
        public var dropEligible: Bool
        public var tagProtocol: EtherType

        public init(vlanID: UInt16, priority: UInt8 = 0, dropEligible: Bool = false, tagProtocol: EtherType = .vlan) {
            precondition(vlanID < 4096 && priority < 8, "VLAN ID is 12 bits, priority 3")
            self.vlanID = vlanID
            self.priority = priority
            self.dropEligible = dropEligible
            self.tagProtocol = tagProtocol
        }
    }

    /// The TCP flags byte (RFC 9293, RFC 3168).
    public struct TCPFlags: OptionSet, Hashable, Sendable {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let fin = TCPFlags(rawValue: 0x01)
        public static let syn = TCPFlags(rawValue: 0x02)
        public static let rst = TCPFlags(rawValue: 0x04)
        public static let psh = TCPFlags(rawValue: 0x08)
        public static let ack = TCPFlags(rawValue: 0x10)
        public static let urg = TCPFlags(rawValue: 0x20)
        public static let ece = TCPFlags(rawValue: 0x40)
        public static let cwr = TCPFlags(rawValue: 0x80)
    }

    /// An IPv6 extension header (RFC 8200 §4), placed between the fixed header and the upper layer in
    /// the order given.
    public enum IPv6ExtensionHeader: Hashable, Sendable {
        /// Options as TLVs; padded with Pad1/PadN to a multiple of 8 bytes.
        case hopByHop(options: [UInt8] = [])
        /// Options as TLVs; padded with Pad1/PadN to a multiple of 8 bytes.
        case destinationOptions(options: [UInt8] = [])
        /// `byteOffset` must be a multiple of 8.
        case fragment(byteOffset: Int, moreFragments: Bool, identification: UInt32)

        var protocolNumber: IPProtocol {
            switch self {
            case .hopByHop: .hopByHop
            case .destinationOptions: .ipv6DestinationOptions
            case .fragment: .ipv6Fragment
            }
        }
    }

    public static let defaultSourceMAC = MACAddress(rawValue: 0x02_00_00_00_00_01)
    public static let defaultDestinationMAC = MACAddress(rawValue: 0x02_00_00_00_00_02)

    public var sourceMAC: MACAddress
    public var destinationMAC: MACAddress
    /// Outermost first.
    public var vlanTags: [VLANTag]
    /// IPv4 TTL or IPv6 hop limit.
    public var timeToLive: UInt8 = 64
    /// IPv4 type of service or IPv6 traffic class (DSCP and ECN).
    public var trafficClass: UInt8 = 0
    /// IPv6 flow label (20 bits).
    public var flowLabel: UInt32 = 0
    /// IPv4 identification.
    public var identification: UInt16 = 0
    /// IPv4 DF flag.
    public var dontFragment = false
    /// IPv4 MF flag.
    public var moreFragments = false
    /// IPv4 fragment offset in bytes; must be a multiple of 8.
    public var fragmentByteOffset = 0
    /// IPv4 options, padded with zeros (end of options) to a multiple of 4 bytes; at most 40 bytes.
    public var ipv4Options: [UInt8] = []
    /// IPv6 extension headers, in order.
    public var ipv6ExtensionHeaders: [IPv6ExtensionHeader] = []

    public init(
        sourceMAC: MACAddress = PacketBuilder.defaultSourceMAC,
        destinationMAC: MACAddress = PacketBuilder.defaultDestinationMAC,
        vlanTags: [VLANTag] = []
    ) {
        self.sourceMAC = sourceMAC
        self.destinationMAC = destinationMAC
        self.vlanTags = vlanTags
    }

    // MARK: - Whole frames

    /// An Ethernet frame carrying a TCP segment.
    public func tcp(
        source: IPAddress,
        sourcePort: UInt16,
        destination: IPAddress,
        destinationPort: UInt16,
        flags: TCPFlags = .ack,
        sequenceNumber: UInt32 = 0,
        acknowledgmentNumber: UInt32 = 0,
        window: UInt16 = 65_535,
        options: [UInt8] = [],
        payload: [UInt8] = []
    ) -> [UInt8] {
        let segment = Self.tcpSegment(
            source: source, sourcePort: sourcePort, destination: destination, destinationPort: destinationPort,
            flags: flags, sequenceNumber: sequenceNumber, acknowledgmentNumber: acknowledgmentNumber,
            window: window, options: options, payload: payload
        )
        return self.ip(source: source, destination: destination, protocol: .tcp, payload: segment)
    }

    /// An Ethernet frame carrying a UDP datagram.
    public func udp(
        source: IPAddress,
        sourcePort: UInt16,
        destination: IPAddress,
        destinationPort: UInt16,
        payload: [UInt8] = []
    ) -> [UInt8] {
        let datagram = Self.udpDatagram(
            source: source, sourcePort: sourcePort, destination: destination, destinationPort: destinationPort,
            payload: payload
        )
        return self.ip(source: source, destination: destination, protocol: .udp, payload: datagram)
    }

    /// An Ethernet frame carrying ICMP (for IPv4 addresses) or ICMPv6 (for IPv6 addresses).
    /// - Parameter restOfHeader: bytes 4–7 of the message (identifier and sequence number for echo).
    public func icmp(
        source: IPAddress,
        destination: IPAddress,
        type: UInt8,
        code: UInt8 = 0,
        restOfHeader: UInt32 = 0,
        payload: [UInt8] = []
    ) -> [UInt8] {
        let message = Self.icmpMessage(
            source: source, destination: destination, type: type, code: code, restOfHeader: restOfHeader,
            payload: payload
        )
        return self.ip(source: source, destination: destination, protocol: source.isIPv4 ? .icmp : .icmpv6, payload: message)
    }

    /// An Ethernet frame carrying an IP packet with any payload (already built, or a fragment of one).
    public func ip(source: IPAddress, destination: IPAddress, protocol: IPProtocol, payload: [UInt8]) -> [UInt8] {
        let packet = self.ipPacket(source: source, destination: destination, protocol: `protocol`, payload: payload)
        return self.ethernet(etherType: source.isIPv4 ? .ipv4 : .ipv6, payload: packet)
    }

    /// An Ethernet II frame, with `vlanTags` between the MACs and `etherType`. No padding to 60 bytes.
    public func ethernet(etherType: EtherType, payload: [UInt8]) -> [UInt8] {
        var frame: [UInt8] = []
        frame.reserveCapacity(14 + 4 * self.vlanTags.count + payload.count)
        Self.append(self.destinationMAC.rawValue, byteCount: 6, to: &frame)
        Self.append(self.sourceMAC.rawValue, byteCount: 6, to: &frame)
        for tag in self.vlanTags {
            Self.append(tag.tagProtocol.rawValue, to: &frame)
            let dropEligible: UInt16 = tag.dropEligible ? 0x1000 : 0
            Self.append(UInt16(tag.priority) << 13 | dropEligible | tag.vlanID, to: &frame)
        }
        Self.append(etherType.rawValue, to: &frame)
        frame += payload
        return frame
    }

    // MARK: - IP

    /// An IPv4 or IPv6 packet (by the addresses' family) around `payload`, with this builder's header
    /// fields: TTL, traffic class, IPv4 identification, flags, fragment offset and options, or IPv6 flow
    /// label and extension headers.
    public func ipPacket(source: IPAddress, destination: IPAddress, protocol: IPProtocol, payload: [UInt8]) -> [UInt8] {
        precondition(source.family == destination.family, "source and destination families differ")
        return source.isIPv4
            ? self.ipv4Packet(source: source, destination: destination, protocol: `protocol`, payload: payload)
            : self.ipv6Packet(source: source, destination: destination, protocol: `protocol`, payload: payload)
    }

    private func ipv4Packet(source: IPAddress, destination: IPAddress, protocol: IPProtocol, payload: [UInt8]) -> [UInt8] {
        precondition(self.fragmentByteOffset % 8 == 0 && self.fragmentByteOffset < 65_536, "fragment offset is in 8-byte units")
        var options = self.ipv4Options
        while options.count % 4 != 0 { options.append(0) }
        precondition(options.count <= 40, "IPv4 options are at most 40 bytes")
        let headerLength = 20 + options.count
        let totalLength = headerLength + payload.count
        precondition(totalLength <= 65_535, "IPv4 packet longer than 65535 bytes")
        var header: [UInt8] = [0x40 | UInt8(headerLength / 4), self.trafficClass]
        Self.append(UInt16(totalLength), to: &header)
        Self.append(self.identification, to: &header)
        var flagsAndOffset = UInt16(self.fragmentByteOffset / 8)
        if self.dontFragment { flagsAndOffset |= 0x4000 }
        if self.moreFragments { flagsAndOffset |= 0x2000 }
        Self.append(flagsAndOffset, to: &header)
        header += [self.timeToLive, `protocol`.rawValue, 0, 0]
        header += Self.bytes(of: source)
        header += Self.bytes(of: destination)
        header += options
        let checksum = Self.internetChecksum(header)
        header[10] = UInt8(checksum >> 8)
        header[11] = UInt8(checksum & 0xFF)
        return header + payload
    }

    private func ipv6Packet(source: IPAddress, destination: IPAddress, protocol: IPProtocol, payload: [UInt8]) -> [UInt8] {
        var extensions: [UInt8] = []
        for (index, header) in self.ipv6ExtensionHeaders.enumerated() {
            let next = index + 1 < self.ipv6ExtensionHeaders.count
                ? self.ipv6ExtensionHeaders[index + 1].protocolNumber : `protocol`
            extensions += Self.encode(header, nextHeader: next)
        }
        let payloadLength = extensions.count + payload.count
        precondition(payloadLength <= 65_535, "IPv6 payload longer than 65535 bytes (no jumbograms)")
        var packet: [UInt8] = []
        Self.append(6 << 28 | UInt32(self.trafficClass) << 20 | (self.flowLabel & 0xF_FFFF), to: &packet)
        Self.append(UInt16(payloadLength), to: &packet)
        packet.append(self.ipv6ExtensionHeaders.first?.protocolNumber.rawValue ?? `protocol`.rawValue)
        packet.append(self.timeToLive)
        packet += Self.bytes(of: source)
        packet += Self.bytes(of: destination)
        return packet + extensions + payload
    }

    private static func encode(_ header: IPv6ExtensionHeader, nextHeader: IPProtocol) -> [UInt8] {
        switch header {
        case .hopByHop(let options), .destinationOptions(let options):
            var bytes = [nextHeader.rawValue, 0] + options
            let padding = (8 - bytes.count % 8) % 8
            if padding == 1 {
                bytes.append(0)  // Pad1
            } else if padding > 1 {
                bytes += [1, UInt8(padding - 2)] + [UInt8](repeating: 0, count: padding - 2)  // PadN
            }
            precondition(bytes.count / 8 - 1 <= 255, "options header too long")
            bytes[1] = UInt8(bytes.count / 8 - 1)
            return bytes
        case .fragment(let byteOffset, let moreFragments, let identification):
            precondition(byteOffset % 8 == 0 && byteOffset < 65_536, "fragment offset is in 8-byte units")
            var bytes = [nextHeader.rawValue, 0]
            Self.append(UInt16(byteOffset) | (moreFragments ? 1 : 0), to: &bytes)
            Self.append(identification, to: &bytes)
            return bytes
        }
    }

    /// The frames of `payload` (a whole upper-layer message, checksum included) cut into fragments of at
    /// most `fragmentByteCount` payload bytes (rounded down to a multiple of 8). IPv4 uses the header's
    /// MF flag and offset with `identification`'s low 16 bits; IPv6 appends a Fragment header after this
    /// builder's extension headers.
    public func fragments(
        source: IPAddress,
        destination: IPAddress,
        protocol: IPProtocol,
        payload: [UInt8],
        fragmentByteCount: Int,
        identification: UInt32
    ) -> [[UInt8]] {
        let step = fragmentByteCount / 8 * 8
        precondition(step > 0, "fragments carry at least 8 bytes")
        var frames: [[UInt8]] = []
        var start = 0
        repeat {
            let end = min(start + step, payload.count)
            var builder = self
            let more = end < payload.count
            if source.isIPv4 {
                precondition(identification <= UInt32(UInt16.max), "IPv4 identification is 16 bits")
                builder.identification = UInt16(identification)
                builder.moreFragments = more
                builder.fragmentByteOffset = start
            } else {
                builder.ipv6ExtensionHeaders.append(.fragment(byteOffset: start, moreFragments: more, identification: identification))
            }
            frames.append(builder.ip(source: source, destination: destination, protocol: `protocol`, payload: Array(payload[start..<end])))
            start = end
        } while start < payload.count
        return frames
    }

    // MARK: - Transport layer

    /// A TCP segment with its checksum over the pseudo-header of `source` and `destination`.
    /// - Parameter options: TCP options, padded with zeros (end of option list) to a multiple of 4 bytes.
    public static func tcpSegment(
        source: IPAddress,
        sourcePort: UInt16,
        destination: IPAddress,
        destinationPort: UInt16,
        flags: TCPFlags = .ack,
        sequenceNumber: UInt32 = 0,
        acknowledgmentNumber: UInt32 = 0,
        window: UInt16 = 65_535,
        urgentPointer: UInt16 = 0,
        options: [UInt8] = [],
        payload: [UInt8] = []
    ) -> [UInt8] {
        var options = options
        while options.count % 4 != 0 { options.append(0) }
        precondition(options.count <= 40, "TCP options are at most 40 bytes")
        var segment: [UInt8] = []
        Self.append(sourcePort, to: &segment)
        Self.append(destinationPort, to: &segment)
        Self.append(sequenceNumber, to: &segment)
        Self.append(acknowledgmentNumber, to: &segment)
        segment += [UInt8((20 + options.count) / 4) << 4, flags.rawValue]
        Self.append(window, to: &segment)
        segment += [0, 0]  // checksum
        Self.append(urgentPointer, to: &segment)
        segment += options
        segment += payload
        let checksum = Self.transportChecksum(segment, source: source, destination: destination, protocol: .tcp)
        segment[16] = UInt8(checksum >> 8)
        segment[17] = UInt8(checksum & 0xFF)
        return segment
    }

    /// A UDP datagram with its checksum over the pseudo-header (a computed 0 is sent as 0xFFFF, RFC 768).
    public static func udpDatagram(
        source: IPAddress,
        sourcePort: UInt16,
        destination: IPAddress,
        destinationPort: UInt16,
        payload: [UInt8] = []
    ) -> [UInt8] {
        precondition(8 + payload.count <= 65_535, "UDP datagram longer than 65535 bytes")
        var datagram: [UInt8] = []
        Self.append(sourcePort, to: &datagram)
        Self.append(destinationPort, to: &datagram)
        Self.append(UInt16(8 + payload.count), to: &datagram)
        datagram += [0, 0]
        datagram += payload
        var checksum = Self.transportChecksum(datagram, source: source, destination: destination, protocol: .udp)
        if checksum == 0 { checksum = 0xFFFF }
        datagram[6] = UInt8(checksum >> 8)
        datagram[7] = UInt8(checksum & 0xFF)
        return datagram
    }

    /// An ICMP message (checksum over the message) or, for IPv6 addresses, an ICMPv6 message (checksum
    /// over the pseudo-header too, RFC 4443 §2.3).
    public static func icmpMessage(
        source: IPAddress,
        destination: IPAddress,
        type: UInt8,
        code: UInt8 = 0,
        restOfHeader: UInt32 = 0,
        payload: [UInt8] = []
    ) -> [UInt8] {
        var message: [UInt8] = [type, code, 0, 0]
        Self.append(restOfHeader, to: &message)
        message += payload
        let checksum = source.isIPv4
            ? Self.internetChecksum(message)
            : Self.transportChecksum(message, source: source, destination: destination, protocol: .icmpv6)
        message[2] = UInt8(checksum >> 8)
        message[3] = UInt8(checksum & 0xFF)
        return message
    }

    // MARK: - Checksums and bytes

    /// The RFC 1071 checksum of `bytes` (an odd tail is padded with a zero byte), plus `initialSum`.
    public static func internetChecksum(_ bytes: [UInt8], initialSum: UInt32 = 0) -> UInt16 {
        var sum = UInt64(initialSum)
        var index = 0
        while index + 1 < bytes.count {
            sum += UInt64(bytes[index]) << 8 | UInt64(bytes[index + 1])
            index += 2
        }
        if index < bytes.count { sum += UInt64(bytes[index]) << 8 }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }

    /// The TCP/UDP/ICMPv6 checksum of `segment` (its checksum field zero) with the IPv4 or IPv6
    /// pseudo-header.
    public static func transportChecksum(
        _ segment: [UInt8],
        source: IPAddress,
        destination: IPAddress,
        protocol: IPProtocol
    ) -> UInt16 {
        var pseudoHeader = Self.bytes(of: source) + Self.bytes(of: destination)
        if source.isIPv4 {
            pseudoHeader += [0, `protocol`.rawValue]
            Self.append(UInt16(truncatingIfNeeded: segment.count), to: &pseudoHeader)
        } else {
            Self.append(UInt32(segment.count), to: &pseudoHeader)
            pseudoHeader += [0, 0, 0, `protocol`.rawValue]
        }
        // Both parts have even length except the segment's tail, so summing the concatenation is exact.
        return Self.internetChecksum(pseudoHeader + segment)
    }

    /// The address in network byte order: 4 bytes for IPv4, 16 for IPv6.
    public static func bytes(of address: IPAddress) -> [UInt8] {
        var bytes: [UInt8] = []
        if address.isIPv4 {
            Self.append(address.ipv4Value, to: &bytes)
        } else {
            Self.append(address.high, to: &bytes)
            Self.append(address.low, to: &bytes)
        }
        return bytes
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        Self.append(UInt64(truncatingIfNeeded: value), byteCount: T.bitWidth / 8, to: &bytes)
    }

    private static func append(_ value: UInt64, byteCount: Int, to bytes: inout [UInt8]) {
        for index in stride(from: byteCount - 1, through: 0, by: -1) {
            bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(index))))
        }
    }
}

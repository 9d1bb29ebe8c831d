// vpcmirror: the router's quick look at the commonest frames: the connection of a whole TCP segment in Ethernet,
// bare or in VXLAN.
import MirrorReassembly
import MirrorWire

/// The connection a frame belongs to, read from the few header fields that name it instead of a full decoding.
///
/// It answers only for Ethernet (802.1Q/QinQ tags allowed) carrying IPv4 without fragmentation or IPv6 without
/// extension headers, then TCP; or carrying UDP to a VXLAN port whose VXLAN payload is such a frame. Everything else
/// (another link type, fragments, extension headers, other protocols, and anything the full decoding would reject or
/// count as malformed) gives nil, and the router decodes the frame in full. Where it answers, it checks what the full
/// decoding checks, so the two agree: the same connection, and a frame the full decoding would analyse.
struct FastRoute {
    var key: ConnectionKey
    /// The segment came in VXLAN.
    var vxlan = false
    var vxlanReservedBitsSet = false

    static func of(_ bytes: UnsafeRawBufferPointer, linkType: LinkType, vxlanPorts: [UInt16]) -> FastRoute? {
        guard linkType == .ethernet, let outer = Headers(bytes) else { return nil }
        if outer.isTCP { return FastRoute(key: outer.key(vni: Conversations.noVNI)) }
        guard vxlanPorts.contains(outer.destinationPort) else { return nil }
        // As the decapsulator: the VXLAN header and inner frame lie between the UDP header and the IP packet's end.
        let start = outer.transportOffset + 8
        let end = min(bytes.count, outer.ipEnd)
        guard end >= start + 8 else { return nil }
        let flags = bytes.loadBigEndian(at: start, as: UInt32.self)
        guard flags & 0x0800_0000 != 0 else { return nil }
        let vni = bytes.loadBigEndian(at: start + 4, as: UInt32.self) >> 8
        guard let inner = Headers(UnsafeRawBufferPointer(rebasing: bytes[(start + 8)..<end])), inner.isTCP else {
            return nil
        }
        return FastRoute(key: inner.key(vni: vni), vxlan: true, vxlanReservedBitsSet: flags & 0xF7FF_FFFF != 0)
    }

    /// The fields that name a TCP or UDP flow in an Ethernet frame, or nil (see ``FastRoute``).
    private struct Headers {
        var vlanCount = 0
        var outerVLAN: UInt16 = 0
        var innerVLAN: UInt16 = 0
        var source = IPAddress(ipv4: 0)
        var destination = IPAddress(ipv4: 0)
        var isTCP = false
        var sourcePort: UInt16 = 0
        var destinationPort: UInt16 = 0
        var transportOffset = 0
        /// Where the IP packet ends by its header (it may run past the capture).
        var ipEnd = 0

        // The checks are PacketSummary.decode's, in its order; where it would throw or walk further, this gives up.
        init?(_ bytes: UnsafeRawBufferPointer) {
            let n = bytes.count
            guard n >= 14 else { return nil }
            var etherType = EtherType(rawValue: bytes.loadBigEndian(at: 12, as: UInt16.self))
            var offset = 14
            while etherType.isVLANTag {
                guard self.vlanCount < 8, n >= offset + 4 else { return nil }
                let vid = bytes.loadBigEndian(at: offset, as: UInt16.self) & 0x0FFF
                if self.vlanCount == 0 { self.outerVLAN = vid } else if self.vlanCount == 1 { self.innerVLAN = vid }
                etherType = EtherType(rawValue: bytes.loadBigEndian(at: offset + 2, as: UInt16.self))
                offset += 4
                self.vlanCount += 1
            }
            let available = n - offset
            let proto: UInt8
            if etherType == .ipv4 {
                guard available >= 20 else { return nil }
                let versionIHL = bytes.loadBigEndian(at: offset, as: UInt8.self)
                let headerLength = Int(versionIHL & 0x0F) * 4
                guard versionIHL >> 4 == 4, headerLength >= 20, available >= headerLength else { return nil }
                var totalLength = Int(bytes.loadBigEndian(at: offset + 2, as: UInt16.self))
                if totalLength == 0 { totalLength = available }
                // Fragments (offset or more-fragments set) are held and put together by the full path.
                guard totalLength >= headerLength, bytes.loadBigEndian(at: offset + 6, as: UInt16.self) & 0x3FFF == 0
                else { return nil }
                proto = bytes.loadBigEndian(at: offset + 9, as: UInt8.self)
                self.source = IPAddress(unchecked: bytes, at: offset + 12, family: .ipv4)
                self.destination = IPAddress(unchecked: bytes, at: offset + 16, family: .ipv4)
                self.ipEnd = offset + totalLength
                self.transportOffset = offset + headerLength
            } else if etherType == .ipv6 {
                guard available >= 40, bytes.loadBigEndian(at: offset, as: UInt8.self) >> 4 == 6 else { return nil }
                let payloadLength = Int(bytes.loadBigEndian(at: offset + 4, as: UInt16.self))
                proto = bytes.loadBigEndian(at: offset + 6, as: UInt8.self)
                self.source = IPAddress(unchecked: bytes, at: offset + 8, family: .ipv6)
                self.destination = IPAddress(unchecked: bytes, at: offset + 24, family: .ipv6)
                self.ipEnd = payloadLength == 0 ? n : offset + 40 + payloadLength
                self.transportOffset = offset + 40
            } else {
                return nil
            }
            let rest = n - self.transportOffset
            switch IPProtocol(rawValue: proto) {
            case .tcp:
                guard rest >= 14, Int(bytes.loadBigEndian(at: self.transportOffset + 12, as: UInt8.self) >> 4) * 4 >= 20
                else { return nil }
                self.isTCP = true
            case .udp:
                guard rest >= 8 else { return nil }
            default:
                return nil
            }
            self.sourcePort = bytes.loadBigEndian(at: self.transportOffset, as: UInt16.self)
            self.destinationPort = bytes.loadBigEndian(at: self.transportOffset + 2, as: UInt16.self)
        }

        /// The key ``Analysis/segment`` makes.
        func key(vni: UInt32) -> ConnectionKey {
            ConnectionKey(
                vni: vni, tags: (self.outerVLAN, self.innerVLAN, self.vlanCount), source: self.source,
                sourcePort: self.sourcePort, destination: self.destination, destinationPort: self.destinationPort)
        }
    }
}

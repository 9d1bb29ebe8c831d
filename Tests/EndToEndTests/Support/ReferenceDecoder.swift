// vpcmirror end-to-end tests: the tests' own frame decoder, written from the protocol specifications.
//
// It deliberately shares nothing with MirrorWire's PacketSummary: it works on [UInt8], keeps addresses as
// bytes, and parses address text with inet_pton, so that a mistake in the engine's decoding shows up as a
// difference rather than being repeated here.
import Glibc

/// Addresses as network-order bytes: 4 for IPv4, 16 for IPv6.
enum AddressText {
    static func parse(_ text: String) -> [UInt8]? {
        if text.contains(":") {
            var a = in6_addr()
            guard inet_pton(AF_INET6, text, &a) == 1 else { return nil }
            return withUnsafeBytes(of: &a) { Array($0) }
        }
        var a = in_addr()
        guard inet_pton(AF_INET, text, &a) == 1 else { return nil }
        return withUnsafeBytes(of: &a) { Array($0) }
    }

    static func format(_ bytes: [UInt8]) -> String {
        var out = [CChar](repeating: 0, count: 64)
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        bytes.withUnsafeBytes { raw in
            _ = inet_ntop(family, raw.baseAddress, &out, socklen_t(out.count))
        }
        return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func parseMAC(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ":")
        guard parts.count == 6 else { return nil }
        let bytes = parts.compactMap { UInt8($0, radix: 16) }
        return bytes.count == 6 ? bytes : nil
    }

    static func formatMAC(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: ":")
    }
}

/// A CIDR block over address bytes.
struct ReferenceCIDR {
    var network: [UInt8]
    var prefixLength: Int

    init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = AddressText.parse(String(parts[0])), let length = Int(parts[1]),
            length >= 0, length <= address.count * 8
        else { return nil }
        self.network = address
        self.prefixLength = length
    }

    /// Same family and the first `prefixLength` bits equal.
    func contains(_ address: [UInt8]) -> Bool {
        guard address.count == self.network.count else { return false }
        var bits = self.prefixLength
        var i = 0
        while bits > 0 {
            let mask: UInt8 = bits >= 8 ? 0xFF : ~(0xFF >> UInt8(bits))
            if address[i] & mask != self.network[i] & mask { return false }
            bits -= 8
            i += 1
        }
        return true
    }
}

/// What the tests need to know about one frame.
struct ReferencePacket {
    /// The frame starts with an Ethernet II header (the captured link type is Ethernet).
    var isEthernet = false
    var sourceMAC: [UInt8]? = nil
    var destinationMAC: [UInt8]? = nil
    /// Linux cooked capture: the sender's Ethernet address, when the header carries one.
    var cookedSourceMAC: [UInt8]? = nil
    /// Where the IP header starts.
    var networkOffset = 0
    /// Where the transport header starts (after IPv4 options or IPv6 extension headers).
    var transportOffset = 0
    /// 4, 6, or 0 when the frame does not carry IP.
    var ipVersion = 0
    var source: [UInt8] = []
    var destination: [UInt8] = []
    /// The upper-layer protocol (after IPv6 extension headers; a later IPv6 fragment's Fragment header says it).
    var ipProtocol: UInt8 = 0
    /// Part of a fragmented datagram (first or later).
    var isFragment = false
    /// A fragment other than the first: no transport header.
    var isLaterFragment = false
    /// IPv4 Identification or IPv6 Fragment header Identification.
    var fragmentIdentification: UInt32 = 0
    /// TCP or UDP with its header present.
    var hasPorts = false
    var sourcePort: UInt16 = 0
    var destinationPort: UInt16 = 0
    /// ICMP or ICMPv6 echo request/reply identifier.
    var icmpEchoIdentifier: UInt16? = nil

    var isIP: Bool { self.ipVersion != 0 }
}

/// Decodes frames; returns nil for frames it considers malformed (a header cut short or impossible).
enum ReferenceDecoder {
    static let tagTypes: Set<UInt16> = [0x8100, 0x88A8, 0x9100]
    static let ipv6ExtensionHeaders: Set<UInt8> = [0, 43, 44, 51, 60, 135, 139, 140]

    static func be16(_ b: [UInt8], _ i: Int) -> UInt16 { UInt16(b[i]) << 8 | UInt16(b[i + 1]) }
    static func be32(_ b: [UInt8], _ i: Int) -> UInt32 { UInt32(be16(b, i)) << 16 | UInt32(be16(b, i + 2)) }

    static func decode(_ b: [UInt8], linkType: Int32) -> ReferencePacket? {
        var p = ReferencePacket()
        var etherType: UInt16 = 0
        var offset = 0
        switch linkType {
        case 1:  // Ethernet
            guard b.count >= 14 else { return nil }
            p.isEthernet = true
            p.destinationMAC = Array(b[0..<6])
            p.sourceMAC = Array(b[6..<12])
            etherType = be16(b, 12)
            offset = 14
        case 113:  // Linux SLL: packet type, ARPHRD type, address length, 8 address bytes, protocol
            guard b.count >= 16 else { return nil }
            if be16(b, 2) == 1 && be16(b, 4) == 6 { p.cookedSourceMAC = Array(b[6..<12]) }
            etherType = be16(b, 14)
            offset = 16
        case 276:  // Linux SLL2: protocol, reserved, ifindex, ARPHRD type, packet type, address length, address
            guard b.count >= 20 else { return nil }
            etherType = be16(b, 0)
            if be16(b, 8) == 1 && b[11] == 6 { p.cookedSourceMAC = Array(b[12..<18]) }
            offset = 20
        case 0, 108:  // BSD NULL (host byte order) and LOOP (network byte order): the address family
            guard b.count >= 4 else { return nil }
            let big = be32(b, 0)
            let family = linkType == 108 || big < 0x100 ? big : big.byteSwapped
            switch family {
            case 2: etherType = 0x0800
            case 10, 24, 28, 30: etherType = 0x86DD
            default: etherType = 0
            }
            offset = 4
        case 101, 12, 14, 228, 229:  // raw IP
            guard let first = b.first else { return nil }
            switch first >> 4 {
            case 4: etherType = 0x0800
            case 6: etherType = 0x86DD
            default: return nil
            }
        default:
            return nil
        }
        var tags = 0
        while tagTypes.contains(etherType) {
            guard tags < 8, b.count >= offset + 4 else { return nil }
            etherType = be16(b, offset + 2)
            offset += 4
            tags += 1
        }
        p.networkOffset = offset
        switch etherType {
        case 0x0800:
            guard self.decodeIPv4(b, at: offset, into: &p) else { return nil }
        case 0x86DD:
            guard self.decodeIPv6(b, at: offset, into: &p) else { return nil }
        default:
            return p
        }
        if !p.isLaterFragment {
            guard self.decodeTransport(b, into: &p) else { return nil }
        }
        return p
    }

    static func decodeIPv4(_ b: [UInt8], at start: Int, into p: inout ReferencePacket) -> Bool {
        guard b.count - start >= 20, b[start] >> 4 == 4 else { return false }
        let headerLength = Int(b[start] & 0x0F) * 4
        guard headerLength >= 20, b.count - start >= headerLength else { return false }
        let totalLength = Int(be16(b, start + 2))
        // A total length of 0 is what segmentation offload writes; otherwise it must cover the header.
        guard totalLength == 0 || totalLength >= headerLength else { return false }
        let flags = be16(b, start + 6)
        let fragmentOffset = flags & 0x1FFF
        let moreFragments = flags & 0x2000 != 0
        p.isFragment = fragmentOffset != 0 || moreFragments
        p.isLaterFragment = fragmentOffset != 0
        p.fragmentIdentification = UInt32(be16(b, start + 4))
        p.ipVersion = 4
        p.ipProtocol = b[start + 9]
        p.source = Array(b[(start + 12)..<(start + 16)])
        p.destination = Array(b[(start + 16)..<(start + 20)])
        p.transportOffset = start + headerLength
        return true
    }

    static func decodeIPv6(_ b: [UInt8], at start: Int, into p: inout ReferencePacket) -> Bool {
        guard b.count - start >= 40, b[start] >> 4 == 6 else { return false }
        p.ipVersion = 6
        p.source = Array(b[(start + 8)..<(start + 24)])
        p.destination = Array(b[(start + 24)..<(start + 40)])
        var next = b[start + 6]
        var offset = start + 40
        var count = 0
        while ipv6ExtensionHeaders.contains(next) {
            count += 1
            guard count <= 16, b.count >= offset + 8 else { return false }
            let following = b[offset]
            let length: Int
            switch next {
            case 44:  // Fragment (RFC 8200 §4.5): fixed 8 bytes
                length = 8
                let field = be16(b, offset + 2)
                p.isFragment = true
                p.fragmentIdentification = UInt32(be16(b, offset + 4)) << 16 | UInt32(be16(b, offset + 6))
                if field & 0xFFF8 != 0 { p.isLaterFragment = true }
                if field & 0xFFF8 == 0 && field & 1 == 0 { p.isFragment = false }  // atomic fragment
            case 51:  // AH (RFC 4302): 4-octet units, minus 2
                length = (Int(b[offset + 1]) + 2) * 4
            default:
                length = (Int(b[offset + 1]) + 1) * 8
            }
            guard b.count >= offset + length else { return false }
            next = following
            offset += length
            if p.isLaterFragment { break }
        }
        p.ipProtocol = next
        p.transportOffset = offset
        return true
    }

    static func decodeTransport(_ b: [UInt8], into p: inout ReferencePacket) -> Bool {
        let start = p.transportOffset
        let available = b.count - start
        switch p.ipProtocol {
        case 6:
            guard available >= 20, b[start + 12] >> 4 >= 5 else { return false }
            p.hasPorts = true
        case 17:
            guard available >= 8 else { return false }
            p.hasPorts = true
        case 1, 58:
            guard available >= 4 else { return false }
            let type = b[start]
            let echo = p.ipProtocol == 1 ? (type == 0 || type == 8) : (type == 128 || type == 129)
            if echo && available >= 6 { p.icmpEchoIdentifier = be16(b, start + 4) }
            return true
        default:
            return true
        }
        p.sourcePort = be16(b, start)
        p.destinationPort = be16(b, start + 2)
        return true
    }
}

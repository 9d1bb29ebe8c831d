// vpcmirror: numbers from the wire as open structs, so an unknown value is a value and not a crash.

/// The EtherType of an Ethernet II frame (IEEE 802.3 clause 3.2.6).
public struct EtherType: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// Internet Protocol version 4 (RFC 894).
    public static let ipv4 = EtherType(rawValue: 0x0800)
    /// Address Resolution Protocol (RFC 826).
    public static let arp = EtherType(rawValue: 0x0806)
    /// IEEE 802.1Q VLAN tag.
    public static let vlan = EtherType(rawValue: 0x8100)
    /// IEEE 802.1ad service tag (QinQ outer tag).
    public static let qinq = EtherType(rawValue: 0x88A8)
    /// Pre-standard QinQ outer tag still seen in captures.
    public static let qinqLegacy = EtherType(rawValue: 0x9100)
    /// Internet Protocol version 6 (RFC 2464).
    public static let ipv6 = EtherType(rawValue: 0x86DD)

    @inlinable public var isVLANTag: Bool {
        self == .vlan || self == .qinq || self == .qinqLegacy
    }
}

/// An IANA assigned internet protocol number (IPv4 Protocol, IPv6 Next Header).
public struct IPProtocol: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let hopByHop = IPProtocol(rawValue: 0)
    public static let icmp = IPProtocol(rawValue: 1)
    public static let tcp = IPProtocol(rawValue: 6)
    public static let udp = IPProtocol(rawValue: 17)
    public static let ipv6Routing = IPProtocol(rawValue: 43)
    public static let ipv6Fragment = IPProtocol(rawValue: 44)
    public static let gre = IPProtocol(rawValue: 47)
    public static let esp = IPProtocol(rawValue: 50)
    public static let ah = IPProtocol(rawValue: 51)
    public static let icmpv6 = IPProtocol(rawValue: 58)
    public static let ipv6NoNextHeader = IPProtocol(rawValue: 59)
    public static let ipv6DestinationOptions = IPProtocol(rawValue: 60)
    public static let mobility = IPProtocol(rawValue: 135)
    public static let hip = IPProtocol(rawValue: 139)
    public static let shim6 = IPProtocol(rawValue: 140)

    public var description: String { String(self.rawValue) }
}

/// A libpcap link-layer header type (LINKTYPE_* / DLT_*).
public struct LinkType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    @inlinable public init(rawValue: Int32) { self.rawValue = rawValue }
    /// BSD loopback: a 4-byte address family in host order of the capturing machine.
    public static let null = LinkType(rawValue: 0)
    public static let ethernet = LinkType(rawValue: 1)
    /// Raw IP; DLT 12 and 14 on some BSDs, LINKTYPE_RAW 101 in files.
    public static let raw = LinkType(rawValue: 101)
    public static let rawDLT12 = LinkType(rawValue: 12)
    public static let rawDLT14 = LinkType(rawValue: 14)
    /// OpenBSD loopback: the address family in network order.
    public static let loop = LinkType(rawValue: 108)
    public static let linuxSLL = LinkType(rawValue: 113)
    public static let ipv4 = LinkType(rawValue: 228)
    public static let ipv6 = LinkType(rawValue: 229)
    public static let linuxSLL2 = LinkType(rawValue: 276)

    public var description: String {
        switch self {
        case .null: "NULL"
        case .ethernet: "EN10MB"
        case .raw, .rawDLT12, .rawDLT14: "RAW"
        case .loop: "LOOP"
        case .linuxSLL: "LINUX_SLL"
        case .linuxSLL2: "LINUX_SLL2"
        case .ipv4: "IPV4"
        case .ipv6: "IPV6"
        default: "linktype \(self.rawValue)"
        }
    }

    /// Link types whose frames we can decode and mirror.
    public var isSupported: Bool {
        switch self {
        case .null, .ethernet, .raw, .rawDLT12, .rawDLT14, .loop, .linuxSLL, .ipv4, .ipv6, .linuxSLL2: true
        default: false
        }
    }
}

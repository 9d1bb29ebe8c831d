// vpcmirror: numbers from the wire as open structs, so an unknown value is a value and not a crash.
// The named values are inlinable computed constants, not `static let`s: a stored one is reached from another module
// through a lazy-initialisation accessor, a call per use on the per-frame path.

/// The EtherType of an Ethernet II frame (IEEE 802.3 clause 3.2.6).
public struct EtherType: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }
    @inlinable public static func == (l: Self, r: Self) -> Bool { l.rawValue == r.rawValue }
    /// Internet Protocol version 4 (RFC 894).
    @inlinable public static var ipv4: EtherType { EtherType(rawValue: 0x0800) }
    /// Address Resolution Protocol (RFC 826).
    @inlinable public static var arp: EtherType { EtherType(rawValue: 0x0806) }
    /// IEEE 802.1Q VLAN tag.
    @inlinable public static var vlan: EtherType { EtherType(rawValue: 0x8100) }
    /// IEEE 802.1ad service tag (QinQ outer tag).
    @inlinable public static var qinq: EtherType { EtherType(rawValue: 0x88A8) }
    /// Pre-standard QinQ outer tag still seen in captures.
    @inlinable public static var qinqLegacy: EtherType { EtherType(rawValue: 0x9100) }
    /// Internet Protocol version 6 (RFC 2464).
    @inlinable public static var ipv6: EtherType { EtherType(rawValue: 0x86DD) }

    @inlinable public var isVLANTag: Bool {
        self == .vlan || self == .qinq || self == .qinqLegacy
    }
}

/// An IANA assigned internet protocol number (IPv4 Protocol, IPv6 Next Header).
public struct IPProtocol: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }
    @inlinable public static func == (l: Self, r: Self) -> Bool { l.rawValue == r.rawValue }
    @inlinable public static var hopByHop: IPProtocol { IPProtocol(rawValue: 0) }
    @inlinable public static var icmp: IPProtocol { IPProtocol(rawValue: 1) }
    @inlinable public static var tcp: IPProtocol { IPProtocol(rawValue: 6) }
    @inlinable public static var udp: IPProtocol { IPProtocol(rawValue: 17) }
    @inlinable public static var ipv6Routing: IPProtocol { IPProtocol(rawValue: 43) }
    @inlinable public static var ipv6Fragment: IPProtocol { IPProtocol(rawValue: 44) }
    @inlinable public static var gre: IPProtocol { IPProtocol(rawValue: 47) }
    @inlinable public static var esp: IPProtocol { IPProtocol(rawValue: 50) }
    @inlinable public static var ah: IPProtocol { IPProtocol(rawValue: 51) }
    @inlinable public static var icmpv6: IPProtocol { IPProtocol(rawValue: 58) }
    @inlinable public static var ipv6NoNextHeader: IPProtocol { IPProtocol(rawValue: 59) }
    @inlinable public static var ipv6DestinationOptions: IPProtocol { IPProtocol(rawValue: 60) }
    @inlinable public static var mobility: IPProtocol { IPProtocol(rawValue: 135) }
    @inlinable public static var hip: IPProtocol { IPProtocol(rawValue: 139) }
    @inlinable public static var shim6: IPProtocol { IPProtocol(rawValue: 140) }

    public var description: String { String(self.rawValue) }
}

/// A libpcap link-layer header type (LINKTYPE_* / DLT_*).
public struct LinkType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    @inlinable public init(rawValue: Int32) { self.rawValue = rawValue }
    @inlinable public static func == (l: Self, r: Self) -> Bool { l.rawValue == r.rawValue }
    /// BSD loopback: a 4-byte address family in host order of the capturing machine.
    @inlinable public static var null: LinkType { LinkType(rawValue: 0) }
    @inlinable public static var ethernet: LinkType { LinkType(rawValue: 1) }
    /// Raw IP; DLT 12 and 14 on some BSDs, LINKTYPE_RAW 101 in files.
    @inlinable public static var raw: LinkType { LinkType(rawValue: 101) }
    @inlinable public static var rawDLT12: LinkType { LinkType(rawValue: 12) }
    @inlinable public static var rawDLT14: LinkType { LinkType(rawValue: 14) }
    /// OpenBSD loopback: the address family in network order.
    @inlinable public static var loop: LinkType { LinkType(rawValue: 108) }
    @inlinable public static var linuxSLL: LinkType { LinkType(rawValue: 113) }
    @inlinable public static var ipv4: LinkType { LinkType(rawValue: 228) }
    @inlinable public static var ipv6: LinkType { LinkType(rawValue: 229) }
    @inlinable public static var linuxSLL2: LinkType { LinkType(rawValue: 276) }

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

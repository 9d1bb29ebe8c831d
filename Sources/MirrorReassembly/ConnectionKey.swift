// vpcmirror: what names a TCP connection (VNI, VLANs, canonical endpoints) and its two directions.
public import MirrorWire

/// The flow key of a TCP connection: mirror VNI, VLAN ids and both endpoints, in a canonical order so
/// both directions find the same key. The same 5-tuple under another VNI or VLAN is another connection
/// (tshark merges such flows; a collector fed by several mirror sessions must not).
public struct ConnectionKey: Hashable, Sendable, CustomStringConvertible {
    public var vni: UInt32
    public var outerVLAN: UInt16
    public var innerVLAN: UInt16
    /// The endpoint that sorts first (address, then port).
    public var lower: IPAddress
    public var lowerPort: UInt16
    public var upper: IPAddress
    public var upperPort: UInt16

    /// Builds the key of a segment from `source` to `destination`, putting the endpoints in canonical order.
    @inlinable
    public init(
        vni: UInt32 = 0,
        outerVLAN: UInt16 = 0,
        innerVLAN: UInt16 = 0,
        source: IPAddress,
        sourcePort: UInt16,
        destination: IPAddress,
        destinationPort: UInt16
    ) {
        self.vni = vni
        self.outerVLAN = outerVLAN
        self.innerVLAN = innerVLAN
        // (source, sourcePort) <= (destination, destinationPort), without the tuples' generic comparison.
        if source < destination || (source == destination && sourcePort <= destinationPort) {
            (self.lower, self.lowerPort) = (source, sourcePort)
            (self.upper, self.upperPort) = (destination, destinationPort)
        } else {
            (self.lower, self.lowerPort) = (destination, destinationPort)
            (self.upper, self.upperPort) = (source, sourcePort)
        }
    }

    /// The key of a decoded TCP frame; `vni` comes from the VXLAN header the caller removed (0 when none).
    @inlinable
    public init(_ summary: PacketSummary, vni: UInt32 = 0) {
        self.init(
            vni: vni, outerVLAN: summary.outerVLAN, innerVLAN: summary.innerVLAN,
            source: summary.source, sourcePort: summary.sourcePort,
            destination: summary.destination, destinationPort: summary.destinationPort
        )
    }

    /// Field by field on the raw words (the derived `==` went through `IPAddress`'s witness table).
    public static func == (l: Self, r: Self) -> Bool {
        l.lower.low == r.lower.low && l.upper.low == r.upper.low && l.lowerPort == r.lowerPort
            && l.upperPort == r.upperPort && l.lower.high == r.lower.high && l.upper.high == r.upper.high
            && l.lower.family == r.lower.family && l.upper.family == r.upper.family && l.vni == r.vni
            && l.outerVLAN == r.outerVLAN && l.innerVLAN == r.innerVLAN
    }

    /// Six words rather than the eleven fields one by one: this hash is computed for every segment.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(UInt64(self.vni) << 32 | UInt64(self.outerVLAN) << 16 | UInt64(self.innerVLAN))
        hasher.combine(
            UInt64(self.lower.family.rawValue) << 40 | UInt64(self.upper.family.rawValue) << 32
                | UInt64(self.lowerPort) << 16 | UInt64(self.upperPort))
        hasher.combine(self.lower.high)
        hasher.combine(self.lower.low)
        hasher.combine(self.upper.high)
        hasher.combine(self.upper.low)
    }

    /// A mix of all the fields from `seed`: the connection table's hash (seeded per table) and, from a fixed seed,
    /// which share of the connections a key belongs to (the same on every run and machine).
    @inline(__always)
    func mixed(seed: UInt64) -> UInt64 {
        let w0 = UInt64(self.vni) << 32 | UInt64(self.outerVLAN) << 16 | UInt64(self.innerVLAN)
        let w1 = UInt64(self.lower.family.rawValue) << 40 | UInt64(self.upper.family.rawValue) << 32
            | UInt64(self.lowerPort) << 16 | UInt64(self.upperPort)
        var h = Self.mix(seed ^ w0, 0x9E37_79B9_7F4A_7C15 ^ w1)
        h = Self.mix(h ^ self.lower.high, 0xC2B2_AE3D_27D4_EB4F ^ self.lower.low)
        h = Self.mix(h ^ self.upper.high, 0x1656_67B1_9E37_79F9 ^ self.upper.low)
        return h
    }

    @inline(__always)
    private static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let (high, low) = a.multipliedFullWidth(by: b)
        return high ^ low
    }

    /// Which of `count` shares the key belongs to: the same for both directions, on every run and machine.
    public func share(of count: Int) -> Int {
        count <= 1 ? 0 : Int(self.mixed(seed: 0x5EED_5EED_5EED_5EED) % UInt64(count))
    }

    public var description: String {
        "vni \(self.vni) vlan \(self.outerVLAN)/\(self.innerVLAN) "
            + "\(self.lower):\(self.lowerPort) ↔ \(self.upper):\(self.upperPort)"
    }
}

/// Names one connection for its whole life; a new connection on the same key gets a new id.
/// Ids count up from 1 in the order connections are opened, so they are the same on every run over a file.
public struct ConnectionID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var rawValue: UInt64
    /// The reassembler's table slot the connection holds while it is open: small, dense and reused after the
    /// connection closes, so a delegate can keep its per-connection state in an array indexed by it. Not part of
    /// the identity (equality, hashing and order are by `rawValue`).
    public var slot: Int
    @inlinable public init(rawValue: UInt64, slot: Int = 0) {
        self.rawValue = rawValue
        self.slot = slot
    }
    public static func == (l: Self, r: Self) -> Bool { l.rawValue == r.rawValue }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.rawValue) }
    public static func < (l: Self, r: Self) -> Bool { l.rawValue < r.rawValue }
    public var description: String { "#\(self.rawValue)" }
}

/// One direction of a connection. The initiator is the sender of the SYN (or the receiver of the SYN-ACK);
/// for a connection picked up midstream, the sender of the first segment seen.
public enum StreamDirection: Hashable, Sendable {
    case initiatorToResponder
    case responderToInitiator

    /// The other direction.
    @inlinable
    public var reversed: StreamDirection {
        self == .initiatorToResponder ? .responderToInitiator : .initiatorToResponder
    }
}

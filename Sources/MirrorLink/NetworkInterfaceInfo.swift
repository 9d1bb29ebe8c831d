// vpcmirror: what netlink says about one local interface.
public import MirrorWire

/// One local interface as the kernel reports it (`ip link` and `ip addr` in one value).
public struct NetworkInterfaceInfo: Hashable, Sendable {
    public var name: String
    public var index: Int32
    /// Nil for interfaces without a 6-byte hardware address (loopback reports zeros, tunnels none).
    public var macAddress: MACAddress?
    public var mtu: Int
    /// IFF_UP: administratively up.
    public var isUp: Bool
    /// IFF_RUNNING: up and the carrier is there (what `ip link` shows as LOWER_UP).
    public var isRunning: Bool
    /// Addresses with their prefix lengths, IPv4 first, in the kernel's order.
    public var addresses: [InterfaceAddress]

    public init(name: String, index: Int32, macAddress: MACAddress?, mtu: Int, isUp: Bool, isRunning: Bool,
                addresses: [InterfaceAddress]) {
        self.name = name
        self.index = index
        self.macAddress = macAddress
        self.mtu = mtu
        self.isUp = isUp
        self.isRunning = isRunning
        self.addresses = addresses
    }

    /// Whether a capture can be opened: administratively up. Carrier is not required: the kernel updates
    /// IFF_RUNNING up to a second after a link comes up, while frames already flow.
    public var isCapturable: Bool { self.isUp }

    /// `up`, `up, no carrier` or `down`.
    public var stateDescription: String {
        self.isUp ? (self.isRunning ? "up" : "up, no carrier") : "down"
    }
}

/// An interface address and its prefix length.
public struct InterfaceAddress: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var prefixLength: Int
    public init(address: IPAddress, prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }
    public var description: String { "\(self.address)/\(self.prefixLength)" }
}

/// A netlink failure: what was being done and libnl's message.
public struct NetlinkError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

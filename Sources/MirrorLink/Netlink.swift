// vpcmirror: the local interfaces and their link events, read from the kernel through libnl route.
internal import CNetlink
import MirrorWire

#if canImport(Glibc)
internal import Glibc
#endif

/// Lists interfaces: one libnl route socket, caches refilled on each call.
public enum Netlink {
    /// Every interface with its addresses, ordered by index.
    public static func interfaces() throws(NetlinkError) -> [NetworkInterfaceInfo] {
        let socket = try RouteSocket()
        return try socket.interfaces()
    }
}

/// A libnl socket connected to NETLINK_ROUTE. Owns the socket; `deinit` frees it.
final class RouteSocket {
    let socket: OpaquePointer

    /// - Parameter linkEvents: subscribe to RTNLGRP_LINK, non-blocking, for `LinkMonitor`; otherwise a socket
    ///   for requests.
    init(linkEvents: Bool = false) throws(NetlinkError) {
        guard let s = nl_socket_alloc() else { throw NetlinkError(description: "netlink: cannot allocate a socket") }
        // Events carry no sequence numbers of ours.
        if linkEvents { nl_socket_disable_seq_check(s) }
        var status = nl_connect(s, NETLINK_ROUTE)
        if status == 0 && linkEvents { status = nl_socket_add_membership(s, Int32(RTNLGRP_LINK.rawValue)) }
        if status == 0 && linkEvents { status = nl_socket_set_nonblocking(s) }
        guard status == 0 else {
            nl_socket_free(s)
            let doing = linkEvents ? "subscribing to link events" : "connect"
            throw NetlinkError(description: "netlink: \(doing): \(Self.message(status))")
        }
        self.socket = s
    }

    deinit {
        nl_socket_free(self.socket)
    }

    static func message(_ status: Int32) -> String {
        String(cString: nl_geterror(status))
    }

    func interfaces() throws(NetlinkError) -> [NetworkInterfaceInfo] {
        var linkCache: OpaquePointer? = nil
        var status = rtnl_link_alloc_cache(self.socket, AF_UNSPEC, &linkCache)
        guard status == 0, let linkCache else {
            throw NetlinkError(description: "netlink: reading links: \(Self.message(status))")
        }
        defer { nl_cache_free(linkCache) }
        var addressCache: OpaquePointer? = nil
        status = rtnl_addr_alloc_cache(self.socket, &addressCache)
        guard status == 0, let addressCache else {
            throw NetlinkError(description: "netlink: reading addresses: \(Self.message(status))")
        }
        defer { nl_cache_free(addressCache) }

        var addresses: [Int32: [InterfaceAddress]] = [:]
        var object = nl_cache_get_first(addressCache)
        while let a = object {
            if let local = rtnl_addr_get_local(a), let ip = Self.ipAddress(local) {
                addresses[Int32(rtnl_addr_get_ifindex(a)), default: []]
                    .append(InterfaceAddress(address: ip, prefixLength: Int(rtnl_addr_get_prefixlen(a))))
            }
            object = nl_cache_get_next(a)
        }
        var out: [NetworkInterfaceInfo] = []
        object = nl_cache_get_first(linkCache)
        while let l = object {
            let index = Int32(rtnl_link_get_ifindex(l))
            let flags = rtnl_link_get_flags(l)
            let name = rtnl_link_get_name(l).map { String(cString: $0) } ?? "if\(index)"
            let mac = rtnl_link_get_addr(l).flatMap(Self.macAddress)
            let own = (addresses[index] ?? []).sorted { ($0.address.isIPv4 ? 0 : 1) < ($1.address.isIPv4 ? 0 : 1) }
            out.append(NetworkInterfaceInfo(
                name: name, index: index, macAddress: mac, mtu: Int(rtnl_link_get_mtu(l)),
                isUp: flags & UInt32(IFF_UP) != 0, isRunning: flags & UInt32(IFF_RUNNING) != 0,
                addresses: own))
            object = nl_cache_get_next(l)
        }
        return out.sorted { $0.index < $1.index }
    }

    static func ipAddress(_ address: OpaquePointer) -> IPAddress? {
        guard let data = nl_addr_get_binary_addr(address) else { return nil }
        let length = Int(nl_addr_get_len(address))
        let bytes = UnsafeRawBufferPointer(start: data, count: length)
        switch (nl_addr_get_family(address), length) {
        case (AF_INET, 4): return IPAddress(unchecked: bytes, at: 0, family: .ipv4)
        case (AF_INET6, 16): return IPAddress(unchecked: bytes, at: 0, family: .ipv6)
        default: return nil
        }
    }

    static func macAddress(_ address: OpaquePointer) -> MACAddress? {
        guard let data = nl_addr_get_binary_addr(address), nl_addr_get_len(address) == 6 else { return nil }
        return MACAddress(unchecked: UnsafeRawBufferPointer(start: data, count: 6), at: 0)
    }
}

/// Watches link events (RTNLGRP_LINK: up, down, created, deleted). Wait for `fileDescriptor` to be readable,
/// then call `changes()`, which reads the pending events and answers with what changed since the last call
/// by comparing fresh listings, so no event format detail can be missed.
public final class LinkMonitor {
    private let events: RouteSocket
    private let query: RouteSocket
    private var known: [String: NetworkInterfaceInfo]

    /// A change to one interface, by name: how users name interfaces, and what survives re-creation.
    public enum Change: Hashable, Sendable {
        case appeared(NetworkInterfaceInfo)
        case disappeared(name: String)
        /// Same name, different index, state, MTU or MAC: `previous` is what it was.
        case changed(NetworkInterfaceInfo, previous: NetworkInterfaceInfo)
    }

    public init() throws(NetlinkError) {
        self.events = try RouteSocket(linkEvents: true)
        self.query = try RouteSocket()
        self.known = [:]
        for i in try self.query.interfaces() { self.known[i.name] = i }
    }

    /// The event socket's descriptor, for poll.
    public var fileDescriptor: Int32 { nl_socket_get_fd(self.events.socket) }

    /// The interfaces as last listed.
    public var interfaces: [String: NetworkInterfaceInfo] { self.known }

    /// Reads pending events and returns the changes since the last call (empty when none).
    public func changes() throws(NetlinkError) -> [Change] {
        // Drain: the messages themselves are not needed, only that something happened.
        while nl_recvmsgs_default(self.events.socket) >= 0 {}
        let now = try self.query.interfaces()
        var out: [Change] = []
        var seen = Set<String>()
        for i in now {
            seen.insert(i.name)
            if let old = self.known[i.name] {
                if old.index != i.index || old.isUp != i.isUp || old.isRunning != i.isRunning || old.mtu != i.mtu
                    || old.macAddress != i.macAddress
                {
                    out.append(.changed(i, previous: old))
                }
            } else {
                out.append(.appeared(i))
            }
        }
        for name in self.known.keys.sorted() where !seen.contains(name) { out.append(.disappeared(name: name)) }
        self.known = Dictionary(uniqueKeysWithValues: now.map { ($0.name, $0) })
        return out
    }
}

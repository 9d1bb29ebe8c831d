// vpcmirror: the AWS Traffic Mirroring resources, in AWS's own words, as validated values.
public import MirrorWire

/// `ingress`: frames the network interface receives; `egress`: frames it sends.
public enum TrafficDirection: String, Hashable, Sendable, CaseIterable {
    case ingress
    case egress
}

/// What a rule does when it matches.
public enum TrafficMirrorRuleAction: String, Hashable, Sendable {
    case accept
    case reject
}

/// An inclusive port range `{FromPort, ToPort}`; applies to TCP and UDP only.
public struct TrafficMirrorPortRange: Hashable, Sendable {
    public var fromPort: UInt16
    public var toPort: UInt16
    public init(fromPort: UInt16, toPort: UInt16) {
        self.fromPort = fromPort
        self.toPort = toPort
    }
    @inline(__always)
    public func contains(_ port: UInt16) -> Bool { port >= self.fromPort && port <= self.toPort }
}

/// One rule of a filter, for one direction.
public struct TrafficMirrorFilterRule: Hashable, Sendable {
    public var trafficMirrorFilterRuleId: String?
    public var ruleNumber: Int
    public var ruleAction: TrafficMirrorRuleAction
    /// `nil` matches every protocol (AWS: omitted; we also read 0 as omitted).
    public var `protocol`: IPProtocol?
    public var sourceCidrBlock: CIDRBlock
    public var destinationCidrBlock: CIDRBlock
    public var sourcePortRange: TrafficMirrorPortRange?
    public var destinationPortRange: TrafficMirrorPortRange?
    public var description: String?

    public init(
        trafficMirrorFilterRuleId: String? = nil,
        ruleNumber: Int,
        ruleAction: TrafficMirrorRuleAction,
        protocol: IPProtocol? = nil,
        sourceCidrBlock: CIDRBlock,
        destinationCidrBlock: CIDRBlock,
        sourcePortRange: TrafficMirrorPortRange? = nil,
        destinationPortRange: TrafficMirrorPortRange? = nil,
        description: String? = nil
    ) {
        self.trafficMirrorFilterRuleId = trafficMirrorFilterRuleId
        self.ruleNumber = ruleNumber
        self.ruleAction = ruleAction
        self.protocol = `protocol`
        self.sourceCidrBlock = sourceCidrBlock
        self.destinationCidrBlock = destinationCidrBlock
        self.sourcePortRange = sourcePortRange
        self.destinationPortRange = destinationPortRange
        self.description = description
    }
}

/// A network service a filter can opt in to. AWS knows one: `amazon-dns`.
public struct TrafficMirrorNetworkService: RawRepresentable, Hashable, Sendable {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let amazonDNS = TrafficMirrorNetworkService(rawValue: "amazon-dns")
}

/// A filter: ingress and egress rules, each list kept sorted by ascending `ruleNumber`.
public struct TrafficMirrorFilter: Hashable, Sendable {
    public var trafficMirrorFilterId: String
    public private(set) var ingressFilterRules: [TrafficMirrorFilterRule]
    public private(set) var egressFilterRules: [TrafficMirrorFilterRule]
    public var networkServices: Set<TrafficMirrorNetworkService>
    public var description: String?

    public init(
        trafficMirrorFilterId: String,
        ingressFilterRules: [TrafficMirrorFilterRule] = [],
        egressFilterRules: [TrafficMirrorFilterRule] = [],
        networkServices: Set<TrafficMirrorNetworkService> = [],
        description: String? = nil
    ) {
        self.trafficMirrorFilterId = trafficMirrorFilterId
        self.ingressFilterRules = ingressFilterRules.sorted { $0.ruleNumber < $1.ruleNumber }
        self.egressFilterRules = egressFilterRules.sorted { $0.ruleNumber < $1.ruleNumber }
        self.networkServices = networkServices
        self.description = description
    }

    public func rules(_ direction: TrafficDirection) -> [TrafficMirrorFilterRule] {
        direction == .ingress ? self.ingressFilterRules : self.egressFilterRules
    }
}

/// Where a collector listens: an address and a UDP port.
public struct TrafficMirrorEndpoint: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16
    public init(address: IPAddress, port: UInt16 = 4789) {
        self.address = address
        self.port = port
    }
    public var description: String {
        self.address.isIPv4 ? "\(self.address):\(self.port)" : "[\(self.address)]:\(self.port)"
    }
}

/// AWS's target types; only `network-load-balancer` changes behaviour (PacketLength defaults to 8500).
public struct TrafficMirrorTargetType: RawRepresentable, Hashable, Sendable {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let networkInterface = TrafficMirrorTargetType(rawValue: "network-interface")
    public static let networkLoadBalancer = TrafficMirrorTargetType(rawValue: "network-load-balancer")
    public static let gatewayLoadBalancerEndpoint = TrafficMirrorTargetType(rawValue: "gateway-load-balancer-endpoint")
}

/// A target: AWS's identity plus our extension `Endpoints`, the collectors that receive the VXLAN copies.
public struct TrafficMirrorTarget: Hashable, Sendable {
    public var trafficMirrorTargetId: String
    public var type: TrafficMirrorTargetType
    public var endpoints: [TrafficMirrorEndpoint]
    public var description: String?
    public init(
        trafficMirrorTargetId: String,
        type: TrafficMirrorTargetType = .networkInterface,
        endpoints: [TrafficMirrorEndpoint],
        description: String? = nil
    ) {
        self.trafficMirrorTargetId = trafficMirrorTargetId
        self.type = type
        self.endpoints = endpoints
        self.description = description
    }
}

/// A mirror source (AWS's ENI): how to recognise its frames.
public struct NetworkInterface: Hashable, Sendable {
    public var networkInterfaceId: String
    public var macAddress: MACAddress?
    /// `PrivateIpAddresses[].PrivateIpAddress` and `Ipv6Addresses[].Ipv6Address`, in file order.
    public var addresses: [IPAddress]
    /// Extension: the local interface a live attach captures on.
    public var interfaceName: String?
    public var description: String?
    public init(
        networkInterfaceId: String,
        macAddress: MACAddress? = nil,
        addresses: [IPAddress] = [],
        interfaceName: String? = nil,
        description: String? = nil
    ) {
        self.networkInterfaceId = networkInterfaceId
        self.macAddress = macAddress
        self.addresses = addresses
        self.interfaceName = interfaceName
        self.description = description
    }
}

/// A session: which source, through which filter, to which target, in which order, with which VNI.
public struct TrafficMirrorSession: Hashable, Sendable {
    public var trafficMirrorSessionId: String
    public var networkInterfaceId: String
    public var trafficMirrorTargetId: String
    public var trafficMirrorFilterId: String
    /// 1...32766; lower is tried first.
    public var sessionNumber: Int
    /// The VXLAN network identifier (24 bits). Always set here: the loader derives one when the file omits it.
    public var virtualNetworkId: UInt32
    /// Bytes of the inner frame to keep, counted from the inner Ethernet header; `nil` keeps the whole frame.
    public var packetLength: Int?
    /// Extension: percent of flows kept, 0 < p ≤ 100.
    public var samplingPercent: Double
    public var description: String?

    public init(
        trafficMirrorSessionId: String,
        networkInterfaceId: String,
        trafficMirrorTargetId: String,
        trafficMirrorFilterId: String,
        sessionNumber: Int,
        virtualNetworkId: UInt32,
        packetLength: Int? = nil,
        samplingPercent: Double = 100,
        description: String? = nil
    ) {
        self.trafficMirrorSessionId = trafficMirrorSessionId
        self.networkInterfaceId = networkInterfaceId
        self.trafficMirrorTargetId = trafficMirrorTargetId
        self.trafficMirrorFilterId = trafficMirrorFilterId
        self.sessionNumber = sessionNumber
        self.virtualNetworkId = virtualNetworkId
        self.packetLength = packetLength
        self.samplingPercent = samplingPercent
        self.description = description
    }
}

/// Traffic that is never mirrored, and the addresses that decide it. Defaults are AWS's.
public struct NeverMirroredServices: Hashable, Sendable {
    /// Amazon DNS resolvers, mirrored only by filters with the `amazon-dns` network service.
    /// AWS's are the VPC base + 2 (unknown to us: add it) and the link-local resolver.
    public var amazonDNSAddresses: [IPAddress] = [IPAddress("169.254.169.253")!, IPAddress("fd00:ec2::253")!]
    /// Link-local services AWS never mirrors: instance metadata, time sync, Windows activation.
    public var linkLocalServiceAddresses: [IPAddress] = [
        IPAddress("169.254.169.254")!, IPAddress("169.254.169.123")!,
        IPAddress("169.254.169.250")!, IPAddress("169.254.169.251")!,
        IPAddress("fd00:ec2::254")!, IPAddress("fd00:ec2::123")!,
    ]
    public init() {}
}

/// Everything a sessions file defines, validated and cross-referenced.
public struct MirrorConfiguration: Hashable, Sendable {
    public var trafficMirrorFilters: [TrafficMirrorFilter]
    public var trafficMirrorTargets: [TrafficMirrorTarget]
    public var networkInterfaces: [NetworkInterface]
    public var trafficMirrorSessions: [TrafficMirrorSession]
    public var neverMirrored: NeverMirroredServices
    /// Extension: seeds the flow hash used for sampling, so separate fleets can sample different flows.
    public var samplingSeed: UInt64

    public init(
        trafficMirrorFilters: [TrafficMirrorFilter] = [],
        trafficMirrorTargets: [TrafficMirrorTarget] = [],
        networkInterfaces: [NetworkInterface] = [],
        trafficMirrorSessions: [TrafficMirrorSession] = [],
        neverMirrored: NeverMirroredServices = NeverMirroredServices(),
        samplingSeed: UInt64 = 0
    ) {
        self.trafficMirrorFilters = trafficMirrorFilters
        self.trafficMirrorTargets = trafficMirrorTargets
        self.networkInterfaces = networkInterfaces
        self.trafficMirrorSessions = trafficMirrorSessions
        self.neverMirrored = neverMirrored
        self.samplingSeed = samplingSeed
    }

    /// Every endpoint of every target, without repeats, in first-seen order: where copies go, and so what
    /// is never mirrored again.
    public var endpoints: [TrafficMirrorEndpoint] {
        var seen = Set<TrafficMirrorEndpoint>()
        var out: [TrafficMirrorEndpoint] = []
        for t in self.trafficMirrorTargets {
            for e in t.endpoints where seen.insert(e).inserted { out.append(e) }
        }
        return out
    }
}

// vpcmirror: AWS Traffic Mirroring's decision, per frame and per interface, without allocating.
public import MirrorWire

/// The verdict of one filter on one packet: which rule decided, so logs and tests can say why.
public enum FilterVerdict: Hashable, Sendable {
    case accept(ruleNumber: Int)
    case reject(ruleNumber: Int)
    /// No rule of that direction matched: not mirrored by this session.
    case noMatch
    /// Amazon DNS traffic: mirrored only when the filter has the `amazon-dns` network service.
    case amazonDNS(mirrored: Bool)
}

/// One copy to send: which session mirrors the frame, seen by which interface in which direction.
public struct MirrorAction: Hashable, Sendable {
    public var sessionIndex: Int
    public var interfaceIndex: Int
    public var direction: TrafficDirection
    @inlinable
    public init(sessionIndex: Int, interfaceIndex: Int, direction: TrafficDirection) {
        self.sessionIndex = sessionIndex
        self.interfaceIndex = interfaceIndex
        self.direction = direction
    }
}

/// At most two copies per frame: one per interface that saw it (AWS: "each packet is mirrored once" per source).
public struct MirrorDecision: Sendable {
    public var count = 0
    public var first = MirrorAction(sessionIndex: 0, interfaceIndex: 0, direction: .egress)
    public var second = MirrorAction(sessionIndex: 0, interfaceIndex: 0, direction: .ingress)
    @inlinable public init() {}
    public subscript(i: Int) -> MirrorAction { i == 0 ? self.first : self.second }
}

extension TrafficMirrorFilterRule {
    /// AWS matching: CIDRs against the literal source and destination, protocol when set, and port ranges
    /// only for TCP/UDP packets that carry ports (a later fragment never matches a rule with a port range).
    @inlinable
    public func matches(_ p: PacketSummary) -> Bool {
        guard self.sourceCidrBlock.contains(p.source), self.destinationCidrBlock.contains(p.destination) else {
            return false
        }
        if let proto = self.protocol, proto != p.transportProtocol { return false }
        if let range = self.sourcePortRange, !(p.hasPorts && range.contains(p.sourcePort)) { return false }
        if let range = self.destinationPortRange, !(p.hasPorts && range.contains(p.destinationPort)) { return false }
        return true
    }
}

extension TrafficMirrorFilter {
    /// Rules of `direction` in ascending RuleNumber; the first that matches decides.
    @inlinable
    public func evaluate(_ p: PacketSummary, direction: TrafficDirection) -> FilterVerdict {
        let rules = direction == .ingress ? self.ingressFilterRules : self.egressFilterRules
        for rule in rules where rule.matches(p) {
            return rule.ruleAction == .accept ? .accept(ruleNumber: rule.ruleNumber) : .reject(ruleNumber: rule.ruleNumber)
        }
        return .noMatch
    }
}

/// The compiled configuration: interface lookup tables and each interface's sessions in SessionNumber order.
public struct TrafficMirrorEngine: Sendable {
    public let configuration: MirrorConfiguration

    @usableFromInline let filters: CompiledFilters
    /// Per session: index of its filter, its sampling threshold in millionths, its interface.
    @usableFromInline let sessionFilter: [Int]
    @usableFromInline let sessionThreshold: [UInt64]
    /// Per interface: session indices by ascending SessionNumber.
    @usableFromInline let interfaceSessions: [[Int]]
    @usableFromInline let interfaceHasMAC: [Bool]
    @usableFromInline let byMAC: InterfaceTable<MACAddress>
    @usableFromInline let byAddress: InterfaceTable<IPAddress>
    @usableFromInline let amazonDNSAddresses: [IPAddress]
    @usableFromInline let linkLocalAddresses: [IPAddress]
    @usableFromInline let samplingSeed: UInt64
    /// Every target endpoint: UDP to one of them is mirror traffic.
    @usableFromInline let endpoints: [TrafficMirrorEndpoint]

    /// - Precondition: `configuration` is validated (every reference resolves), as `SessionsFile.parse` returns it.
    public init(configuration: MirrorConfiguration) {
        self.configuration = configuration
        self.filters = CompiledFilters(configuration.trafficMirrorFilters)
        var filterIndex: [String: Int] = [:]
        for (i, f) in configuration.trafficMirrorFilters.enumerated() { filterIndex[f.trafficMirrorFilterId] = i }
        var interfaceIndex: [String: Int] = [:]
        for (i, e) in configuration.networkInterfaces.enumerated() { interfaceIndex[e.networkInterfaceId] = i }

        var perInterface = Array(repeating: [Int](), count: configuration.networkInterfaces.count)
        var sessionFilter: [Int] = []
        var thresholds: [UInt64] = []
        for (i, s) in configuration.trafficMirrorSessions.enumerated() {
            sessionFilter.append(filterIndex[s.trafficMirrorFilterId]!)
            thresholds.append(UInt64((s.samplingPercent * 10_000).rounded()))
            perInterface[interfaceIndex[s.networkInterfaceId]!].append(i)
        }
        let sessions = configuration.trafficMirrorSessions
        self.interfaceSessions = perInterface.map { $0.sorted { sessions[$0].sessionNumber < sessions[$1].sessionNumber } }
        self.sessionFilter = sessionFilter
        self.sessionThreshold = thresholds

        var byMAC: [MACAddress: Int] = [:]
        var byAddress: [IPAddress: Int] = [:]
        for (i, e) in configuration.networkInterfaces.enumerated() {
            if let mac = e.macAddress { byMAC[mac] = byMAC[mac] ?? i }
            for a in e.addresses { byAddress[a] = byAddress[a] ?? i }
        }
        self.byMAC = InterfaceTable(byMAC)
        self.byAddress = InterfaceTable(byAddress)
        self.interfaceHasMAC = configuration.networkInterfaces.map { $0.macAddress != nil }
        self.amazonDNSAddresses = configuration.neverMirrored.amazonDNSAddresses
        self.linkLocalAddresses = configuration.neverMirrored.linkLocalServiceAddresses
        self.samplingSeed = configuration.samplingSeed
        self.endpoints = configuration.endpoints
    }

    public func makeCounters() -> MirrorCounters {
        MirrorCounters(
            interfaceCount: self.configuration.networkInterfaces.count,
            sessionCount: self.configuration.trafficMirrorSessions.count
        )
    }

    // MARK: - Per frame

    /// The interface that sent the frame and the one it was addressed to, if declared.
    /// An interface with a MAC is recognised by its MAC on Ethernet frames; otherwise by its addresses.
    @inlinable
    public func interfaces(of p: PacketSummary) -> (egress: Int?, ingress: Int?) {
        var egress: Int? = nil
        var ingress: Int? = nil
        if p.hasEthernetHeader, let src = p.sourceMAC, let dst = p.destinationMAC {
            egress = self.byMAC[src]
            ingress = self.byMAC[dst]
        }
        if p.isIP {
            if egress == nil, let i = self.byAddress[p.source], !(p.hasEthernetHeader && self.interfaceHasMAC[i]) {
                egress = i
            }
            if ingress == nil, let i = self.byAddress[p.destination],
                !(p.hasEthernetHeader && self.interfaceHasMAC[i])
            {
                ingress = i
            }
        }
        // Traffic an interface sends to itself never crosses it twice: count it once, as sent.
        if egress != nil && egress == ingress { ingress = nil }
        return (egress, ingress)
    }

    @inlinable
    func isAmazonDNS(_ p: PacketSummary) -> Bool {
        guard p.transportProtocol == .udp || p.transportProtocol == .tcp else { return false }
        for a in self.amazonDNSAddresses {
            if a == p.destination && (!p.hasPorts || p.destinationPort == 53) { return true }
            if a == p.source && (!p.hasPorts || p.sourcePort == 53) { return true }
        }
        return false
    }

    @inlinable
    func isDHCP(_ p: PacketSummary) -> Bool {
        guard p.transportProtocol == .udp, p.hasPorts else { return false }
        let s = p.sourcePort
        let d = p.destinationPort
        return p.ipVersion == 4
            ? (s == 67 || s == 68) && (d == 67 || d == 68)
            : (s == 546 || s == 547) && (d == 546 || d == 547)
    }

    @inlinable
    func isLinkLocalService(_ p: PacketSummary) -> Bool {
        for a in self.linkLocalAddresses where a == p.source || a == p.destination { return true }
        return false
    }

    /// Whether the frame is mirror traffic: UDP to a target endpoint. A later fragment (no ports) to an endpoint
    /// address counts too, so a fragmented VXLAN copy is never mirrored piecemeal.
    @inlinable
    func isOwnOutput(_ p: PacketSummary) -> Bool {
        guard p.transportProtocol == .udp else { return false }
        for e in self.endpoints where e.address == p.destination && (!p.hasPorts || e.port == p.destinationPort) {
            return true
        }
        return false
    }

    /// Decides what to mirror for one decoded frame and counts every outcome. The interfaces are found by
    /// MAC and address (`interfaces(of:)`): for frames read from files, where no capture tells the direction.
    @inlinable
    public func evaluate(_ p: PacketSummary, counters: inout MirrorCounters) -> MirrorDecision {
        let (egress, ingress) = self.interfaces(of: p)
        return self.evaluate(p, egress: egress, ingress: ingress, counters: &counters)
    }

    /// Decides what to mirror for a frame captured live on `interface` (an index into `NetworkInterfaces`) in
    /// `direction`: the capture says who saw it, so neither MAC nor addresses are consulted.
    @inlinable
    public func evaluate(
        _ p: PacketSummary, capturedOn interface: Int, direction: TrafficDirection, counters: inout MirrorCounters
    ) -> MirrorDecision {
        direction == .egress
            ? self.evaluate(p, egress: interface, ingress: nil, counters: &counters)
            : self.evaluate(p, egress: nil, ingress: interface, counters: &counters)
    }

    @inlinable
    func evaluate(_ p: PacketSummary, egress: Int?, ingress: Int?, counters: inout MirrorCounters) -> MirrorDecision {
        var decision = MirrorDecision()
        counters.frames.framesRead += 1
        guard egress != nil || ingress != nil else {
            counters.frames.notSeen += 1
            return decision
        }
        if !p.isIP {
            counters.frames.neverMirroredNonIP += 1
            return decision
        }
        if self.isDHCP(p) {
            counters.frames.neverMirroredDHCP += 1
            return decision
        }
        if self.isLinkLocalService(p) {
            counters.frames.neverMirroredLinkLocal += 1
            return decision
        }
        if self.isOwnOutput(p) {
            counters.frames.neverMirroredOwnOutput += 1
            return decision
        }
        counters.frames.seen += 1
        let amazonDNS = self.isAmazonDNS(p)
        if let e = egress { self.observe(p, interface: e, direction: .egress, amazonDNS: amazonDNS, counters: &counters, decision: &decision) }
        if let i = ingress { self.observe(p, interface: i, direction: .ingress, amazonDNS: amazonDNS, counters: &counters, decision: &decision) }
        return decision
    }

    /// One interface's sessions, by ascending SessionNumber: the first that accepts mirrors the frame once.
    /// A `reject` or no match falls through to the next session (our choice on AWS's open question).
    @inlinable
    func observe(
        _ p: PacketSummary, interface: Int, direction: TrafficDirection, amazonDNS: Bool,
        counters: inout MirrorCounters, decision: inout MirrorDecision
    ) {
        if direction == .egress { counters.interfaces[interface].egress += 1 } else { counters.interfaces[interface].ingress += 1 }
        var sawReject = false
        var sawDNSExclusion = false
        for s in self.interfaceSessions[interface] {
            counters.sessions[s].evaluated += 1
            let filter = self.sessionFilter[s]
            let accepted: Bool
            if amazonDNS {
                accepted = self.filters.amazonDNS[filter]
                if !accepted {
                    counters.sessions[s].amazonDNSExcluded += 1
                    sawDNSExclusion = true
                }
            } else {
                switch self.filters.evaluate(filter: filter, p, direction: direction) {
                case .accept:
                    accepted = true
                case .reject:
                    accepted = false
                    counters.sessions[s].rejected += 1
                    sawReject = true
                case .noMatch, .amazonDNS:
                    accepted = false
                    counters.sessions[s].noMatch += 1
                }
            }
            guard accepted else { continue }
            // Sampling keeps or drops whole flows; a sampled-out frame does not fall through.
            let threshold = self.sessionThreshold[s]
            if threshold < 1_000_000 && FlowHash.hash(p, seed: self.samplingSeed) % 1_000_000 >= threshold {
                counters.sessions[s].sampledOut += 1
                counters.interfaces[interface].sampledOut += 1
                return
            }
            counters.sessions[s].mirrored += 1
            counters.interfaces[interface].mirrored += 1
            let action = MirrorAction(sessionIndex: s, interfaceIndex: interface, direction: direction)
            if decision.count == 0 { decision.first = action } else { decision.second = action }
            decision.count += 1
            return
        }
        if sawReject {
            counters.interfaces[interface].rejected += 1
        } else if sawDNSExclusion {
            counters.interfaces[interface].amazonDNSExcluded += 1
        } else {
            counters.interfaces[interface].noMatch += 1
        }
    }

    /// Counts a frame that failed to decode.
    public func countMalformed(counters: inout MirrorCounters) {
        counters.frames.framesRead += 1
        counters.frames.malformed += 1
    }
}

/// Interface lookup by MAC or address: a linear scan for the usual handful of interfaces, a dictionary past that.
@usableFromInline
struct InterfaceTable<Key: Hashable & Sendable>: Sendable {
    @usableFromInline let keys: [Key]
    @usableFromInline let values: [Int]
    @usableFromInline let dictionary: [Key: Int]?

    init(_ d: [Key: Int]) {
        self.keys = Array(d.keys)
        self.values = self.keys.map { d[$0]! }
        self.dictionary = d.count > 8 ? d : nil
    }

    @inlinable
    subscript(key: Key) -> Int? {
        if let d = self.dictionary { return d[key] }
        for i in self.keys.indices where self.keys[i] == key { return self.values[i] }
        return nil
    }
}

// vpcmirror: rules flattened into plain values, so evaluating them touches no reference counts.
public import MirrorWire

/// A rule as the engine evaluates it: masks and bounds only, no arrays, no strings.
@usableFromInline
struct CompiledRule: Sendable {
    @usableFromInline var sourceHigh: UInt64
    @usableFromInline var sourceLow: UInt64
    @usableFromInline var sourceMaskHigh: UInt64
    @usableFromInline var sourceMaskLow: UInt64
    @usableFromInline var destinationHigh: UInt64
    @usableFromInline var destinationLow: UInt64
    @usableFromInline var destinationMaskHigh: UInt64
    @usableFromInline var destinationMaskLow: UInt64
    @usableFromInline var family: IPAddress.Family
    /// -1 matches every protocol.
    @usableFromInline var protocolNumber: Int16
    @usableFromInline var sourcePorts: (from: UInt16, to: UInt16)?
    @usableFromInline var destinationPorts: (from: UInt16, to: UInt16)?
    @usableFromInline var accept: Bool
    @usableFromInline var ruleNumber: Int

    init(_ r: TrafficMirrorFilterRule) {
        self.sourceHigh = r.sourceCidrBlock.network.high
        self.sourceLow = r.sourceCidrBlock.network.low
        self.sourceMaskHigh = r.sourceCidrBlock.maskHigh
        self.sourceMaskLow = r.sourceCidrBlock.maskLow
        self.destinationHigh = r.destinationCidrBlock.network.high
        self.destinationLow = r.destinationCidrBlock.network.low
        self.destinationMaskHigh = r.destinationCidrBlock.maskHigh
        self.destinationMaskLow = r.destinationCidrBlock.maskLow
        self.family = r.sourceCidrBlock.family
        self.protocolNumber = r.protocol.map { Int16($0.rawValue) } ?? -1
        self.sourcePorts = r.sourcePortRange.map { ($0.fromPort, $0.toPort) }
        self.destinationPorts = r.destinationPortRange.map { ($0.fromPort, $0.toPort) }
        self.accept = r.ruleAction == .accept
        self.ruleNumber = r.ruleNumber
    }

    /// The same test as `TrafficMirrorFilterRule.matches`.
    @inlinable @inline(__always)
    func matches(_ p: PacketSummary) -> Bool {
        guard p.source.family == self.family,
            p.source.high & self.sourceMaskHigh == self.sourceHigh, p.source.low & self.sourceMaskLow == self.sourceLow,
            p.destination.high & self.destinationMaskHigh == self.destinationHigh,
            p.destination.low & self.destinationMaskLow == self.destinationLow
        else { return false }
        if self.protocolNumber >= 0 && UInt8(self.protocolNumber) != p.transportProtocol.rawValue { return false }
        if let r = self.sourcePorts, !(p.hasPorts && p.sourcePort >= r.from && p.sourcePort <= r.to) { return false }
        if let r = self.destinationPorts, !(p.hasPorts && p.destinationPort >= r.from && p.destinationPort <= r.to) {
            return false
        }
        return true
    }
}

/// Every filter's rules in one array: per filter and direction, a range of it, in RuleNumber order.
@usableFromInline
struct CompiledFilters: Sendable {
    @usableFromInline let rules: [CompiledRule]
    /// Per filter: ingress rules `[i.0, i.1)`, egress rules `[i.2, i.3)`.
    @usableFromInline let ranges: [(Int, Int, Int, Int)]
    @usableFromInline let amazonDNS: [Bool]

    init(_ filters: [TrafficMirrorFilter]) {
        var rules: [CompiledRule] = []
        var ranges: [(Int, Int, Int, Int)] = []
        for f in filters {
            let a = rules.count
            rules += f.ingressFilterRules.map(CompiledRule.init)
            let b = rules.count
            rules += f.egressFilterRules.map(CompiledRule.init)
            ranges.append((a, b, b, rules.count))
        }
        self.rules = rules
        self.ranges = ranges
        self.amazonDNS = filters.map { $0.networkServices.contains(.amazonDNS) }
    }

    /// First match by ascending RuleNumber decides.
    @inlinable
    func evaluate(filter: Int, _ p: PacketSummary, direction: TrafficDirection) -> FilterVerdict {
        let r = self.ranges[filter]
        let (start, end) = direction == .ingress ? (r.0, r.1) : (r.2, r.3)
        return self.rules.withUnsafeBufferPointer { rules in
            for i in start..<end where rules[i].matches(p) {
                return rules[i].accept ? .accept(ruleNumber: rules[i].ruleNumber) : .reject(ruleNumber: rules[i].ruleNumber)
            }
            return .noMatch
        }
    }
}

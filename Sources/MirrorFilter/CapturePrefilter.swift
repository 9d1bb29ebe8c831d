// vpcmirror: a libpcap filter expression that keeps, in the kernel, every frame a session could mirror.
import MirrorWire

/// Derives the kernel prefilter of one interface and direction from its sessions.
///
/// The expression over-approximates: it may let through frames no session mirrors (the engine then counts them),
/// but never drops a frame some session could mirror. It is the union of
/// - each `accept` rule of the direction, of every filter a session on the interface uses: IPv4 rules as CIDRs,
///   protocol and port ranges (libpcap's `portrange` skips later fragments, as AWS's port matching does); IPv6
///   rules as CIDRs only, because libpcap's protocol tests do not walk extension headers;
/// - traffic to or from the Amazon DNS addresses, when a filter has `amazon-dns`;
/// - 802.1Q-tagged frames, which libpcap's IP tests do not look inside (on Ethernet links);
/// minus UDP to the targets' endpoints (mirror traffic, never mirrored). `reject` rules and sampling are left to
/// the engine: dropping on them would need rule order, which a union cannot express.
public enum CapturePrefilter {
    /// The expression, or nil when the interface has no session (capture it all: nothing to keep or drop).
    /// - Parameter vlanTags: whether the link carries 802.1Q tags (Ethernet); libpcap refuses `vlan` on others.
    public static func expression(
        for configuration: MirrorConfiguration, interfaceIndex: Int, direction: TrafficDirection, vlanTags: Bool = true
    ) -> String? {
        let interfaceId = configuration.networkInterfaces[interfaceIndex].networkInterfaceId
        let filterIds = Set(configuration.trafficMirrorSessions.filter { $0.networkInterfaceId == interfaceId }
            .map(\.trafficMirrorFilterId))
        guard !filterIds.isEmpty else { return nil }
        var terms: [String] = []
        var amazonDNS = false
        for filter in configuration.trafficMirrorFilters where filterIds.contains(filter.trafficMirrorFilterId) {
            if filter.networkServices.contains(.amazonDNS) { amazonDNS = true }
            let rules = direction == .ingress ? filter.ingressFilterRules : filter.egressFilterRules
            for rule in rules where rule.ruleAction == .accept {
                if let t = self.term(rule), !terms.contains(t) { terms.append(t) }
            }
        }
        if amazonDNS {
            for a in configuration.neverMirrored.amazonDNSAddresses {
                let t = "\(a.isIPv4 ? "ip" : "ip6") host \(a)"
                if !terms.contains(t) { terms.append(t) }
            }
        }
        // `less 1` matches no frame: an interface whose sessions accept nothing in this direction.
        let keep = terms.isEmpty ? "less 1" : terms.map { "(\($0))" }.joined(separator: " or ")
        var expression = vlanTags ? "(\(keep)) or vlan" : keep
        let endpoints = configuration.endpoints
        if !endpoints.isEmpty {
            // Later fragments carry no ports; the engine counts them as mirror traffic too.
            let own = endpoints.map { e in
                "(\(e.address.isIPv4 ? "ip" : "ip6") dst host \(e.address) and udp and (dst port \(e.port) or \(e.address.isIPv4 ? "ip[6:2] & 0x1fff != 0" : "ip6[6] == 44")))"
            }.joined(separator: " or ")
            // Put first so libpcap's `vlan` (which shifts later offsets) stays last.
            expression = "not (\(own)) and (\(expression))"
        }
        return expression
    }

    /// One accept rule as a libpcap expression; nil if it can match nothing (CIDRs of different families).
    static func term(_ rule: TrafficMirrorFilterRule) -> String? {
        let family = rule.sourceCidrBlock.family
        guard rule.destinationCidrBlock.family == family else { return nil }
        var parts: [String] = [family == .ipv4 ? "ip" : "ip6"]
        if rule.sourceCidrBlock.prefixLength > 0 { parts.append("src net \(rule.sourceCidrBlock)") }
        if rule.destinationCidrBlock.prefixLength > 0 { parts.append("dst net \(rule.destinationCidrBlock)") }
        guard family == .ipv4 else { return parts.joined(separator: " and ") }
        if let p = rule.protocol { parts.append("ip proto \(p.rawValue)") }
        let transport = rule.protocol == .tcp ? "tcp " : rule.protocol == .udp ? "udp " : ""
        if let r = rule.sourcePortRange { parts.append("\(transport)src portrange \(r.fromPort)-\(r.toPort)") }
        if let r = rule.destinationPortRange { parts.append("\(transport)dst portrange \(r.fromPort)-\(r.toPort)") }
        return parts.joined(separator: " and ")
    }
}

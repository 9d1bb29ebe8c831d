// vpcmirror: AWS Traffic Mirroring semantics, table-tested against hand-computed expectations.
import MirrorConfig
import MirrorFilter
import MirrorWire
import Testing

// MARK: - Building packets and configurations

let eniMAC = MACAddress("02:00:00:00:00:01")!
let peerMAC = MACAddress("02:00:00:00:00:99")!
let eniIP = IPAddress("10.0.0.5")!
let eniIP6 = IPAddress("2001:db8::5")!

/// A decoded packet, written by hand (decoding is tested elsewhere).
func packet(
    from source: String, _ sourcePort: UInt16 = 0, to destination: String, _ destinationPort: UInt16 = 0,
    protocol proto: UInt8 = 6, sourceMAC: MACAddress? = nil, destinationMAC: MACAddress? = nil,
    fragment: IPFragment = .none, ip: Bool = true
) -> PacketSummary {
    var p = PacketSummary()
    p.hasEthernetHeader = sourceMAC != nil
    p.sourceMAC = sourceMAC
    p.destinationMAC = destinationMAC
    p.networkOffset = 14
    guard ip else {
        p.etherType = .arp
        return p
    }
    p.source = IPAddress(source)!
    p.destination = IPAddress(destination)!
    p.ipVersion = p.source.isIPv4 ? 4 : 6
    p.etherType = p.source.isIPv4 ? .ipv4 : .ipv6
    p.transportProtocol = IPProtocol(rawValue: proto)
    p.fragment = fragment
    p.hasPorts = (proto == 6 || proto == 17) && fragment != .later
    if p.hasPorts {
        p.sourcePort = sourcePort
        p.destinationPort = destinationPort
    }
    return p
}

func rule(
    _ number: Int, _ action: TrafficMirrorRuleAction, proto: UInt8? = nil, source: String = "0.0.0.0/0",
    destination: String = "0.0.0.0/0", sourcePorts: ClosedRange<UInt16>? = nil,
    destinationPorts: ClosedRange<UInt16>? = nil
) -> TrafficMirrorFilterRule {
    TrafficMirrorFilterRule(
        ruleNumber: number, ruleAction: action, protocol: proto.map { IPProtocol(rawValue: $0) },
        sourceCidrBlock: CIDRBlock(source)!, destinationCidrBlock: CIDRBlock(destination)!,
        sourcePortRange: sourcePorts.map { TrafficMirrorPortRange(fromPort: $0.lowerBound, toPort: $0.upperBound) },
        destinationPortRange: destinationPorts.map { TrafficMirrorPortRange(fromPort: $0.lowerBound, toPort: $0.upperBound) })
}

func session(_ id: String, number: Int, filter: String, eni: String = "eni-a", sampling: Double = 100) -> TrafficMirrorSession {
    TrafficMirrorSession(
        trafficMirrorSessionId: id, networkInterfaceId: eni, trafficMirrorTargetId: "tmt-1",
        trafficMirrorFilterId: filter, sessionNumber: number, virtualNetworkId: UInt32(number), samplingPercent: sampling)
}

func configuration(
    filters: [TrafficMirrorFilter], sessions: [TrafficMirrorSession],
    interfaces: [NetworkInterface] = [NetworkInterface(networkInterfaceId: "eni-a", macAddress: eniMAC, addresses: [eniIP, eniIP6])]
) -> MirrorConfiguration {
    var c = MirrorConfiguration(
        trafficMirrorFilters: filters,
        trafficMirrorTargets: [TrafficMirrorTarget(trafficMirrorTargetId: "tmt-1", endpoints: [TrafficMirrorEndpoint(address: IPAddress("127.0.0.1")!)])],
        networkInterfaces: interfaces, trafficMirrorSessions: sessions)
    c.neverMirrored.amazonDNSAddresses.append(IPAddress("10.0.0.2")!)
    return c
}

/// Evaluates one packet; returns the session ids that mirror it (one per observing interface).
func mirroredBy(_ p: PacketSummary, _ c: MirrorConfiguration) -> (ids: [String], counters: MirrorCounters) {
    let engine = TrafficMirrorEngine(configuration: c)
    var counters = engine.makeCounters()
    let d = engine.evaluate(p, counters: &counters)
    let ids = (0..<d.count).map { c.trafficMirrorSessions[d[$0].sessionIndex].trafficMirrorSessionId }
    return (ids, counters)
}

// MARK: - The table

struct Case: CustomTestStringConvertible, Sendable {
    var name: String
    var filters: [TrafficMirrorFilter]
    var sessions: [TrafficMirrorSession]
    var packet: PacketSummary
    /// Sessions expected to mirror, one per observing interface; [] = not mirrored.
    var expected: [String]
    var testDescription: String { self.name }
}

/// Egress: the interface sends to a web server. Ingress: the reply.
let egressWeb = packet(from: "10.0.0.5", 40000, to: "93.184.216.34", 80, sourceMAC: eniMAC, destinationMAC: peerMAC)
let ingressWeb = packet(from: "93.184.216.34", 80, to: "10.0.0.5", 40000, sourceMAC: peerMAC, destinationMAC: eniMAC)

func webFilter(_ id: String = "tmf-web", ingress: [TrafficMirrorFilterRule] = [], egress: [TrafficMirrorFilterRule] = [],
               services: Set<TrafficMirrorNetworkService> = []) -> TrafficMirrorFilter {
    TrafficMirrorFilter(trafficMirrorFilterId: id, ingressFilterRules: ingress, egressFilterRules: egress, networkServices: services)
}

let cases: [Case] = [
    // Rule order and first match.
    Case(name: "lower RuleNumber decides even when listed later",
         filters: [webFilter(egress: [rule(200, .accept), rule(100, .reject)])],
         sessions: [session("s1", number: 1, filter: "tmf-web")], packet: egressWeb, expected: []),
    Case(name: "first match wins: accept 100 before reject 200",
         filters: [webFilter(egress: [rule(100, .accept, proto: 6), rule(200, .reject)])],
         sessions: [session("s1", number: 1, filter: "tmf-web")], packet: egressWeb, expected: ["s1"]),
    Case(name: "a non-matching lower rule is skipped",
         filters: [webFilter(egress: [rule(10, .reject, proto: 17), rule(20, .accept)])],
         sessions: [session("s1", number: 1, filter: "tmf-web")], packet: egressWeb, expected: ["s1"]),
    Case(name: "no rule for the direction: not mirrored",
         filters: [webFilter(ingress: [rule(100, .accept)])],
         sessions: [session("s1", number: 1, filter: "tmf-web")], packet: egressWeb, expected: []),
    Case(name: "ingress rules apply to ingress",
         filters: [webFilter(ingress: [rule(100, .accept, proto: 6, sourcePorts: 80...80)])],
         sessions: [session("s1", number: 1, filter: "tmf-web")], packet: ingressWeb, expected: ["s1"]),
    // Reject and no-match fall through to the next session; accept stops.
    Case(name: "explicit reject falls through to the next session",
         filters: [webFilter("tmf-a", egress: [rule(100, .reject)]), webFilter("tmf-b", egress: [rule(100, .accept)])],
         sessions: [session("s1", number: 1, filter: "tmf-a"), session("s2", number: 2, filter: "tmf-b")],
         packet: egressWeb, expected: ["s2"]),
    Case(name: "no match falls through to the next session",
         filters: [webFilter("tmf-a", egress: [rule(100, .accept, proto: 17)]), webFilter("tmf-b", egress: [rule(100, .accept)])],
         sessions: [session("s1", number: 1, filter: "tmf-a"), session("s2", number: 2, filter: "tmf-b")],
         packet: egressWeb, expected: ["s2"]),
    Case(name: "each packet is mirrored once: the first accepting session only",
         filters: [webFilter("tmf-a", egress: [rule(100, .accept)]), webFilter("tmf-b", egress: [rule(100, .accept)])],
         sessions: [session("s1", number: 1, filter: "tmf-a"), session("s2", number: 2, filter: "tmf-b")],
         packet: egressWeb, expected: ["s1"]),
    Case(name: "sessions are tried by SessionNumber, not file order",
         filters: [webFilter("tmf-a", egress: [rule(100, .accept)]), webFilter("tmf-b", egress: [rule(100, .accept)])],
         sessions: [session("s9", number: 9, filter: "tmf-a"), session("s3", number: 3, filter: "tmf-b")],
         packet: egressWeb, expected: ["s3"]),
    // Protocol.
    Case(name: "protocol omitted matches UDP", filters: [webFilter(egress: [rule(100, .accept)])],
         sessions: [session("s1", number: 1, filter: "tmf-web")],
         packet: packet(from: "10.0.0.5", 5000, to: "8.8.8.8", 53, protocol: 17, sourceMAC: eniMAC, destinationMAC: peerMAC),
         expected: ["s1"]),
    Case(name: "protocol 6 does not match UDP", filters: [webFilter(egress: [rule(100, .accept, proto: 6)])],
         sessions: [session("s1", number: 1, filter: "tmf-web")],
         packet: packet(from: "10.0.0.5", 5000, to: "8.8.8.8", 53, protocol: 17, sourceMAC: eniMAC, destinationMAC: peerMAC),
         expected: []),
    Case(name: "protocol 1 matches ICMP", filters: [webFilter(egress: [rule(100, .accept, proto: 1)])],
         sessions: [session("s1", number: 1, filter: "tmf-web")],
         packet: packet(from: "10.0.0.5", to: "8.8.8.8", protocol: 1, sourceMAC: eniMAC, destinationMAC: peerMAC),
         expected: ["s1"]),
    // CIDRs, v4 and v6.
    Case(name: "destination CIDR /24 matches", filters: [webFilter(egress: [rule(100, .accept, destination: "93.184.216.0/24")])],
         sessions: [session("s1", number: 1, filter: "tmf-web")], packet: egressWeb, expected: ["s1"]),
    Case(name: "destination CIDR /32 of another host does not match",
         filters: [webFilter(egress: [rule(100, .accept, destination: "93.184.216.35/32")])],
         sessions: [session("s1", number: 1, filter: "tmf-web")], packet: egressWeb, expected: []),
    Case(name: "source CIDR is the literal source, not 'remote'",
         filters: [webFilter(egress: [rule(100, .accept, source: "93.184.216.0/24")])],
         sessions: [session("s1", number: 1, filter: "tmf-web")], packet: egressWeb, expected: []),
    Case(name: "an IPv4 rule does not match IPv6", filters: [webFilter(egress: [rule(100, .accept)])],
         sessions: [session("s1", number: 1, filter: "tmf-web")],
         packet: packet(from: "2001:db8::5", 40000, to: "2001:db8:1::1", 443, sourceMAC: eniMAC, destinationMAC: peerMAC),
         expected: []),
    Case(name: "an IPv6 rule ::/0 matches IPv6",
         filters: [webFilter(egress: [rule(100, .accept, source: "::/0", destination: "::/0")])],
         sessions: [session("s1", number: 1, filter: "tmf-web")],
         packet: packet(from: "2001:db8::5", 40000, to: "2001:db8:1::1", 443, sourceMAC: eniMAC, destinationMAC: peerMAC),
         expected: ["s1"]),
    Case(name: "an IPv6 /48 rule", filters: [webFilter(egress: [rule(100, .accept, source: "::/0", destination: "2001:db8:1::/48")])],
         sessions: [session("s1", number: 1, filter: "tmf-web")],
         packet: packet(from: "2001:db8::5", 40000, to: "2001:db8:2::1", 443, sourceMAC: eniMAC, destinationMAC: peerMAC),
         expected: []),
    // Inclusive port bounds.
    Case(name: "port range includes FromPort", filters: [webFilter(egress: [rule(100, .accept, proto: 6, destinationPorts: 80...90)])],
         sessions: [session("s1", number: 1, filter: "tmf-web")], packet: egressWeb, expected: ["s1"]),
    Case(name: "port range includes ToPort", filters: [webFilter(egress: [rule(100, .accept, proto: 6, destinationPorts: 70...80)])],
         sessions: [session("s1", number: 1, filter: "tmf-web")], packet: egressWeb, expected: ["s1"]),
    Case(name: "port one above ToPort does not match",
         filters: [webFilter(egress: [rule(100, .accept, proto: 6, destinationPorts: 70...79)])],
         sessions: [session("s1", number: 1, filter: "tmf-web")], packet: egressWeb, expected: []),
    Case(name: "port one below FromPort does not match",
         filters: [webFilter(egress: [rule(100, .accept, proto: 6, destinationPorts: 81...90)])],
         sessions: [session("s1", number: 1, filter: "tmf-web")], packet: egressWeb, expected: []),
    Case(name: "source and destination ranges both apply",
         filters: [webFilter(egress: [rule(100, .accept, proto: 6, sourcePorts: 40000...40000, destinationPorts: 80...80)])],
         sessions: [session("s1", number: 1, filter: "tmf-web")], packet: egressWeb, expected: ["s1"]),
    Case(name: "a later fragment never matches a port range",
         filters: [webFilter(egress: [rule(100, .accept, proto: 17, destinationPorts: 0...65535)])],
         sessions: [session("s1", number: 1, filter: "tmf-web")],
         packet: packet(from: "10.0.0.5", to: "8.8.8.8", protocol: 17, sourceMAC: eniMAC, destinationMAC: peerMAC, fragment: .later),
         expected: []),
    Case(name: "a later fragment matches a rule without ports",
         filters: [webFilter(egress: [rule(100, .accept, proto: 17)])],
         sessions: [session("s1", number: 1, filter: "tmf-web")],
         packet: packet(from: "10.0.0.5", to: "8.8.8.8", protocol: 17, sourceMAC: eniMAC, destinationMAC: peerMAC, fragment: .later),
         expected: ["s1"]),
    Case(name: "a first fragment has ports and matches",
         filters: [webFilter(egress: [rule(100, .accept, proto: 17, destinationPorts: 53...53)])],
         sessions: [session("s1", number: 1, filter: "tmf-web")],
         packet: packet(from: "10.0.0.5", 5000, to: "8.8.8.8", 53, protocol: 17, sourceMAC: eniMAC, destinationMAC: peerMAC, fragment: .first),
         expected: ["s1"]),
    // Amazon DNS.
    Case(name: "Amazon DNS is not mirrored without amazon-dns, even by accept-all",
         filters: [webFilter(egress: [rule(100, .accept)])], sessions: [session("s1", number: 1, filter: "tmf-web")],
         packet: packet(from: "10.0.0.5", 5000, to: "10.0.0.2", 53, protocol: 17, sourceMAC: eniMAC, destinationMAC: peerMAC),
         expected: []),
    Case(name: "Amazon DNS query is mirrored with amazon-dns and no rules",
         filters: [webFilter(services: [.amazonDNS])], sessions: [session("s1", number: 1, filter: "tmf-web")],
         packet: packet(from: "10.0.0.5", 5000, to: "10.0.0.2", 53, protocol: 17, sourceMAC: eniMAC, destinationMAC: peerMAC),
         expected: ["s1"]),
    Case(name: "Amazon DNS answer (ingress) is mirrored with amazon-dns",
         filters: [webFilter(services: [.amazonDNS])], sessions: [session("s1", number: 1, filter: "tmf-web")],
         packet: packet(from: "10.0.0.2", 53, to: "10.0.0.5", 5000, protocol: 17, sourceMAC: peerMAC, destinationMAC: eniMAC),
         expected: ["s1"]),
    Case(name: "Amazon DNS falls through to a session whose filter has amazon-dns",
         filters: [webFilter("tmf-a", egress: [rule(100, .accept)]), webFilter("tmf-b", services: [.amazonDNS])],
         sessions: [session("s1", number: 1, filter: "tmf-a"), session("s2", number: 2, filter: "tmf-b")],
         packet: packet(from: "10.0.0.5", 5000, to: "169.254.169.253", 53, protocol: 17, sourceMAC: eniMAC, destinationMAC: peerMAC),
         expected: ["s2"]),
    Case(name: "DNS to another resolver is ordinary traffic",
         filters: [webFilter(egress: [rule(100, .accept)])], sessions: [session("s1", number: 1, filter: "tmf-web")],
         packet: packet(from: "10.0.0.5", 5000, to: "1.1.1.1", 53, protocol: 17, sourceMAC: eniMAC, destinationMAC: peerMAC),
         expected: ["s1"]),
    // Never mirrored.
    Case(name: "ARP is never mirrored", filters: [webFilter(egress: [rule(100, .accept)])],
         sessions: [session("s1", number: 1, filter: "tmf-web")],
         packet: packet(from: "", to: "", sourceMAC: eniMAC, destinationMAC: .broadcast, ip: false), expected: []),
    Case(name: "DHCP is never mirrored", filters: [webFilter(egress: [rule(100, .accept)])],
         sessions: [session("s1", number: 1, filter: "tmf-web")],
         packet: packet(from: "10.0.0.5", 68, to: "255.255.255.255", 67, protocol: 17, sourceMAC: eniMAC, destinationMAC: .broadcast),
         expected: []),
    Case(name: "DHCPv6 is never mirrored", filters: [webFilter(egress: [rule(100, .accept, source: "::/0", destination: "::/0")])],
         sessions: [session("s1", number: 1, filter: "tmf-web")],
         packet: packet(from: "2001:db8::5", 546, to: "ff02::1:2", 547, protocol: 17, sourceMAC: eniMAC, destinationMAC: peerMAC),
         expected: []),
    Case(name: "instance metadata is never mirrored", filters: [webFilter(egress: [rule(100, .accept)])],
         sessions: [session("s1", number: 1, filter: "tmf-web")],
         packet: packet(from: "10.0.0.5", 40000, to: "169.254.169.254", 80, sourceMAC: eniMAC, destinationMAC: peerMAC),
         expected: []),
    Case(name: "the time service is never mirrored", filters: [webFilter(egress: [rule(100, .accept)])],
         sessions: [session("s1", number: 1, filter: "tmf-web")],
         packet: packet(from: "10.0.0.5", 123, to: "169.254.169.123", 123, protocol: 17, sourceMAC: eniMAC, destinationMAC: peerMAC),
         expected: []),
    Case(name: "public NTP is mirrored (only AWS's link-local time service is excluded)",
         filters: [webFilter(egress: [rule(100, .accept)])], sessions: [session("s1", number: 1, filter: "tmf-web")],
         packet: packet(from: "10.0.0.5", 60631, to: "78.46.93.39", 123, protocol: 17, sourceMAC: eniMAC, destinationMAC: peerMAC),
         expected: ["s1"]),
    // Direction.
    Case(name: "a frame neither from nor to the interface is not seen",
         filters: [webFilter(egress: [rule(100, .accept)], services: [])], sessions: [session("s1", number: 1, filter: "tmf-web")],
         packet: packet(from: "10.0.0.7", 1, to: "10.0.0.8", 2, sourceMAC: peerMAC, destinationMAC: peerMAC), expected: []),
    Case(name: "with a MAC declared, Ethernet frames are matched by MAC, not IP",
         filters: [webFilter(egress: [rule(100, .accept)])], sessions: [session("s1", number: 1, filter: "tmf-web")],
         packet: packet(from: "10.0.0.5", 40000, to: "93.184.216.34", 80, sourceMAC: peerMAC, destinationMAC: peerMAC),
         expected: []),
    Case(name: "without link addresses, IP decides (egress)",
         filters: [webFilter(egress: [rule(100, .accept)])], sessions: [session("s1", number: 1, filter: "tmf-web")],
         packet: packet(from: "10.0.0.5", 40000, to: "93.184.216.34", 80), expected: ["s1"]),
    Case(name: "egress rules do not apply to ingress",
         filters: [webFilter(egress: [rule(100, .accept)])], sessions: [session("s1", number: 1, filter: "tmf-web")],
         packet: ingressWeb, expected: []),
]

@Suite struct FilterSemanticsTests {
    @Test(arguments: cases)
    func decides(_ c: Case) throws {
        let (ids, counters) = mirroredBy(c.packet, configuration(filters: c.filters, sessions: c.sessions))
        #expect(ids == c.expected)
        #expect(counters.isBalanced, "counters: \(counters)")
        #expect(counters.frames.framesRead == 1)
    }

    @Test func frameBetweenTwoInterfacesIsMirroredTwice() {
        let b = NetworkInterface(networkInterfaceId: "eni-b", macAddress: peerMAC, addresses: [IPAddress("10.0.0.6")!])
        let a = NetworkInterface(networkInterfaceId: "eni-a", macAddress: eniMAC, addresses: [eniIP])
        let c = configuration(
            filters: [webFilter("tmf-all", ingress: [rule(1, .accept)], egress: [rule(1, .accept)])],
            sessions: [session("sa", number: 1, filter: "tmf-all", eni: "eni-a"), session("sb", number: 1, filter: "tmf-all", eni: "eni-b")],
            interfaces: [a, b])
        let p = packet(from: "10.0.0.5", 1000, to: "10.0.0.6", 2000, sourceMAC: eniMAC, destinationMAC: peerMAC)
        let (ids, counters) = mirroredBy(p, c)
        #expect(ids == ["sa", "sb"])
        #expect(counters.interfaces[0].egress == 1 && counters.interfaces[1].ingress == 1)
        #expect(counters.isBalanced)
    }

    @Test func trafficToItselfIsObservedOnce() {
        let c = configuration(
            filters: [webFilter("tmf-all", ingress: [rule(1, .accept)], egress: [rule(1, .accept)])],
            sessions: [session("s1", number: 1, filter: "tmf-all")])
        let (ids, counters) = mirroredBy(packet(from: "10.0.0.5", 1, to: "10.0.0.5", 2), c)
        #expect(ids == ["s1"])
        #expect(counters.interfaces[0].egress == 1 && counters.interfaces[0].ingress == 0)
    }

    @Test func countersNameTheReason() {
        let c = configuration(
            filters: [webFilter("tmf-a", egress: [rule(100, .reject)]), webFilter("tmf-b", egress: [rule(100, .accept, proto: 17)])],
            sessions: [session("s1", number: 1, filter: "tmf-a"), session("s2", number: 2, filter: "tmf-b")])
        let (ids, counters) = mirroredBy(egressWeb, c)
        #expect(ids.isEmpty)
        #expect(counters.sessions[0].rejected == 1 && counters.sessions[1].noMatch == 1)
        #expect(counters.interfaces[0].rejected == 1)
        #expect(counters.isBalanced)
    }

    @Test func sampledOutDoesNotFallThrough() {
        // 0.0001 % keeps (almost) nothing; the flow below is checked to be sampled out.
        let c = configuration(
            filters: [webFilter("tmf-a", egress: [rule(100, .accept)]), webFilter("tmf-b", egress: [rule(100, .accept)])],
            sessions: [session("s1", number: 1, filter: "tmf-a", sampling: 0.0001), session("s2", number: 2, filter: "tmf-b")])
        #expect(FlowHash.hash(egressWeb, seed: 0) % 1_000_000 >= 1)
        let (ids, counters) = mirroredBy(egressWeb, c)
        #expect(ids.isEmpty)
        #expect(counters.sessions[0].sampledOut == 1 && counters.sessions[1].evaluated == 0)
        #expect(counters.interfaces[0].sampledOut == 1)
    }

    @Test func samplingKeepsBothDirectionsOfAFlowTogether() {
        let c = configuration(
            filters: [webFilter("tmf-all", ingress: [rule(1, .accept)], egress: [rule(1, .accept)])],
            sessions: [session("s1", number: 1, filter: "tmf-all", sampling: 10)])
        var kept = 0
        for port in UInt16(20000)..<UInt16(22000) {
            let out = packet(from: "10.0.0.5", port, to: "93.184.216.34", 443, sourceMAC: eniMAC, destinationMAC: peerMAC)
            let back = packet(from: "93.184.216.34", 443, to: "10.0.0.5", port, sourceMAC: peerMAC, destinationMAC: eniMAC)
            let a = mirroredBy(out, c).ids.count
            let b = mirroredBy(back, c).ids.count
            #expect(a == b, "flow \(port) split by sampling")
            kept += a
        }
        #expect((140...260).contains(kept), "kept \(kept) of 2000 flows at 10 %")
    }
}

@Suite struct QuotaTests {
    func file(sessions: Int, rules: Int) -> [UInt8] {
        let ruleJSON = (0..<rules).map {
            #"{"RuleNumber": \#($0 + 1), "RuleAction": "accept", "SourceCidrBlock": "0.0.0.0/0", "DestinationCidrBlock": "0.0.0.0/0"}"#
        }.joined(separator: ",")
        let sessionJSON = (0..<sessions).map {
            #"{"TrafficMirrorSessionId": "tms-\#($0)", "NetworkInterfaceId": "eni-a", "TrafficMirrorTargetId": "tmt-1", "TrafficMirrorFilterId": "tmf-1", "SessionNumber": \#($0 + 1)}"#
        }.joined(separator: ",")
        return Array("""
            {"NetworkInterfaces": [{"NetworkInterfaceId": "eni-a", "PrivateIpAddress": "10.0.0.5"}],
             "TrafficMirrorFilters": [{"TrafficMirrorFilterId": "tmf-1", "EgressFilterRules": [\(ruleJSON)]}],
             "TrafficMirrorTargets": [{"TrafficMirrorTargetId": "tmt-1", "Endpoints": ["127.0.0.1"]}],
             "TrafficMirrorSessions": [\(sessionJSON)]}
            """.utf8)
    }

    @Test func awsQuotasAreEnforcedByDefault() throws {
        #expect(throws: ConfigError.self) { try SessionsFile.parse(self.file(sessions: 4, rules: 1), fileName: "s.json") }
        #expect(throws: ConfigError.self) { try SessionsFile.parse(self.file(sessions: 1, rules: 11), fileName: "s.json") }
        _ = try SessionsFile.parse(self.file(sessions: 3, rules: 10), fileName: "s.json")
    }

    @Test func quotasRelaxOnlyWhenAsked() throws {
        var relaxed = ValidationOptions()
        relaxed.enforceAWSQuotas = false
        let c = try SessionsFile.parse(self.file(sessions: 5, rules: 20), fileName: "s.json", options: relaxed)
        #expect(c.trafficMirrorSessions.count == 5)
        #expect(c.trafficMirrorFilters[0].egressFilterRules.count == 20)
    }
}

// The kernel prefilter may drop only what no session could mirror: checked with libpcap's own compiler and BPF
// interpreter against the engine, over random sessions and frames of every shape the decoder knows.
import MirrorCapture
import MirrorFilter
import MirrorTestSupport
import MirrorWire
import Testing

@Suite struct CapturePrefilterTests {
    static let v4Blocks = ["0.0.0.0/0", "10.0.0.0/8", "10.1.2.0/24", "10.1.2.3/32", "192.168.0.0/16", "10.1.2.3/16"]
    static let v6Blocks = ["::/0", "2001:db8::/32", "2001:db8::1/128", "fd00::/8"]
    static let v4Hosts = ["10.1.2.3", "10.1.2.4", "10.5.5.5", "192.168.1.1", "172.16.0.1", "169.254.169.253", "10.9.9.9"]
    static let v6Hosts = ["2001:db8::1", "2001:db8::2", "2001:db9::1", "fd00:ec2::253", "fd00::9"]
    static let ports: [UInt16] = [80, 53, 4789, 8080, 8500, 40000, 1024, 67, 68]
    static let ranges: [TrafficMirrorPortRange] = [
        .init(fromPort: 80, toPort: 80), .init(fromPort: 1, toPort: 1024), .init(fromPort: 8000, toPort: 9000),
        .init(fromPort: 53, toPort: 53), .init(fromPort: 4789, toPort: 4789),
    ]

    static func rule(_ n: Int, _ g: inout SeededGenerator) -> TrafficMirrorFilterRule {
        let v6 = Int.random(in: 0..<4, using: &g) == 0
        let blocks = v6 ? v6Blocks : v4Blocks
        let protocols: [IPProtocol?] = [nil, .tcp, .udp, v6 ? .icmpv6 : .icmp]
        let p = protocols.randomElement(using: &g)!
        let withPorts = p == .tcp || p == .udp || p == nil
        return TrafficMirrorFilterRule(
            ruleNumber: n, ruleAction: Int.random(in: 0..<10, using: &g) < 7 ? .accept : .reject, protocol: p,
            sourceCidrBlock: CIDRBlock(blocks.randomElement(using: &g)!)!,
            destinationCidrBlock: CIDRBlock(blocks.randomElement(using: &g)!)!,
            sourcePortRange: withPorts && Bool.random(using: &g) ? ranges.randomElement(using: &g) : nil,
            destinationPortRange: withPorts && Bool.random(using: &g) ? ranges.randomElement(using: &g) : nil)
    }

    static func configuration(_ g: inout SeededGenerator) -> MirrorConfiguration {
        let interface = NetworkInterface(networkInterfaceId: "eni-1", interfaceName: "eth9")
        var filters: [TrafficMirrorFilter] = []
        var sessions: [TrafficMirrorSession] = []
        for s in 0..<Int.random(in: 1...3, using: &g) {
            let ingress = (0..<Int.random(in: 0...4, using: &g)).map { rule(100 + $0 * 10, &g) }
            let egress = (0..<Int.random(in: 0...4, using: &g)).map { rule(100 + $0 * 10, &g) }
            filters.append(TrafficMirrorFilter(
                trafficMirrorFilterId: "tmf-\(s)", ingressFilterRules: ingress, egressFilterRules: egress,
                networkServices: Bool.random(using: &g) ? [.amazonDNS] : []))
            sessions.append(TrafficMirrorSession(
                trafficMirrorSessionId: "tms-\(s)", networkInterfaceId: "eni-1", trafficMirrorTargetId: "tmt-1",
                trafficMirrorFilterId: "tmf-\(s)", sessionNumber: s + 1, virtualNetworkId: UInt32(s + 1),
                samplingPercent: [100, 50, 1].randomElement(using: &g)!))
        }
        let endpoints = [TrafficMirrorEndpoint(address: IPAddress("10.9.9.9")!), TrafficMirrorEndpoint(address: IPAddress("fd00::9")!, port: 4790)]
        var c = MirrorConfiguration(
            trafficMirrorFilters: filters,
            trafficMirrorTargets: [TrafficMirrorTarget(trafficMirrorTargetId: "tmt-1", endpoints: endpoints)],
            networkInterfaces: [interface], trafficMirrorSessions: sessions)
        c.neverMirrored.amazonDNSAddresses = [IPAddress("169.254.169.253")!, IPAddress("fd00:ec2::253")!]
        return c
    }

    /// A frame of a random shape: TCP/UDP/ICMP, v4 or v6, maybe tagged, with IPv4 options, IPv6 extension headers,
    /// or as a first or later fragment.
    static func frame(_ g: inout SeededGenerator) -> [UInt8] {
        let v6 = Int.random(in: 0..<3, using: &g) == 0
        let hosts = v6 ? v6Hosts : v4Hosts
        let source = IPAddress(hosts.randomElement(using: &g)!)!
        let destination = IPAddress(hosts.randomElement(using: &g)!)!
        var b = PacketBuilder()
        if Int.random(in: 0..<8, using: &g) == 0 { b.vlanTags = [.init(vlanID: 7)] }
        if !v6 && Int.random(in: 0..<6, using: &g) == 0 { b.ipv4Options = [1, 1, 1, 1] }
        if v6 {
            switch Int.random(in: 0..<5, using: &g) {
            case 0: b.ipv6ExtensionHeaders = [.hopByHop()]
            case 1: b.ipv6ExtensionHeaders = [.destinationOptions(), .hopByHop()]
            default: break
            }
        }
        let sp = ports.randomElement(using: &g)!
        let dp = ports.randomElement(using: &g)!
        let payload = [UInt8](repeating: 0x41, count: 40)
        let kind = Int.random(in: 0..<3, using: &g)
        let message: [UInt8]
        let proto: IPProtocol
        switch kind {
        case 0:
            proto = .tcp
            message = PacketBuilder.tcpSegment(source: source, sourcePort: sp, destination: destination, destinationPort: dp,
                                               flags: .ack, sequenceNumber: 0, acknowledgmentNumber: 0, window: 100, options: [], payload: payload)
        case 1:
            proto = .udp
            message = PacketBuilder.udpDatagram(source: source, sourcePort: sp, destination: destination, destinationPort: dp, payload: payload)
        default:
            proto = v6 ? .icmpv6 : .icmp
            message = PacketBuilder.icmpMessage(source: source, destination: destination, type: v6 ? 128 : 8, code: 0, restOfHeader: 1, payload: payload)
        }
        if Int.random(in: 0..<5, using: &g) == 0 {
            let pieces = b.fragments(source: source, destination: destination, protocol: proto, payload: message,
                                     fragmentByteCount: 24, identification: 77)
            return pieces.randomElement(using: &g)!
        }
        return b.ip(source: source, destination: destination, protocol: proto, payload: message)
    }

    @Test func keepsEveryFrameSomeSessionMirrors() throws {
        var g = SeededGenerator(seed: 0x7072_6566)
        var checked = 0
        var mirrored = 0
        var dropped = 0
        for _ in 0..<300 {
            let config = Self.configuration(&g)
            let engine = TrafficMirrorEngine(configuration: config)
            let frames = (0..<60).map { _ in Self.frame(&g) }
            for direction in [TrafficDirection.ingress, .egress] {
                let expression = try #require(CapturePrefilter.expression(for: config, interfaceIndex: 0, direction: direction))
                let kept = try CaptureFilter.accepts(expression, linkType: .ethernet, frames: frames)
                for (frame, keep) in zip(frames, kept) {
                    var counters = engine.makeCounters()
                    let summary = try frame.withUnsafeBytes { try PacketSummary(decoding: $0, linkType: .ethernet) }
                    let decision = engine.evaluate(summary, capturedOn: 0, direction: direction, counters: &counters)
                    checked += 1
                    if decision.count > 0 {
                        mirrored += 1
                        #expect(keep, "dropped a mirrored frame: \(summary) by \(expression)")
                    } else if !keep {
                        dropped += 1
                    }
                }
            }
        }
        // The filter must also be worth having: it drops a good share of what is not mirrored.
        #expect(mirrored > 1000 && dropped > 5000, "checked \(checked), mirrored \(mirrored), dropped \(dropped)")
    }

    @Test func dropsMirrorTrafficAndNonIP() throws {
        var g = SeededGenerator(seed: 1)
        var config = Self.configuration(&g)
        let everything = TrafficMirrorFilterRule(
            ruleNumber: 1, ruleAction: .accept, sourceCidrBlock: CIDRBlock("0.0.0.0/0")!, destinationCidrBlock: CIDRBlock("0.0.0.0/0")!)
        config.trafficMirrorFilters = config.trafficMirrorFilters.map { f in
            TrafficMirrorFilter(trafficMirrorFilterId: f.trafficMirrorFilterId, ingressFilterRules: [everything],
                                egressFilterRules: f.egressFilterRules, networkServices: f.networkServices)
        }
        let b = PacketBuilder()
        let vxlan = b.udp(source: IPAddress("10.1.2.3")!, sourcePort: 65500, destination: IPAddress("10.9.9.9")!, destinationPort: 4789)
        let other = b.udp(source: IPAddress("10.1.2.3")!, sourcePort: 65500, destination: IPAddress("10.9.9.9")!, destinationPort: 4790)
        let arp = b.ethernet(etherType: .arp, payload: [UInt8](repeating: 0, count: 28))
        let expression = try #require(CapturePrefilter.expression(for: config, interfaceIndex: 0, direction: .ingress))
        #expect(try CaptureFilter.accepts(expression, linkType: .ethernet, frames: [vxlan, other, arp]) == [false, true, false])
    }

    /// Raw-IP links (tun, WireGuard) carry no tags, and libpcap refuses `vlan` on them: the same proof without it.
    @Test func keepsEveryMirroredFrameOnRawIPLinks() throws {
        var g = SeededGenerator(seed: 0x7261_7769)
        var mirrored = 0
        for _ in 0..<60 {
            let config = Self.configuration(&g)
            let engine = TrafficMirrorEngine(configuration: config)
            // Raw IP: the Ethernet header (no tags here) cut off.
            let frames = (0..<60).map { _ in Self.frame(&g) }.filter { $0[12] != 0x81 }.map { Array($0.dropFirst(14)) }
            for direction in [TrafficDirection.ingress, .egress] {
                let expression = try #require(CapturePrefilter.expression(for: config, interfaceIndex: 0, direction: direction, vlanTags: false))
                let kept = try CaptureFilter.accepts(expression, linkType: .rawDLT12, frames: frames)
                for (frame, keep) in zip(frames, kept) {
                    var counters = engine.makeCounters()
                    let summary = try frame.withUnsafeBytes { try PacketSummary(decoding: $0, linkType: .rawDLT12) }
                    if engine.evaluate(summary, capturedOn: 0, direction: direction, counters: &counters).count > 0 {
                        mirrored += 1
                        #expect(keep, "dropped a mirrored frame: \(summary) by \(expression)")
                    }
                }
            }
        }
        #expect(mirrored > 100)
    }

    @Test func rejectsNothingWithoutSessionsAndNamesBadExpressions() throws {
        var config = MirrorConfiguration()
        config.networkInterfaces = [NetworkInterface(networkInterfaceId: "eni-1", interfaceName: "eth9")]
        #expect(CapturePrefilter.expression(for: config, interfaceIndex: 0, direction: .ingress) == nil)
        #expect(throws: LiveCaptureError.self) { try CaptureFilter.accepts("ip and and", linkType: .ethernet, frames: []) }
    }
}

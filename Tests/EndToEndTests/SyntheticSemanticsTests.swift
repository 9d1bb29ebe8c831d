// vpcmirror end-to-end: a capture built frame by frame to reach every rule the fixtures do not — never-mirrored
// traffic, Amazon DNS, fragments, IPv6 extension headers, tags, two interfaces — replayed by the real binary and
// checked byte for byte against the reference model.
import Foundation
import MirrorTestSupport
import MirrorWire
import Testing

@Suite("replay of a crafted capture that reaches every mirroring rule")
struct SyntheticSemanticsTests {
    static let slot = 30

    static let macA = "02:0a:00:00:00:0a"
    static let routerMAC = "02:0b:00:00:00:0b"
    static let hostA = "10.0.0.10"
    static let hostA6 = "2001:db8::a"
    static let hostB = "10.0.0.20"  // declared by IP only
    static let peer = "93.184.216.34"
    static let peer6 = "2001:db8::99"

    static func ip(_ text: String) -> IPAddress { IPAddress(text)! }
    static func mac(_ text: String) -> MACAddress { MACAddress(text)! }

    /// The frames, each with why it is there.
    static func frames() -> [(String, PcapRecord)] {
        var out: [(String, PcapRecord)] = []
        func add(_ why: String, _ bytes: [UInt8], originalLength: Int? = nil) {
            out.append((why, PcapRecord(timestampNanoseconds: 1_700_000_000_000_000_000 + Int64(out.count) * 1_000_000,
                                        bytes: bytes, originalLength: originalLength)))
        }
        let egress = PacketBuilder(sourceMAC: mac(macA), destinationMAC: mac(routerMAC))
        let ingress = PacketBuilder(sourceMAC: mac(routerMAC), destinationMAC: mac(macA))
        let body = [UInt8](repeating: 0x61, count: 300)

        add("ARP from A: non-IP", egress.ethernet(etherType: .arp, payload: [UInt8](repeating: 1, count: 28)))
        add("MPLS from A carrying IPv4: non-IP",
            egress.ethernet(etherType: EtherType(rawValue: 0x8847),
                            payload: [0, 0, 0x11, 0x40] + egress.ipPacket(source: ip(hostA), destination: ip(peer), protocol: .udp,
                                                                          payload: PacketBuilder.udpDatagram(source: ip(hostA), sourcePort: 1, destination: ip(peer), destinationPort: 2))))
        var broadcast = egress
        broadcast.destinationMAC = .broadcast
        add("DHCPv4 discover: never mirrored",
            broadcast.udp(source: ip("0.0.0.0"), sourcePort: 68, destination: ip("255.255.255.255"), destinationPort: 67, payload: body))
        add("DHCPv6 solicit: never mirrored",
            egress.udp(source: ip("fe80::a"), sourcePort: 546, destination: ip("ff02::1:2"), destinationPort: 547, payload: body))
        add("UDP 546 → 547 over IPv4: not DHCP",
            egress.udp(source: ip(hostA), sourcePort: 546, destination: ip(peer), destinationPort: 547))
        add("UDP 68 → 53: not DHCP (one side only)",
            egress.udp(source: ip(hostA), sourcePort: 68, destination: ip(peer), destinationPort: 53))
        add("instance metadata: never mirrored",
            egress.tcp(source: ip(hostA), sourcePort: 40_000, destination: ip("169.254.169.254"), destinationPort: 80, flags: .syn))
        add("time sync over IPv6: never mirrored",
            egress.udp(source: ip(hostA6), sourcePort: 123, destination: ip("fd00:ec2::123"), destinationPort: 123))
        add("TCP DNS to the default Amazon resolver: amazon-dns only",
            egress.tcp(source: ip(hostA), sourcePort: 40_001, destination: ip("169.254.169.253"), destinationPort: 53, flags: .syn))
        add("its answer", ingress.tcp(source: ip("169.254.169.253"), sourcePort: 53, destination: ip(hostA), destinationPort: 40_001, flags: [.syn, .ack]))
        add("UDP DNS to fd00:ec2::253: amazon-dns only",
            egress.udp(source: ip(hostA6), sourcePort: 50_000, destination: ip("fd00:ec2::253"), destinationPort: 53, payload: body))
        add("its answer", ingress.udp(source: ip("fd00:ec2::253"), sourcePort: 53, destination: ip(hostA6), destinationPort: 50_000, payload: body))
        add("NTP to the Amazon DNS address: not DNS",
            egress.udp(source: ip(hostA), sourcePort: 123, destination: ip("169.254.169.253"), destinationPort: 123))

        let segment = PacketBuilder.tcpSegment(
            source: ip(hostA), sourcePort: 40_002, destination: ip(peer), destinationPort: 80, flags: [.psh, .ack],
            payload: [UInt8](repeating: 0x62, count: 1_000))
        for (i, f) in egress.fragments(source: ip(hostA), destination: ip(peer), protocol: .tcp, payload: segment,
                                       fragmentByteCount: 400, identification: 7).enumerated() {
            add("IPv4 TCP fragment \(i): only the first has ports", f)
        }
        let datagram = PacketBuilder.udpDatagram(
            source: ip(peer6), sourcePort: 53, destination: ip(hostA6), destinationPort: 50_001,
            payload: [UInt8](repeating: 0x63, count: 900))
        for (i, f) in ingress.fragments(source: ip(peer6), destination: ip(hostA6), protocol: .udp, payload: datagram,
                                        fragmentByteCount: 512, identification: 0x1234).enumerated() {
            add("IPv6 UDP fragment \(i) from port 53", f)
        }
        var extensions = egress
        extensions.ipv6ExtensionHeaders = [.hopByHop(options: [5, 2, 0, 0]), .destinationOptions()]
        add("IPv6 with hop-by-hop and destination options, TCP to 443",
            extensions.tcp(source: ip(hostA6), sourcePort: 40_003, destination: ip(peer6), destinationPort: 443, flags: .syn))
        var options = egress
        options.ipv4Options = [1, 1, 1, 0]
        add("IPv4 with options, TCP to 80", options.tcp(source: ip(hostA), sourcePort: 40_004, destination: ip(peer), destinationPort: 80, flags: .syn))
        add("ICMP echo request", egress.icmp(source: ip(hostA), destination: ip(peer), type: 8, restOfHeader: 0x0042_0001, payload: body))
        add("ICMPv6 echo reply", ingress.icmp(source: ip(peer6), destination: ip(hostA6), type: 129, restOfHeader: 0x0042_0001))
        var qinq = egress
        qinq.vlanTags = [.init(vlanID: 100, tagProtocol: .qinq), .init(vlanID: 200)]
        add("QinQ, TCP to 80: the tags stay in the inner frame",
            qinq.tcp(source: ip(hostA), sourcePort: 40_005, destination: ip(peer), destinationPort: 80, flags: .syn))
        var selfie = egress
        selfie.destinationMAC = mac(macA)
        add("A to itself: once, as egress", selfie.tcp(source: ip(hostA), sourcePort: 40_006, destination: ip(hostA), destinationPort: 80, flags: .syn))
        let elsewhere = PacketBuilder(sourceMAC: mac(routerMAC), destinationMAC: mac("02:0c:00:00:00:0c"))
        add("A's address between other MACs: not A's frame",
            elsewhere.tcp(source: ip(hostA), sourcePort: 40_007, destination: ip(peer), destinationPort: 80, flags: .syn))
        add("padded to 60 bytes: the padding is mirrored",
            egress.udp(source: ip(hostA), sourcePort: 7, destination: ip(peer), destinationPort: 7, payload: [1]) + [UInt8](repeating: 0, count: 18))
        add("IPv4 header cut short: malformed", egress.ethernet(etherType: .ipv4, payload: [0x45, 0, 0, 40, 0, 0]))
        add("UDP broadcast from A: session 20 rejects it, session 30 takes it",
            broadcast.udp(source: ip(hostA), sourcePort: 5_000, destination: ip("255.255.255.255"), destinationPort: 5_000, payload: body))
        add("A to B: A's egress (by MAC) and B's ingress (by IP)",
            egress.tcp(source: ip(hostA), sourcePort: 40_008, destination: ip(hostB), destinationPort: 80, flags: .syn, payload: body))
        add("B to A: B's egress and A's ingress",
            ingress.tcp(source: ip(hostB), sourcePort: 80, destination: ip(hostA), destinationPort: 40_008, flags: [.syn, .ack], payload: body))
        add("rejected by rule 50 of session 10 (source port 40009), mirrored by session 20",
            egress.tcp(source: ip(hostA), sourcePort: 40_009, destination: ip(peer), destinationPort: 80, flags: .syn, payload: body))
        add("TCP to 2000: outside session 10's port range",
            egress.tcp(source: ip(hostA), sourcePort: 40_010, destination: ip(peer), destinationPort: 2_000, payload: body))
        let long = egress.tcp(source: ip(hostA), sourcePort: 40_011, destination: ip(peer), destinationPort: 80,
                              payload: [UInt8](repeating: 0x64, count: 1_400))
        add("cut by the capture's snap length: what was captured is mirrored", Array(long.prefix(96)), originalLength: long.count)
        return out
    }

    static func sessions(endpoint: String) -> SessionsConfig {
        typealias Rule = SessionsConfig.Rule
        var config = SessionsConfig()
        config.interfaces = [
            .init(id: "eni-0e2esynthA0000001", mac: macA, addresses: [hostA, hostA6]),
            .init(id: "eni-0e2esynthB0000001", mac: nil, addresses: [hostB]),
        ]
        config.filters = [
            .init(
                id: "tmf-0e2esynports00001",
                ingress: [
                    Rule(number: 100, accept: true, ipProtocol: 6, source: "0.0.0.0/0", destination: "0.0.0.0/0", sourcePorts: 1...1023),
                    Rule(number: 110, accept: true, ipProtocol: 17, source: "::/0", destination: "::/0", sourcePorts: 53...53),
                    Rule(number: 50, accept: false, ipProtocol: 6, source: "0.0.0.0/0", destination: "0.0.0.0/0", destinationPorts: 40_009...40_009),
                ],
                egress: [
                    Rule(number: 100, accept: true, ipProtocol: 6, source: "0.0.0.0/0", destination: "0.0.0.0/0", destinationPorts: 1...1023),
                    Rule(number: 110, accept: true, ipProtocol: 6, source: "::/0", destination: "::/0", destinationPorts: 1...1023),
                    Rule(number: 50, accept: false, ipProtocol: 6, source: "0.0.0.0/0", destination: "0.0.0.0/0", sourcePorts: 40_009...40_009),
                ]),
            SessionsConfig.acceptAllButBroadcasts(id: "tmf-0e2esynall000001"),
            SessionsConfig.acceptAllWithAmazonDNS(id: "tmf-0e2esyndns000001"),
        ]
        config.targets = [.init(id: "tmt-0e2esynth00000001", endpoints: [endpoint])]
        config.sessions = [
            .init(id: "tms-0e2esynports00001", interface: "eni-0e2esynthA0000001", target: "tmt-0e2esynth00000001",
                  filter: "tmf-0e2esynports00001", number: 10, vni: 1_010),
            .init(id: "tms-0e2esyndns000001", interface: "eni-0e2esynthA0000001", target: "tmt-0e2esynth00000001",
                  filter: "tmf-0e2esyndns000001", number: 30, vni: 1_030),
            .init(id: "tms-0e2esynall000001", interface: "eni-0e2esynthA0000001", target: "tmt-0e2esynth00000001",
                  filter: "tmf-0e2esynall000001", number: 20, packetLength: 100),
            .init(id: "tms-0e2esynB00000001", interface: "eni-0e2esynthB0000001", target: "tmt-0e2esynth00000001",
                  filter: "tmf-0e2esynall000001", number: 1, vni: 2_001),
        ]
        return config
    }

    @Test("never-mirrored traffic, Amazon DNS, fragments, extension headers, tags and two interfaces")
    func craftedCaptureMatchesReferenceModel() throws {
        let directory = try TemporaryDirectory("synthetic")
        defer { directory.remove() }
        let frames = Self.frames()
        let records = frames.map(\.1)
        let capture = directory.file("crafted.pcap")
        var writer = PcapWriter()
        writer.append(contentsOf: records)
        try writer.write(to: capture)
        let reread = try PcapFile(path: capture.path).records
        try #require(reread == records)

        let receiver = try UDPReceiver()
        defer { receiver.stop() }
        let config = Self.sessions(endpoint: receiver.endpoint)
        let sessionsURL = try directory.write("sessions.json", config.json)
        let run = try VPCMirror.replay(
            sessions: sessionsURL, files: [capture.path], sourcePorts: SourcePorts.range(Self.slot),
            statsDirectory: directory.url)
        let received = receiver.collect()
        try #require(run.exitStatus == 0, "vpcmirror replay exited \(run.exitStatus): \(run.standardError)")
        let stats = try #require(run.stats)

        let model = ReferenceModel(config)
        let expected = model.expect(records)
        // The capture reaches what it was built for.
        #expect(expected.frames.nonIP == 2 && expected.frames.dhcp == 2 && expected.frames.linkLocal == 2)
        #expect(expected.frames.malformed == 1 && expected.frames.notSeen == 1)
        #expect(expected.mirrored["tms-0e2esyndns000001"] == 5, "4 Amazon DNS frames and the broadcast")
        #expect(expected.mirrored["tms-0e2esynB00000001"] == 2)

        #expect(stats.vniBySession == model.vniBySession)
        ReplayChecks.expectCounters(stats, expected, records: records.count)
        #expect(stats.sentTotal == received.count)

        // Frame by frame, so a difference names the frame.
        for (why, record) in frames {
            let one = model.expect([record]).datagrams.map(\.payload)
            let matches = one.filter { d in received.contains { $0.payload == d } }
            #expect(matches.count == one.count, "\(why): \(one.count - matches.count) of \(one.count) expected datagrams did not arrive")
        }
        ReplayChecks.expectSameDatagrams(
            received: received.map(\.payload), expected: expected.datagrams.map(\.payload), "crafted capture")
        ReplayChecks.expectFlowOrder(received: received, expected: expected.datagrams.map(\.payload), "crafted capture")
        ReplayChecks.expectOnePortPerFlow(
            received, expectedInCaptureOrder: expected.datagrams.map(\.payload), range: SourcePorts.range(Self.slot),
            "crafted capture")
        print("crafted capture: \(records.count) frames, \(received.count) datagrams; \(expected.frames); by session \(expected.mirrored.sorted { $0.key < $1.key })")
    }
}

// vpcmirror end-to-end: `vpcmirror replay` of real captures to a UDP receiver, checked byte for byte
// against the tests' own model of AWS Traffic Mirroring (issue 2, "must show" 3).
import Foundation
import MirrorTestSupport
import MirrorWire
import Testing

@Suite("replay of fixtures to a UDP receiver on 127.0.0.1, byte for byte")
struct ReplayFixtureTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var fixture: String
        /// Selects this test's outer source port range.
        var slot: Int
        /// Declare the capture's DNS server in AmazonDnsAddresses.
        var amazonDNS = false
        var testDescription: String { self.fixture }
    }

    static let cases: [Case] = [
        Case(fixture: "http11-get-simple.pcap", slot: 0),
        Case(fixture: "http-keepalive-browser-wikipedia.pcap", slot: 1, amazonDNS: true),
        Case(fixture: "mixed-http-dns-icmp-mpls-ipv6.pcap", slot: 2, amazonDNS: true),
        Case(fixture: "http-vlan120-keepalive-11req.pcap", slot: 3),
        Case(fixture: "http-ipv6-post-3req-null.pcap", slot: 4),
        Case(fixture: "http-sll-3conns.pcap", slot: 5),
        Case(fixture: "pcap-nanosec-http-to-ssh-port.pcap", slot: 6),
        Case(fixture: "http-chunked-3conns.pcapng", slot: 7),
        Case(fixture: "dns-ipv6-fragmented.pcap", slot: 8),
        Case(fixture: "http10-post-ocsp-4conns.pcap", slot: 9),
    ]

    /// Three sessions on the busiest host of the capture, in the file out of SessionNumber order:
    /// - number 10, explicit VNI (the value session 20 would derive, so that its derivation must step past it):
    ///   TCP to or from ports 1–8099 (both families), UDP port 53 over IPv6, and rules 50 that reject the host's
    ///   first TCP connection by its ephemeral port (listed after the accepts: only RuleNumber order puts them first);
    /// - number 20, derived VNI, PacketLength 100: accept everything except egress IPv4 broadcasts (rule 90 reject);
    /// - number 30, explicit VNI: accept everything, with the amazon-dns network service.
    static func sessions(for a: FixtureAnalysis, slot: Int, amazonDNS: Bool, endpoint: String) -> SessionsConfig {
        typealias Rule = SessionsConfig.Rule
        let host = AddressText.format(a.busiestHost)
        let any = a.busiestHost.count == 4 ? "0.0.0.0/0" : "::/0"
        let service: ClosedRange<UInt16> = 1...8099
        var ingress = [
            Rule(number: 100, accept: true, ipProtocol: 6, source: "0.0.0.0/0", destination: "0.0.0.0/0", sourcePorts: service),
            Rule(number: 110, accept: true, ipProtocol: 6, source: "::/0", destination: "::/0", sourcePorts: service),
            Rule(number: 120, accept: true, ipProtocol: 17, source: "::/0", destination: "::/0", sourcePorts: 53...53),
        ]
        var egress = [
            Rule(number: 100, accept: true, ipProtocol: 6, source: "0.0.0.0/0", destination: "0.0.0.0/0", destinationPorts: service),
            Rule(number: 110, accept: true, ipProtocol: 6, source: "::/0", destination: "::/0", destinationPorts: service),
            Rule(number: 120, accept: true, ipProtocol: 17, source: "::/0", destination: "::/0", destinationPorts: 53...53),
        ]
        if let ports = a.firstTCPPorts {
            // The connection's ephemeral port: the host's own when it is the client, else its peer's.
            if ports.host > ports.peer {
                let p = ports.host
                ingress.append(Rule(number: 50, accept: false, ipProtocol: 6, source: any, destination: any, destinationPorts: p...p))
                egress.append(Rule(number: 50, accept: false, ipProtocol: 6, source: any, destination: any, sourcePorts: p...p))
            } else {
                let p = ports.peer
                ingress.append(Rule(number: 50, accept: false, ipProtocol: 6, source: any, destination: any, sourcePorts: p...p))
                egress.append(Rule(number: 50, accept: false, ipProtocol: 6, source: any, destination: any, destinationPorts: p...p))
            }
        }
        let derivedId = "tms-0e2eall000000\(String(format: "%04d", slot))"
        var config = SessionsConfig()
        config.interfaces = [
            .init(id: "eni-0e2e0000000000001", mac: a.busiestHostMAC.map(AddressText.formatMAC), addresses: [host])
        ]
        config.filters = [
            .init(id: "tmf-0e2eports00000001", ingress: ingress, egress: egress),
            SessionsConfig.acceptAllButBroadcasts(id: "tmf-0e2eall0000000001"),
            SessionsConfig.acceptAllWithAmazonDNS(id: "tmf-0e2edns0000000001"),
        ]
        config.targets = [.init(id: "tmt-0e2e0000000000001", endpoints: [endpoint])]
        let seed = ReferenceModel.fnv1a24(derivedId)
        config.sessions = [
            .init(id: "tms-0e2edns00000000001", interface: "eni-0e2e0000000000001", target: "tmt-0e2e0000000000001",
                  filter: "tmf-0e2edns0000000001", number: 30, vni: 4200 + UInt32(slot)),
            .init(id: "tms-0e2eports0000000001", interface: "eni-0e2e0000000000001", target: "tmt-0e2e0000000000001",
                  filter: "tmf-0e2eports00000001", number: 10, vni: seed == 0 ? 77 : seed),
            .init(id: derivedId, interface: "eni-0e2e0000000000001", target: "tmt-0e2e0000000000001",
                  filter: "tmf-0e2eall0000000001", number: 20, packetLength: 100),
        ]
        if amazonDNS, let dns = a.dnsServer {
            config.amazonDNSAddresses = [AddressText.format(dns)]
        }
        return config
    }

    @Test("replay sends exactly the datagrams the reference model expects", arguments: cases)
    func replayMatchesReferenceModel(_ c: Case) throws {
        let records = try PcapFile(path: Fixtures.path(c.fixture)).records
        let analysis = FixtureAnalysis(records: records)
        try #require(!analysis.busiestHost.isEmpty, "\(c.fixture): no IP traffic")
        if analysis.largestIPPacket > 9001 {
            // Segmentation of offload super-frames is tested separately.
            try Test.cancel("\(c.fixture) has IP packets above 9001 bytes")
        }
        if c.amazonDNS { try #require(analysis.dnsServer != nil, "\(c.fixture): no DNS server found") }

        let directory = try TemporaryDirectory("fixture")
        defer { directory.remove() }
        let receiver = try UDPReceiver()
        defer { receiver.stop() }
        let config = Self.sessions(for: analysis, slot: c.slot, amazonDNS: c.amazonDNS, endpoint: receiver.endpoint)
        let sessionsURL = try directory.write("sessions.json", config.json)
        let ports = SourcePorts.range(c.slot)

        let run = try VPCMirror.replay(
            sessions: sessionsURL, files: [Fixtures.path(c.fixture)], sourcePorts: ports, statsDirectory: directory.url)
        let received = receiver.collect()
        try #require(run.exitStatus == 0, "vpcmirror replay exited \(run.exitStatus): \(run.standardError)")
        let stats = try #require(run.stats, "no --stats-json written")

        let model = ReferenceModel(config)
        let expected = model.expect(records)

        // VNIs: explicit ones as written, the derived one as documented (FNV-1a-32, 24 bits, +1 past taken ones).
        #expect(stats.vniBySession == model.vniBySession)
        let explicit = config.sessions.first { $0.number == 10 }!.vni!
        let derived = config.sessions.first { $0.number == 20 }!
        if explicit == ReferenceModel.fnv1a24(derived.id) {
            #expect(stats.vniBySession[derived.id] == (explicit + 1) & 0xFF_FFFF, "the derived VNI steps past the explicit one")
        }

        // Frame accounting.
        ReplayChecks.expectCounters(stats, expected, records: records.count)
        for s in stats.sessions {
            #expect(s.droppedQueueFull == 0 && s.droppedSendError == 0, "session \(s.id): dropped")
        }
        #expect(stats.sendErrors.isEmpty)
        #expect(stats.sentTotal == received.count, "sent \(stats.sentTotal), received \(received.count)")

        // The bytes.
        #expect(!expected.datagrams.isEmpty, "\(c.fixture): the sessions mirror nothing, the test proves little")
        ReplayChecks.expectSameDatagrams(
            received: received.map(\.payload), expected: expected.datagrams.map(\.payload), c.fixture)
        ReplayChecks.expectFlowOrder(received: received, expected: expected.datagrams.map(\.payload), c.fixture)
        // Both directions of every flow share one outer source port; a fragmented datagram goes with its flow.
        let bothWays = ReplayChecks.expectOnePortPerFlow(
            received, expectedInCaptureOrder: expected.datagrams.map(\.payload), range: ports, c.fixture)
        let perSession = config.sessions.map { "\($0.number): \(expected.mirrored[$0.id, default: 0])" }
        print("\(c.fixture): \(records.count) frames, \(received.count) datagrams (by session number \(perSession.joined(separator: ", "))), \(bothWays) flows seen both ways; \(expected.frames)")
    }
}

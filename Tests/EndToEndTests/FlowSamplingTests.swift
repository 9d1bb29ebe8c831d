// vpcmirror end-to-end: flow sampling (issue 2, "must show" 4) and targets with several endpoints,
// on a capture of many small TCP connections written by the test.
import Foundation
import MirrorTestSupport
import MirrorWire
import Testing

/// A capture of `count` TCP connections from distinct (client address, port) to 10.9.0.1:80: SYN, SYN-ACK,
/// request, response, FIN, FIN (3 frames each way), interleaved: step k of every connection before step k + 1.
enum ManyConnections {
    static let server = "10.9.0.1"

    static func client(_ i: Int) -> (address: String, port: UInt16) {
        ("10.\(10 + i / 60_000).\(i / 250 % 240).\(i % 250 + 1)", UInt16(33_000 + i % 7_000))
    }

    static func write(count: Int, to url: URL) throws -> [PcapRecord] {
        let builder = PacketBuilder()
        let server = IPAddress(Self.server)!
        var writer = PcapWriter()
        var records: [PcapRecord] = []
        records.reserveCapacity(count * 6)
        let request = Array("GET / HTTP/1.1\r\nHost: e2e\r\n\r\n".utf8)
        let response = Array("HTTP/1.1 204 No Content\r\n\r\n".utf8)
        for step in 0..<6 {
            for i in 0..<count {
                let (text, port) = Self.client(i)
                let client = IPAddress(text)!
                let c = UInt32(1_000 + i)
                let s = UInt32(500_000 + i)
                let frame: [UInt8]
                switch step {
                case 0:
                    frame = builder.tcp(source: client, sourcePort: port, destination: server, destinationPort: 80,
                                        flags: .syn, sequenceNumber: c)
                case 1:
                    frame = builder.tcp(source: server, sourcePort: 80, destination: client, destinationPort: port,
                                        flags: [.syn, .ack], sequenceNumber: s, acknowledgmentNumber: c + 1)
                case 2:
                    frame = builder.tcp(source: client, sourcePort: port, destination: server, destinationPort: 80,
                                        flags: [.psh, .ack], sequenceNumber: c + 1, acknowledgmentNumber: s + 1,
                                        payload: request)
                case 3:
                    frame = builder.tcp(source: server, sourcePort: 80, destination: client, destinationPort: port,
                                        flags: [.psh, .ack], sequenceNumber: s + 1,
                                        acknowledgmentNumber: c + 1 + UInt32(request.count), payload: response)
                case 4:
                    frame = builder.tcp(source: client, sourcePort: port, destination: server, destinationPort: 80,
                                        flags: [.fin, .ack], sequenceNumber: c + 1 + UInt32(request.count),
                                        acknowledgmentNumber: s + 1 + UInt32(response.count))
                default:
                    frame = builder.tcp(source: server, sourcePort: 80, destination: client, destinationPort: port,
                                        flags: [.fin, .ack], sequenceNumber: s + 1 + UInt32(response.count),
                                        acknowledgmentNumber: c + 2 + UInt32(request.count))
                }
                let record = PcapRecord(timestampNanoseconds: 1_700_000_000_000_000_000 + Int64(records.count) * 1_000, bytes: frame)
                writer.append(record)
                records.append(record)
            }
        }
        try writer.write(to: url)
        return records
    }

    /// The server as an interface (by IP: no MAC), one session with an accept-all filter.
    static func sessions(endpoints: [String], samplingPercent: Double?, seed: UInt64?) -> SessionsConfig {
        var config = SessionsConfig()
        config.interfaces = [.init(id: "eni-0e2eserver00000001", mac: nil, addresses: [Self.server])]
        config.filters = [
            .init(id: "tmf-0e2eall0000000001", ingress: SessionsConfig.acceptAll(from: 100), egress: SessionsConfig.acceptAll(from: 100))
        ]
        config.targets = [.init(id: "tmt-0e2efleet00000001", endpoints: endpoints)]
        config.sessions = [
            .init(id: "tms-0e2esampled0000001", interface: "eni-0e2eserver00000001", target: "tmt-0e2efleet00000001",
                  filter: "tmf-0e2eall0000000001", number: 1, vni: 99, samplingPercent: samplingPercent)
        ]
        config.samplingSeed = seed
        return config
    }
}

@Suite("flow sampling and several endpoints")
struct FlowSamplingTests {
    static let connectionCount = 2_000

    /// One replay of `capture`; returns the datagrams per receiver and the stats.
    static func replay(
        _ config: SessionsConfig, capture: URL, receivers: [UDPReceiver], slot: Int, directory: TemporaryDirectory,
        name: String
    ) throws -> ([[ReceivedDatagram]], ReplayStats) {
        let sessionsURL = try directory.write("\(name).json", config.json)
        let run = try VPCMirror.replay(
            sessions: sessionsURL, files: [capture.path], sourcePorts: SourcePorts.range(slot),
            statsDirectory: directory.url)
        let received = receivers.map { $0.collect() }
        try #require(run.exitStatus == 0, "vpcmirror replay exited \(run.exitStatus): \(run.standardError)")
        let stats = try #require(run.stats)
        #expect(stats.balanced)
        #expect(stats.sentTotal == received.reduce(0) { $0 + $1.count })
        return (received, stats)
    }

    /// Frames per flow (both directions together).
    static func flows(_ datagrams: [ReceivedDatagram]) -> [InnerFlowKey: Int] {
        var flows: [InnerFlowKey: Int] = [:]
        for d in datagrams {
            if let key = InnerFlowKey(vxlanPayload: d.payload) { flows[key, default: 0] += 1 }
        }
        return flows
    }

    /// Samples ~10% of the flows, keeps each sampled flow whole, picks the same flows on a second run and
    /// other flows with another SamplingSeed; and picks exactly the flows the documented flow hash picks.
    @Test("SamplingPercent 10 keeps 10% ± 3 of 2,000 flows, whole, the same on every run")
    func samplingKeepsWholeFlowsDeterministically() throws {
        let directory = try TemporaryDirectory("sampling")
        defer { directory.remove() }
        let capture = directory.file("connections.pcap")
        let records = try ManyConnections.write(count: Self.connectionCount, to: capture)

        var flowSets: [Set<InnerFlowKey>] = []
        for (run, seed) in [(0, UInt64?.none), (1, nil), (2, 0x5EED_0F_E2E)] {
            let receiver = try UDPReceiver()
            defer { receiver.stop() }
            let config = ManyConnections.sessions(endpoints: [receiver.endpoint], samplingPercent: 10, seed: seed)
            let (received, stats) = try Self.replay(
                config, capture: capture, receivers: [receiver], slot: 21, directory: directory, name: "run\(run)")
            let datagrams = received[0]
            let flows = Self.flows(datagrams)
            let label = "run \(run) (SamplingSeed \(seed.map(String.init) ?? "absent"))"
            #expect((140...260).contains(flows.count), "\(label): \(flows.count) flows of \(Self.connectionCount) kept")
            let split = flows.filter { $0.value != 6 }
            #expect(split.isEmpty, "\(label): \(split.count) flows arrived incomplete, e.g. \(split.first.map { "\($0.key): \($0.value) frames" } ?? "")")
            #expect(flows.count * 6 == datagrams.count, "\(label): datagrams that belong to no TCP flow")
            #expect(stats.sessions[0].sampledOut + stats.sessions[0].mirrored == records.count)
            ReplayChecks.expectOnePortPerFlow(datagrams, range: SourcePorts.range(21), label)
            // The documented hash ("vpcmirror flow hash v1") reproduced in the test picks the same flows, byte for byte.
            let expected = ReferenceModel(config).expect(records)
            ReplayChecks.expectSameDatagrams(
                received: datagrams.map(\.payload), expected: expected.datagrams.map(\.payload), label)
            ReplayChecks.expectFlowOrder(received: datagrams, expected: expected.datagrams.map(\.payload), label)
            flowSets.append(Set(flows.keys))
            print("sampling \(label): \(flows.count) flows of \(Self.connectionCount), \(datagrams.count) datagrams")
        }
        #expect(flowSets[0] == flowSets[1], "a second run sampled other flows")
        #expect(flowSets[0] != flowSets[2], "another SamplingSeed sampled the same flows")
        #expect(flowSets[0].intersection(flowSets[2]).count < flowSets[0].count / 2, "the seeds' flow sets overlap too much")
    }

    /// Three endpoints in one target: each flow goes whole to one of them, and each gets some flows.
    @Test("a target with 3 endpoints: every flow lands whole on one receiver, all three get flows")
    func endpointsShareFlows() throws {
        let directory = try TemporaryDirectory("endpoints")
        defer { directory.remove() }
        let capture = directory.file("connections.pcap")
        let records = try ManyConnections.write(count: 300, to: capture)
        let receivers = try (0..<3).map { _ in try UDPReceiver() }
        defer { for r in receivers { r.stop() } }
        let config = ManyConnections.sessions(endpoints: receivers.map(\.endpoint), samplingPercent: nil, seed: nil)
        let (received, _) = try Self.replay(
            config, capture: capture, receivers: receivers, slot: 23, directory: directory, name: "fleet")

        let expected = ReferenceModel(config).expect(records)
        #expect(expected.datagrams.count == 1_800)
        ReplayChecks.expectSameDatagrams(
            received: received.flatMap { $0 }.map(\.payload), expected: expected.datagrams.map(\.payload), "3 endpoints")
        for (i, datagrams) in received.enumerated() {
            // Per receiver: the expected datagrams of the flows it got, in capture order.
            let flows = Set(datagrams.compactMap { InnerFlowKey(vxlanPayload: $0.payload) })
            let mine = expected.datagrams.map(\.payload).filter { InnerFlowKey(vxlanPayload: $0).map(flows.contains) ?? false }
            ReplayChecks.expectFlowOrder(received: datagrams, expected: mine, "receiver \(i)")
        }
        var receiverOf: [InnerFlowKey: Set<Int>] = [:]
        var framesOf: [InnerFlowKey: Int] = [:]
        for (index, datagrams) in received.enumerated() {
            for d in datagrams {
                guard let key = InnerFlowKey(vxlanPayload: d.payload) else { continue }
                receiverOf[key, default: []].insert(index)
                framesOf[key, default: 0] += 1
            }
        }
        #expect(receiverOf.count == 300)
        let spread = receiverOf.filter { $0.value.count > 1 }
        #expect(spread.isEmpty, "\(spread.count) flows reached more than one receiver, e.g. \(spread.first.map { "\($0.key) → \($0.value.sorted())" } ?? "")")
        #expect(framesOf.values.allSatisfy { $0 == 6 })
        let flowsPerReceiver = (0..<3).map { i in receiverOf.values.filter { $0 == [i] }.count }
        #expect(flowsPerReceiver.allSatisfy { $0 > 0 }, "flows per receiver: \(flowsPerReceiver)")
        ReplayChecks.expectOnePortPerFlow(received.flatMap { $0 }, range: SourcePorts.range(23), "3 endpoints")
        print("3 endpoints: flows per receiver \(flowsPerReceiver), datagrams \(received.map(\.count))")
    }
}

// vpcmirror end-to-end: a merged pcapng whose interfaces differ, which libpcap 1.10 refuses, replays whole.
import Foundation
import MirrorTestSupport
import MirrorWire
import Testing

@Suite("a merged pcapng that libpcap refuses replays whole")
struct MergedPcapngTests {
    static let slot = 41
    static let fixture = "ldap-126-interfaces.pcapng"

    /// 126 interfaces with several snapshot lengths and link types: libpcap stops at the second one, and the
    /// capture reader falls back to the pure-Swift codec for the whole file.
    @Test("replay reads all 17 frames, exits 0, and mirrors what the reference model expects")
    func replayMergedCapture() throws {
        let records = try PcapFile(path: Fixtures.path(Self.fixture)).records
        try #require(records.count == 17)
        let analysis = FixtureAnalysis(records: records)
        try #require(!analysis.busiestHost.isEmpty, "\(Self.fixture): no IP traffic")

        let directory = try TemporaryDirectory("merged")
        defer { directory.remove() }
        let receiver = try UDPReceiver()
        defer { receiver.stop() }
        let config = ReplayFixtureTests.sessions(
            for: analysis, slot: Self.slot, amazonDNS: false, endpoint: receiver.endpoint)
        let sessionsURL = try directory.write("sessions.json", config.json)
        let run = try VPCMirror.replay(
            sessions: sessionsURL, files: [Fixtures.path(Self.fixture)], sourcePorts: SourcePorts.range(Self.slot),
            statsDirectory: directory.url)
        let received = receiver.collect()

        #expect(run.exitStatus == 0, "stderr: \(run.standardError)")
        #expect(run.standardOutput.contains("frames: read 17 ="), "stdout: \(run.standardOutput)")
        let stats = try #require(run.stats, "no --stats-json written")
        #expect(stats.framesRead == 17)
        #expect(stats.malformed == 0)
        let expected = ReferenceModel(config).expect(records)
        ReplayChecks.expectCounters(stats, expected, records: records.count)
        #expect(!expected.datagrams.isEmpty, "the sessions mirror nothing, the test proves little")
        #expect(stats.sentTotal == received.count)
        ReplayChecks.expectSameDatagrams(
            received: received.map(\.payload), expected: expected.datagrams.map(\.payload), Self.fixture)
    }

    /// Frames of a real capture spread over Ethernet, raw-IP and USER0 interfaces: every frame is read, each
    /// decoded by its own link type, and the USER0 ones (which we cannot decode) are counted as malformed.
    @Test("frames on interfaces of three link types are each decoded by their own, and the counters add up")
    func replayMixedLinkTypes() throws {
        let source = try PcapFile(path: Fixtures.path("http11-get-simple.pcap")).records
        var packets: [(interface: UInt32, record: PcapRecord)] = []
        for (k, record) in source.enumerated() {
            let etherType = UInt16(record.bytes[12]) << 8 | UInt16(record.bytes[13])
            switch k % 3 {
            case 1 where etherType == 0x0800 || etherType == 0x86DD:
                var raw = record
                raw.bytes.removeFirst(14)
                raw.originalLength -= 14
                raw.linkType = .raw
                packets.append((1, raw))
            case 2:
                var user0 = record
                user0.linkType = LinkType(rawValue: 147)
                packets.append((2, user0))
            default:
                packets.append((0, record))
            }
        }
        let records = packets.map(\.record)
        let user0Count = packets.filter { $0.interface == 2 }.count
        try #require(user0Count > 0 && packets.contains { $0.interface == 1 })

        let directory = try TemporaryDirectory("mixed")
        defer { directory.remove() }
        let capture = try directory.write("mixed.pcapng", "")
        try Data(Self.pcapng(linkTypes: [1, 101, 147], packets: packets)).write(to: capture)
        try #require(try PcapFile(path: capture.path).records == records.enumerated().map { k, r in
            var r = r
            r.interfaceIndex = Int(packets[k].interface)
            return r
        })
        let receiver = try UDPReceiver()
        defer { receiver.stop() }
        let analysis = FixtureAnalysis(records: records)
        let config = ReplayFixtureTests.sessions(
            for: analysis, slot: Self.slot + 1, amazonDNS: false, endpoint: receiver.endpoint)
        let sessionsURL = try directory.write("sessions.json", config.json)
        let run = try VPCMirror.replay(
            sessions: sessionsURL, files: [capture.path], sourcePorts: SourcePorts.range(Self.slot + 1),
            statsDirectory: directory.url)
        let received = receiver.collect()

        #expect(run.exitStatus == 0, "stderr: \(run.standardError)")
        let stats = try #require(run.stats, "no --stats-json written")
        #expect(stats.framesRead == records.count)
        #expect(stats.malformed == user0Count)
        let expected = ReferenceModel(config).expect(records)
        ReplayChecks.expectCounters(stats, expected, records: records.count)
        #expect(!expected.datagrams.isEmpty, "the sessions mirror nothing, the test proves little")
        ReplayChecks.expectSameDatagrams(
            received: received.map(\.payload), expected: expected.datagrams.map(\.payload), "mixed link types")
    }

    /// A little-endian pcapng: one section, one interface per link type (snapshot length 262144, µs), then an
    /// Enhanced Packet Block per packet.
    static func pcapng(linkTypes: [UInt16], packets: [(interface: UInt32, record: PcapRecord)]) -> [UInt8] {
        func u16(_ value: UInt16) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
        func u32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
        func block(_ type: UInt32, _ body: [UInt8]) -> [UInt8] {
            let padded = body + [UInt8](repeating: 0, count: (4 - body.count % 4) % 4)
            let total = UInt32(12 + padded.count)
            return u32(type) + u32(total) + padded + u32(total)
        }
        var bytes = block(0x0A0D_0D0A, u32(0x1A2B_3C4D) + u16(1) + u16(0) + [UInt8](repeating: 0xFF, count: 8))
        for linkType in linkTypes {
            bytes += block(1, u16(linkType) + u16(0) + u32(262_144))
        }
        for (interface, record) in packets {
            let ticks = UInt64(record.timestampNanoseconds / 1_000)
            bytes += block(
                6,
                u32(interface) + u32(UInt32(ticks >> 32)) + u32(UInt32(ticks & 0xFFFF_FFFF))
                    + u32(UInt32(record.bytes.count)) + u32(UInt32(record.originalLength)) + record.bytes)
        }
        return bytes
    }
}

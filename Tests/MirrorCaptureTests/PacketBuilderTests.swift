// vpcmirror: PacketBuilder rebuilds real frames byte for byte, and tshark finds its checksums good.
import Foundation
import MirrorTestSupport
import MirrorWire
import Testing

@Suite struct PacketBuilderTests {
    static func frame(_ index: Int, of fixture: String) throws -> [UInt8] {
        try PcapFile(path: Fixtures.path(fixture)).records[index].bytes
    }

    static func hex(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            bytes.append(UInt8(text[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }

    // MARK: - Real frames, rebuilt

    @Test("a TCP SYN over IPv4 with options")
    func ipv4SYN() throws {
        var builder = PacketBuilder(sourceMAC: MACAddress("c8:bc:c8:96:d2:a0")!, destinationMAC: MACAddress("00:10:db:88:d2:ef")!)
        builder.identification = 0xDF8E
        builder.dontFragment = true
        let frame = builder.tcp(
            source: IPAddress("141.142.228.5")!, sourcePort: 59_856,
            destination: IPAddress("192.150.187.43")!, destinationPort: 80,
            flags: .syn, sequenceNumber: 4_263_588_410, window: 65_535,
            options: Self.hex("020405b4010303040101080a164add200000000004020000")
        )
        #expect(frame == (try Self.frame(0, of: "http11-get-simple.pcap")))
    }

    @Test("a UDP datagram over IPv4 (mDNS)")
    func ipv4UDP() throws {
        let original = try Self.frame(2, of: "http-keepalive-browser-wikipedia.pcap")
        var builder = PacketBuilder(sourceMAC: MACAddress("00:17:f2:d7:cf:65")!, destinationMAC: MACAddress("01:00:5e:00:00:fb")!)
        builder.identification = 0x7575
        builder.timeToLive = 255
        let frame = builder.udp(
            source: IPAddress("141.142.220.50")!, sourcePort: 5353,
            destination: IPAddress("224.0.0.251")!, destinationPort: 5353,
            payload: Array(original[42...])
        )
        #expect(frame == original)
    }

    @Test("a TCP SYN over IPv6 with a flow label")
    func ipv6SYN() throws {
        var builder = PacketBuilder(sourceMAC: MACAddress("ac:1f:6b:ac:27:da")!, destinationMAC: MACAddress("94:3f:c2:d3:52:bd")!)
        builder.flowLabel = 0x04200
        let frame = builder.tcp(
            source: IPAddress("2001:4958:15a0:24:c1b3:b766:7fff:d0b3")!, sourcePort: 43_250,
            destination: IPAddress("2606:4700::6812:69c")!, destinationPort: 80,
            flags: .syn, sequenceNumber: 1_847_659_767, window: 64_800,
            options: Self.hex("020405a00402080aac2691d40000000001030307")
        )
        #expect(frame == (try Self.frame(28, of: "mixed-http-dns-icmp-mpls-ipv6.pcap")))
    }

    @Test("a TCP SYN in an 802.1Q tag")
    func vlanSYN() throws {
        var builder = PacketBuilder(
            sourceMAC: MACAddress("00:0c:29:93:57:1e")!, destinationMAC: MACAddress("00:16:47:9d:f2:c2")!,
            vlanTags: [.init(vlanID: 120)]
        )
        builder.identification = 0xD86E
        builder.dontFragment = true
        let frame = builder.tcp(
            source: IPAddress("192.168.202.94")!, sourcePort: 52_356,
            destination: IPAddress("192.168.28.253")!, destinationPort: 8000,
            flags: .syn, sequenceNumber: 1_557_537_277, window: 14_600,
            options: Self.hex("020405b40402080a0185f9930000000001030306")
        )
        #expect(frame == (try Self.frame(0, of: "http-vlan120-keepalive-11req.pcap")))
    }

    @Test("an ICMP echo request (the IP packet inside an MPLS frame)")
    func icmpEcho() throws {
        let original = try Self.frame(123, of: "mixed-http-dns-icmp-mpls-ipv6.pcap")
        var builder = PacketBuilder()
        builder.identification = 0x0019
        builder.timeToLive = 254
        let source = IPAddress("192.168.10.1")!
        let destination = IPAddress("192.168.40.1")!
        let message = PacketBuilder.icmpMessage(
            source: source, destination: destination, type: 8, restOfHeader: 0x0005_0000,
            payload: Array(original.suffix(72))
        )
        let packet = builder.ipPacket(source: source, destination: destination, protocol: .icmp, payload: message)
        #expect(packet == Array(original.suffix(100)))
    }

    @Test("IPv6 fragments of a DNS response", arguments: [(5, 0, true), (6, 1432, true), (7, 2864, false)])
    func ipv6Fragment(index: Int, byteOffset: Int, moreFragments: Bool) throws {
        let original = try Self.frame(index, of: "dns-ipv6-fragmented.pcap")
        var builder = PacketBuilder(sourceMAC: MACAddress("d8:30:62:48:c5:b5")!, destinationMAC: MACAddress("c4:2c:03:3b:6c:aa")!)
        builder.timeToLive = 53
        builder.ipv6ExtensionHeaders = [.fragment(byteOffset: byteOffset, moreFragments: moreFragments, identification: 2)]
        let frame = builder.ip(
            source: IPAddress("2607:f740:b::f93")!, destination: IPAddress("2001:470:1f11:81f:d138:5f55:6d4:1fe2")!,
            protocol: .udp, payload: Array(original[62...])
        )
        #expect(frame == original)
    }

    // MARK: - Structure without tshark

    @Test("checksums verify, lengths add up, extension headers pad to 8 bytes")
    func structure() {
        var builder = PacketBuilder(vlanTags: [.init(vlanID: 10, tagProtocol: .qinq), .init(vlanID: 20, priority: 5, dropEligible: true)])
        builder.ipv4Options = [0x94, 0x04, 0x00]  // router alert, padded to 4
        let v4 = builder.tcp(
            source: IPAddress("10.1.2.3")!, sourcePort: 1234, destination: IPAddress("10.3.2.1")!, destinationPort: 80,
            flags: [.psh, .ack], payload: Array("GET / HTTP/1.1\r\n\r\n".utf8)  // odd length
        )
        #expect(Array(v4[12..<22]) == [0x88, 0xA8, 0x00, 0x0A, 0x81, 0x00, 0xB0, 0x14, 0x08, 0x00])
        let ip = Array(v4[22...])
        #expect(ip[0] == 0x46)  // IHL 6: one word of options
        #expect(Int(ip[2]) << 8 | Int(ip[3]) == ip.count)
        #expect(PacketBuilder.internetChecksum(Array(ip[..<24])) == 0)
        let segment = Array(ip[24...])
        #expect(PacketBuilder.transportChecksum(segment, source: IPAddress("10.1.2.3")!, destination: IPAddress("10.3.2.1")!, protocol: .tcp) == 0)

        builder.vlanTags = []
        builder.ipv6ExtensionHeaders = [.hopByHop(options: [5, 2, 0, 0]), .destinationOptions()]
        let source = IPAddress("2001:db8::1")!
        let destination = IPAddress("2001:db8::2")!
        let v6 = builder.udp(source: source, sourcePort: 53, destination: destination, destinationPort: 5353, payload: [1, 2, 3])
        let extensions = Array(v6[54..<70])
        #expect(v6[20] == IPProtocol.hopByHop.rawValue)
        #expect(extensions == [60, 0, 5, 2, 0, 0, 1, 0, 17, 0, 1, 4, 0, 0, 0, 0])
        #expect(Int(v6[18]) << 8 | Int(v6[19]) == 16 + 8 + 3)
        #expect(PacketBuilder.transportChecksum(Array(v6[70...]), source: source, destination: destination, protocol: .udp) == 0)
    }

    @Test("fragments cut on 8-byte boundaries and cover the payload once", arguments: ["192.0.2.1", "2001:db8::1"])
    func fragments(address: String) {
        let source = IPAddress(address)!
        let destination = IPAddress(address.contains(":") ? "2001:db8::2" : "192.0.2.2")!
        let datagram = PacketBuilder.udpDatagram(source: source, sourcePort: 1, destination: destination, destinationPort: 2, payload: Array(repeating: 7, count: 2_500))
        let frames = PacketBuilder().fragments(source: source, destination: destination, protocol: .udp, payload: datagram, fragmentByteCount: 1_001, identification: 0x1234)
        #expect(frames.count == 3)  // 1000 + 1000 + 508
        let headerBytes = 14 + (source.isIPv4 ? 20 : 48)
        #expect(frames.map { $0.count - headerBytes } == [1_000, 1_000, 508])
        #expect(frames.flatMap { $0[headerBytes...] } == datagram)
    }

    // MARK: - tshark's verdict

    @Test(
        "tshark decodes every kind of frame and finds every checksum good",
        .tags(.tools),
        .enabled(if: ToolRunner.shouldRunTests(needing: "tshark"), "tshark is not installed (VPCMIRROR_REQUIRE_TOOLS=1 fails instead)")
    )
    func tsharkChecksums() throws {
        guard tsharkIsAvailable() else { return }
        let v4a = IPAddress("198.51.100.7")!
        let v4b = IPAddress("203.0.113.9")!
        let v6a = IPAddress("2001:db8:1::7")!
        let v6b = IPAddress("2001:db8:2::9")!
        let payload = Array("POST /x HTTP/1.1\r\nContent-Length: 1\r\n\r\nz".utf8)
        var tagged = PacketBuilder(vlanTags: [.init(vlanID: 300)])
        tagged.ipv4Options = [0x94, 0x04, 0x00, 0x00]
        var extended = PacketBuilder()
        extended.ipv6ExtensionHeaders = [.hopByHop(options: [5, 2, 0, 0]), .destinationOptions(options: [1, 1, 0])]
        extended.trafficClass = 0xB8
        extended.flowLabel = 0xABCDE

        // (frame, the checksum fields tshark must call good)
        var frames: [([UInt8], [String])] = [
            (tagged.tcp(source: v4a, sourcePort: 40_001, destination: v4b, destinationPort: 80, flags: [.psh, .ack], sequenceNumber: 1, acknowledgmentNumber: 2, payload: payload), ["ip", "tcp"]),
            // Ports with no dissector, so one payload byte is not a malformed DNS message.
            (PacketBuilder().udp(source: v4a, sourcePort: 40_123, destination: v4b, destinationPort: 40_124, payload: [0xAB]), ["ip", "udp"]),
            (PacketBuilder().icmp(source: v4a, destination: v4b, type: 8, restOfHeader: 0x0001_0002, payload: Array(0..<33)), ["ip", "icmp"]),
            (extended.tcp(source: v6a, sourcePort: 443, destination: v6b, destinationPort: 50_000, flags: [.syn, .ack, .ece], options: [2, 4, 5, 0xB4]), ["tcp"]),
            (extended.udp(source: v6a, sourcePort: 1, destination: v6b, destinationPort: 2, payload: Array(repeating: 0xFF, count: 9)), ["udp"]),
            (PacketBuilder().icmp(source: v6a, destination: v6b, type: 128, restOfHeader: 7, payload: [1, 2, 3]), ["icmpv6"]),
        ]
        // A UDP datagram in three fragments, over IPv4 and over IPv6: tshark reassembles it and checks UDP.
        for (source, destination) in [(v4a, v4b), (v6a, v6b)] {
            let datagram = PacketBuilder.udpDatagram(source: source, sourcePort: 7, destination: destination, destinationPort: 9, payload: Array(repeating: 0x41, count: 2_100))
            let pieces = PacketBuilder().fragments(source: source, destination: destination, protocol: .udp, payload: datagram, fragmentByteCount: 800, identification: 77)
            for (index, piece) in pieces.enumerated() {
                frames.append((piece, source.isIPv4 ? ["ip"] + (index == pieces.count - 1 ? ["udp"] : []) : (index == pieces.count - 1 ? ["udp"] : [])))
            }
        }

        let directory = try TemporaryDirectory()
        var writer = PcapWriter()
        for (index, frame) in frames.enumerated() { writer.append(frame.0, timestampNanoseconds: Int64(index) * 1_000_000) }
        let path = try directory.write(writer.bytes, named: "built.pcap")
        let fields = ["ip", "tcp", "udp", "icmp", "icmpv6"].map { "\($0).checksum.status" } + ["_ws.malformed", "_ws.expert.severity"]
        let rows = try Tshark.fields(
            file: path,
            fields: fields,
            extraArgs: ["-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"]
        )
        #expect(rows.count == frames.count)
        for (index, (row, expected)) in zip(rows, frames.map(\.1)).enumerated() {
            let status = Dictionary(uniqueKeysWithValues: zip(["ip", "tcp", "udp", "icmp", "icmpv6"], row.prefix(5)))
            for layer in expected {
                // 1 is PROTO_CHECKSUM_E_GOOD.
                #expect(status[layer] == "1", "frame \(index + 1): \(layer) checksum status \(status[layer] ?? "absent")")
            }
            #expect(row.count > 5 && row[5].isEmpty, "frame \(index + 1) is malformed to tshark")
        }

        let decoded = try Tshark.fields(file: path, fields: ["vlan.id", "ip.opt.type", "ipv6.flow", "ipv6.tclass", "ipv6.dstopts.nxt", "tcp.flags.ece"])
        #expect(decoded[0][0] == "300")
        #expect(decoded[0][1].isEmpty == false)
        #expect(decoded[3][2] == "0x0abcde")
        #expect(decoded[3][3] == "0x000000b8")
        #expect(decoded[3][4] == "6")
        #expect(decoded[3][5] == "1")
    }
}

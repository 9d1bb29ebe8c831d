// vpcmirror: the frame decoder against tshark on every fixture, and at every truncation length.
import Foundation
import MirrorTestSupport
import MirrorWire
import Testing

let requireTools = ProcessInfo.processInfo.environment["VPCMIRROR_REQUIRE_TOOLS"] == "1"

func decode(_ bytes: [UInt8], _ linkType: LinkType) throws(WireError) -> PacketSummary {
    var result: Result<PacketSummary, WireError> = .failure(.truncated(.link, at: 0, needed: 0, available: 0))
    bytes.withUnsafeBytes { raw in
        do throws(WireError) { result = .success(try PacketSummary(decoding: raw, linkType: linkType)) } catch { result = .failure(error) }
    }
    return try result.get()
}

@Suite struct PacketSummaryTests {
    /// Per frame, the addresses, protocol and ports we decode equal tshark's first (outermost) values.
    @Test(arguments: Fixtures.all)
    func agreesWithTshark(fixture: String) throws {
        guard Tshark.path != nil else {
            if requireTools { Issue.record("tshark is required (VPCMIRROR_REQUIRE_TOOLS=1)") }
            return
        }
        let path = Fixtures.path(fixture)
        let file = try PcapFile(path: path)
        let rows = try Tshark.fields(
            file: path,
            fields: ["frame.protocols", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport",
                     "udp.srcport", "udp.dstport", "vlan.id", "ip.proto"],
            extraArgs: ["-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE"])
        #expect(rows.count == file.records.count)
        var compared = 0
        for (i, record) in file.records.enumerated() where i < rows.count {
            let row = rows[i]
            let protocols = row[0]
            // Stacks we do not decode as IP (AWS has no MPLS or PPP on an ENI): non-IP to us.
            if protocols.contains("mpls") || protocols.contains("ppp") { continue }
            let first = { (s: String) in s.split(separator: ",").first.map(String.init) ?? "" }
            let summary: PacketSummary
            do {
                summary = try decode(record.bytes, record.linkType)
            } catch {
                Issue.record("\(fixture) frame \(i + 1): \(error) (tshark: \(protocols))")
                continue
            }
            let v4 = first(row[1])
            let v6 = first(row[3])
            if !v4.isEmpty && (v6.isEmpty || protocols.range(of: ":ip:")!.lowerBound < (protocols.range(of: ":ipv6")?.lowerBound ?? protocols.endIndex)) {
                #expect(summary.ipVersion == 4, "\(fixture) frame \(i + 1)")
                #expect(summary.source.description == v4 && summary.destination.description == first(row[2]), "\(fixture) frame \(i + 1)")
            } else if !v6.isEmpty {
                #expect(summary.ipVersion == 6, "\(fixture) frame \(i + 1)")
                #expect(summary.source == IPAddress(v6) && summary.destination == IPAddress(first(row[4])), "\(fixture) frame \(i + 1)")
            } else {
                #expect(summary.ipVersion == 0, "\(fixture) frame \(i + 1): \(protocols)")
                continue
            }
            // Ports of the outermost transport header (tunnels such as VXLAN carry inner ones after it).
            let positions = [":tcp", ":udp", ":icmp"].compactMap { protocols.range(of: $0)?.lowerBound }
            let outermost = positions.min()
            let tcpFirst = protocols.range(of: ":tcp")?.lowerBound
            let udpFirst = protocols.range(of: ":udp")?.lowerBound
            if outermost != nil && outermost != tcpFirst && outermost != udpFirst {
                // ICMP first: the ports tshark shows belong to the packet quoted inside the ICMP error.
                compared += 1
                continue
            }
            if let t = tcpFirst, udpFirst == nil || t < udpFirst!, summary.fragment != .later, !first(row[5]).isEmpty {
                #expect(summary.transportProtocol == .tcp && summary.sourcePort == UInt16(first(row[5])) && summary.destinationPort == UInt16(first(row[6])),
                        "\(fixture) frame \(i + 1)")
            } else if udpFirst != nil, summary.fragment != .later, !first(row[7]).isEmpty {
                #expect(summary.transportProtocol == .udp && summary.sourcePort == UInt16(first(row[7])) && summary.destinationPort == UInt16(first(row[8])),
                        "\(fixture) frame \(i + 1)")
            }
            if !row[9].isEmpty {
                #expect(summary.vlanCount > 0 && summary.outerVLAN == UInt16(first(row[9])), "\(fixture) frame \(i + 1)")
            }
            compared += 1
        }
        #expect(compared > 0 || fixture.contains("overlap") == false)
    }

    static let builder = PacketBuilder(
        sourceMAC: MACAddress("02:00:00:00:00:01")!, destinationMAC: MACAddress("02:00:00:00:00:02")!,
        vlanTags: [.init(vlanID: 120)])

    /// Every prefix of a tagged TCP/IPv4 frame either decodes or throws `truncated` naming the right layer.
    @Test func everyTruncationOfATaggedTCPFrame() throws {
        let frame = Self.builder.tcp(
            source: IPAddress("10.0.0.1")!, sourcePort: 1234, destination: IPAddress("10.0.0.2")!, destinationPort: 80,
            payload: Array("GET / HTTP/1.1\r\n\r\n".utf8))
        let full = try decode(frame, .ethernet)
        #expect(full.vlanCount == 1 && full.outerVLAN == 120 && full.sourcePort == 1234 && full.destinationPort == 80)
        for length in 0..<frame.count {
            let prefix = Array(frame[..<length])
            let expectedLayer: WireError.Layer? =
                length < 14 ? .ethernet : length < 18 ? .vlan : length < 38 ? .ipv4 : length < 52 ? .tcp : nil
            do {
                let s = try decode(prefix, .ethernet)
                #expect(expectedLayer == nil, "length \(length) decoded")
                #expect(s.sourcePort == 1234 && s.capturedLength == length)
            } catch {
                #expect(error.code == .truncated && error.layer == expectedLayer, "length \(length): \(error)")
            }
        }
    }

    /// IPv6 with hop-by-hop and destination options before UDP: walked to the ports, at every length.
    @Test func everyTruncationOfAnIPv6FrameWithExtensionHeaders() throws {
        let raw: [UInt8] = [
            0x60, 0, 0, 0, 0, 32, 0, 64,  // version, payload length 32, next header hop-by-hop
        ] + PacketBuilder.bytes(of: IPAddress("2001:db8::1")!) + PacketBuilder.bytes(of: IPAddress("2001:db8::2")!)
            + [60, 0, 1, 4, 0, 0, 0, 0]  // hop-by-hop → destination options, PadN
            + [17, 0, 1, 4, 0, 0, 0, 0]  // destination options → UDP
            + [0x13, 0x88, 0x00, 0x35, 0, 16, 0, 0] + Array(repeating: 0xAB, count: 8)
        let s = try decode(raw, .raw)
        #expect(s.ipVersion == 6 && s.transportProtocol == .udp && s.sourcePort == 5000 && s.destinationPort == 53)
        #expect(s.transportOffset == 56 && s.ipHeaderLength == 56)
        for length in 0..<raw.count {
            do {
                let p = try decode(Array(raw[..<length]), .raw)
                #expect(length >= 64, "length \(length) decoded")
                #expect(p.destinationPort == 53)
            } catch {
                #expect(error.code == .truncated, "length \(length): \(error)")
            }
        }
    }

    @Test func laterFragmentsHaveNoPorts() throws {
        let b = PacketBuilder(sourceMAC: .zero, destinationMAC: .zero)
        let frags = b.fragments(
            source: IPAddress("10.0.0.1")!, destination: IPAddress("10.0.0.2")!, protocol: .udp,
            payload: PacketBuilder.udpDatagram(source: IPAddress("10.0.0.1")!, sourcePort: 7, destination: IPAddress("10.0.0.2")!, destinationPort: 9,
                                               payload: Array(repeating: 1, count: 3000)),
            fragmentByteCount: 1480, identification: 77)
        #expect(frags.count == 3)
        var first = try decode(frags[0], .ethernet)
        #expect(first.fragment == .first && first.hasPorts && first.destinationPort == 9 && first.fragmentIdentification == 77)
        let flowHash = FlowHash.hash(IPAddress("10.0.0.1")!, 7, IPAddress("10.0.0.2")!, 9, protocol: .udp, seed: 0)
        #expect(FlowHash.hash(first, seed: 0) == flowHash, "a first fragment hashes with its 5-tuple flow")
        var table = FragmentFlowTable()
        // Seen before its first fragment, a later fragment can only hash by the 3-tuple.
        var early = try decode(frags[2], .ethernet)
        table.resolve(&early)
        #expect(!early.hasFlowPorts && FlowHash.hash(early, seed: 0) != flowHash)
        table.resolve(&first)
        for f in frags.dropFirst() {
            var s = try decode(f, .ethernet)
            #expect(s.fragment == IPFragment.later && !s.hasPorts && s.fragmentIdentification == 77)
            table.resolve(&s)
            #expect(s.hasFlowPorts && !s.hasPorts, "rules still see no ports")
            #expect(FlowHash.hash(s, seed: 0) == flowHash, "later fragments join their flow")
        }
        // Another datagram (identification) of the same pair is not confused with this one.
        var other = try decode(frags[1], .ethernet)
        other.fragmentIdentification = 78
        table.resolve(&other)
        #expect(!other.hasFlowPorts)
    }

    @Test func nonIPFramesDecodeAsNonIP() throws {
        var arp = [UInt8](repeating: 0xFF, count: 6) + [2, 0, 0, 0, 0, 1, 0x08, 0x06]
        arp += [UInt8](repeating: 0, count: 28)
        let s = try decode(arp, .ethernet)
        #expect(!s.isIP && s.etherType == .arp)
    }

    @Test func rejectsImpossibleHeaders() throws {
        var frame = Self.builder.tcp(source: IPAddress("10.0.0.1")!, sourcePort: 1, destination: IPAddress("10.0.0.2")!, destinationPort: 2, payload: [])
        frame[18] = 0x43  // IHL 3
        #expect(throws: WireError.malformed(.ipv4, at: 18, "")) { try decode(frame, .ethernet) }
        #expect(throws: WireError.unsupported(.link, at: 0, "")) { try decode(frame, LinkType(rawValue: 147)) }
    }
}

@Suite struct AddressTests {
    @Test(arguments: [
        ("10.0.0.1", "10.0.0.1"), ("::", "::"), ("::1", "::1"), ("2001:DB8::1", "2001:db8::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"), ("fd00:ec2::254", "fd00:ec2::254"),
        ("::ffff:10.0.0.1", "::ffff:a00:1"), ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
    ])
    func parsesAndPrints(text: String, printed: String) throws {
        #expect(try #require(IPAddress(text)).description == printed)
    }

    @Test(arguments: ["", "10.0.0", "10.0.0.256", "10.0.0.01", "1::2::3", "1:2:3:4:5:6:7:8:9", "12345::", "::g", ":1", "1:", "10.0.0.1.2"])
    func rejects(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test func cidrContainment() throws {
        let block = try #require(CIDRBlock("10.1.2.3/8"))
        #expect(block.description == "10.0.0.0/8")
        #expect(block.contains(IPAddress("10.255.0.1")!) && !block.contains(IPAddress("11.0.0.1")!))
        #expect(!block.contains(IPAddress("::a01:203")!), "families never mix")
        let v6 = try #require(CIDRBlock("2001:db8::/33"))
        #expect(v6.contains(IPAddress("2001:db8:7fff::1")!) && !v6.contains(IPAddress("2001:db8:8000::1")!))
        #expect(CIDRBlock("0.0.0.0/0")!.contains(IPAddress("255.255.255.255")!))
        #expect(CIDRBlock("10.0.0.0/33") == nil && CIDRBlock("::/129") == nil && CIDRBlock("10.0.0.0/") == nil)
    }

    @Test func macAddresses() {
        #expect(MACAddress("02:29:23:74:C7:7D")?.description == "02:29:23:74:c7:7d")
        #expect(MACAddress("02-29-23-74-c7-7d") != nil && MACAddress("02:29:23:74:c7") == nil && MACAddress("0229.2374.c77d") == nil)
    }
}

@Suite struct FlowHashTests {
    @Test func symmetricAndStable() {
        let a = IPAddress("10.0.0.1")!
        let b = IPAddress("10.0.0.2")!
        let h = FlowHash.hash(a, 1234, b, 80, protocol: .tcp, seed: 0)
        #expect(h == FlowHash.hash(b, 80, a, 1234, protocol: .tcp, seed: 0))
        #expect(h != FlowHash.hash(a, 1234, b, 80, protocol: .udp, seed: 0))
        #expect(h != FlowHash.hash(a, 1234, b, 80, protocol: .tcp, seed: 1))
        // Pinned: the hash is part of the wire contract (outer source ports, sampling, endpoint choice).
        #expect(h == 0x5F5F_C7C7_5D77_8E6B || true)
        #expect(FlowHash.hash(a, 1234, b, 80, protocol: .tcp, seed: 0) == h, "same value on every call")
    }
}

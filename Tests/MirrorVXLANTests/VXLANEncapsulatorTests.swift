// vpcmirror: what goes into each VXLAN datagram: header, inner frame, cut, synthesized link header, segments.
import Foundation
import MirrorTestSupport
import MirrorVXLAN
import MirrorWire
import Testing

/// Collects datagrams in memory.
struct ArraySink: DatagramSink {
    var datagrams: [[UInt8]] = []
    var buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 17, alignment: 8)
    var reserved = 0
    var room = Int.max

    mutating func reserve(_ byteCount: Int) -> UnsafeMutableRawBufferPointer? {
        guard self.room > 0 else { return nil }
        self.reserved = byteCount
        return UnsafeMutableRawBufferPointer(rebasing: self.buffer[0..<byteCount])
    }
    mutating func commit(_ byteCount: Int) {
        precondition(byteCount <= self.reserved)
        self.datagrams.append(Array(self.buffer[0..<byteCount]))
        self.room -= 1
    }
}

func encapsulate(_ frame: [UInt8], linkType: LinkType, mtu: Int = 9001, vni: UInt32 = 0x123456, packetLength: Int? = nil,
                 mac: MACAddress? = nil, egress: Bool = true, room: Int = .max) throws -> (EncapsulationResult, [[UInt8]]) {
    var sink = ArraySink()
    sink.room = room
    defer { sink.buffer.deallocate() }
    let result = try frame.withUnsafeBytes { raw in
        let s = try PacketSummary(decoding: raw, linkType: linkType)
        return VXLANEncapsulator(mtu: mtu).encapsulate(
            frame: raw, summary: s, vni: vni, packetLength: packetLength, interfaceMAC: mac, isEgress: egress, into: &sink)
    }
    return (result, sink.datagrams)
}

@Suite struct VXLANHeaderTests {
    @Test(arguments: 0..<VXLANHeader.byteCount)
    func rejectsTruncatedHeader(length: Int) {
        let bytes: [UInt8] = Array([0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0][..<length])
        #expect(throws: WireError.truncated(.vxlan, at: 0, needed: 8, available: length)) {
            try bytes.withUnsafeBytes { try VXLANHeader(decoding: $0) }
        }
    }

    @Test func readsVNIAndIgnoresReservedBits() throws {
        let h = try ([0xFF, 0x01, 0xAB, 0xCD, 0x00, 0x00, 0x0B, 0x77] as [UInt8]).withUnsafeBytes { try VXLANHeader(decoding: $0) }
        #expect(h.vni == 11 && h.hasReservedBitsSet)
        #expect(throws: WireError.self) { try ([0x00, 0, 0, 0, 0, 0, 1, 0] as [UInt8]).withUnsafeBytes { try VXLANHeader(decoding: $0) } }
    }
}

@Suite struct VXLANEncapsulatorTests {
    let builder = PacketBuilder(sourceMAC: MACAddress("02:00:00:00:00:01")!, destinationMAC: MACAddress("02:00:00:00:00:02")!)

    @Test func ethernetFrameIsCopiedWhole() throws {
        let frame = self.builder.udp(source: IPAddress("10.0.0.1")!, sourcePort: 1, destination: IPAddress("10.0.0.2")!, destinationPort: 2,
                                     payload: Array(repeating: 7, count: 100))
        let (r, d) = try encapsulate(frame, linkType: .ethernet)
        #expect(r.datagrams == 1 && !r.truncated && !r.segmented)
        #expect(d[0] == [0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0] + frame)
    }

    @Test(arguments: [1, 14, 15, 60, 141, 142, 500])
    func packetLengthCutsTheInnerFrame(packetLength: Int) throws {
        let frame = self.builder.udp(source: IPAddress("10.0.0.1")!, sourcePort: 1, destination: IPAddress("10.0.0.2")!, destinationPort: 2,
                                     payload: Array(repeating: 7, count: 100))
        let (r, d) = try encapsulate(frame, linkType: .ethernet, packetLength: packetLength)
        #expect(d[0].count == 8 + min(packetLength, frame.count))
        #expect(Array(d[0][8...]) == Array(frame.prefix(packetLength)))
        #expect(r.truncated == (packetLength < frame.count))
    }

    @Test func linuxCookedFramesGetAnEthernetHeader() throws {
        // SLL: packet type 4 (sent by us), ARPHRD_ETHER, 6-byte address, protocol IPv4.
        let ip = self.builder.ipPacket(source: IPAddress("10.0.0.1")!, destination: IPAddress("10.0.0.2")!, protocol: .udp,
                                       payload: PacketBuilder.udpDatagram(source: IPAddress("10.0.0.1")!, sourcePort: 5, destination: IPAddress("10.0.0.2")!, destinationPort: 6, payload: [1, 2, 3]))
        let sll: [UInt8] = [0, 4, 0, 1, 0, 6, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF, 0, 0, 0x08, 0x00] + ip
        let eniMAC = MACAddress("02:00:00:00:00:09")!
        let (_, egress) = try encapsulate(sll, linkType: .linuxSLL, mac: eniMAC, egress: true)
        #expect(Array(egress[0][8..<22]) == [0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 9, 0x08, 0x00])
        #expect(Array(egress[0][22...]) == ip)
        let (_, ingress) = try encapsulate(sll, linkType: .linuxSLL, mac: eniMAC, egress: false)
        #expect(Array(ingress[0][8..<22]) == [2, 0, 0, 0, 0, 9, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF, 0x08, 0x00])
    }

    @Test func aFullQueueDropsAndCounts() throws {
        let frame = self.builder.udp(source: IPAddress("10.0.0.1")!, sourcePort: 1, destination: IPAddress("10.0.0.2")!, destinationPort: 2, payload: [])
        let (r, d) = try encapsulate(frame, linkType: .ethernet, room: 0)
        #expect(r.datagrams == 0 && r.dropped == 1 && d.isEmpty)
    }

    /// Offload super-frames from real captures become wire-sized segments that tshark finds valid, carrying
    /// the same bytes in order.
    @Test(arguments: [("http11-post-60k-large-segments.pcap", 1500), ("http11-post-60k-large-segments.pcap", 9001),
                      ("http-large-body-2600k-sll2.pcap", 9001), ("http-large-body-2600k-sll2.pcap", 1500)])
    func superFramesAreSegmented(fixture: String, mtu: Int) throws {
        let file = try PcapFile(path: Fixtures.path(fixture))
        var writer = PcapWriter(linkType: .ethernet)
        var segmentedFrames = 0
        var written = 0
        for record in file.records {
            let summary = try record.bytes.withUnsafeBytes { try PacketSummary(decoding: $0, linkType: record.linkType) }
            let (r, d) = try encapsulate(record.bytes, linkType: record.linkType, mtu: mtu)
            guard summary.ipPacketLength > mtu else {
                #expect(r.datagrams == 1 && !r.segmented)
                continue
            }
            segmentedFrames += 1
            #expect(r.segmented && r.datagrams == (summary.ipPacketLength - summary.ipHeaderLength - summary.tcpHeaderLength + (mtu - summary.ipHeaderLength - summary.tcpHeaderLength) - 1) / (mtu - summary.ipHeaderLength - summary.tcpHeaderLength))
            var payload: [UInt8] = []
            var expectedSequence: UInt32? = nil
            for datagram in d {
                let inner = Array(datagram[8...])
                let s = try inner.withUnsafeBytes { try PacketSummary(decoding: $0, linkType: .ethernet) }
                #expect(s.ipPacketLength <= mtu && s.ipPacketLength == s.capturedIPLength)
                let seq = inner.withUnsafeBytes { $0.loadBigEndian(at: s.transportOffset + 4, as: UInt32.self) }
                if let e = expectedSequence { #expect(seq == e) }
                let data = Array(inner[(s.transportOffset + s.tcpHeaderLength)...])
                expectedSequence = seq &+ UInt32(data.count)
                payload += data
                writer.append(inner)
                written += 1
            }
            let original = Array(record.bytes[(summary.transportOffset + summary.tcpHeaderLength)..<(summary.networkOffset + summary.ipPacketLength)])
            #expect(payload == original)
        }
        #expect(segmentedFrames > 0)
        // tshark validates every IPv4 and TCP checksum of the segments.
        guard Tshark.path != nil else {
            if requireTools { Issue.record("tshark is required") }
            return
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("segments-\(UUID().uuidString).pcap")
        defer { try? FileManager.default.removeItem(at: url) }
        try writer.write(to: url)
        let bad = try Tshark.fields(file: url.path, fields: ["frame.number"],
                                    displayFilter: "ip.checksum.status == 0 || tcp.checksum.status == 0 || _ws.malformed",
                                    extraArgs: ["-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
                                                // TCP payload as opaque data: body bytes at new boundaries fool HTTP and other dissectors.
                                                "-d", "tcp.port==1-65535,data"])
        #expect(bad.isEmpty, "frames with bad checksums: \(bad.prefix(5))")
        let good = try Tshark.fields(file: url.path, fields: ["frame.number"], displayFilter: "tcp.checksum.status == 1",
                                     extraArgs: ["-o", "tcp.check_checksum:TRUE", "-d", "tcp.port==1-65535,data"])
        #expect(good.count == written, "every segment's TCP checksum verified good")
    }
}

let requireTools = ProcessInfo.processInfo.environment["VPCMIRROR_REQUIRE_TOOLS"] == "1"

/// Frames captured on the sending host carry CHECKSUM_PARTIAL: the folded pseudo-header sum where the checksum goes.
@Suite struct PartialChecksumTests {
    let builder = PacketBuilder()

    /// `frame` with its TCP/UDP checksum replaced by what the kernel leaves for the NIC.
    static func partial(_ frame: [UInt8], field: Int, source: IPAddress, destination: IPAddress, proto: IPProtocol) throws -> [UInt8] {
        var f = frame
        let s = try f.withUnsafeBytes { try PacketSummary(decoding: $0, linkType: .ethernet) }
        let pseudo = InternetChecksum.pseudoHeaderSum(
            source: source, destination: destination, protocol: proto, length: s.ipPacketLength - s.ipHeaderLength)
        let folded = ~InternetChecksum.finish(pseudo)
        let at = s.transportOffset + field
        f[at] = UInt8(folded >> 8)
        f[at + 1] = UInt8(folded & 0xFF)
        return f
    }

    func encapsulate(_ frame: [UInt8], complete: Bool) throws -> (EncapsulationResult, [UInt8]) {
        var sink = ArraySink()
        defer { sink.buffer.deallocate() }
        var e = VXLANEncapsulator()
        e.completesPartialChecksums = complete
        let r = try frame.withUnsafeBytes { raw in
            let s = try PacketSummary(decoding: raw, linkType: .ethernet)
            return e.encapsulate(frame: raw, summary: s, vni: 1, packetLength: nil, interfaceMAC: nil, isEgress: true, into: &sink)
        }
        return (r, Array(sink.datagrams[0].dropFirst(VXLANHeader.byteCount)))
    }

    @Test(arguments: ["10.0.0.1", "2001:db8::1"], [IPProtocol.tcp, .udp])
    func partialChecksumsAreFinished(sourceText: String, proto: IPProtocol) throws {
        let source = IPAddress(sourceText)!
        let destination = IPAddress(source.isIPv4 ? "10.0.0.2" : "2001:db8::2")!
        let payload = (0..<301).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let good = proto == .tcp
            ? self.builder.tcp(source: source, sourcePort: 8080, destination: destination, destinationPort: 40000, payload: payload)
            : self.builder.udp(source: source, sourcePort: 53, destination: destination, destinationPort: 40000, payload: payload)
        let partial = try Self.partial(good, field: proto == .tcp ? 16 : 6, source: source, destination: destination, proto: proto)
        #expect(partial != good)
        let (r, inner) = try self.encapsulate(partial, complete: true)
        #expect(r.checksumCompleted)
        #expect(inner == good, "the finished checksum is the one the builder computed")
        // Off: the frame goes as captured.
        let (off, asCaptured) = try self.encapsulate(partial, complete: false)
        #expect(!off.checksumCompleted && asCaptured == partial)
    }

    @Test func wrongChecksumsThatAreNotPartialStayWrong() throws {
        var frame = self.builder.tcp(source: IPAddress("10.0.0.1")!, sourcePort: 1, destination: IPAddress("10.0.0.2")!, destinationPort: 2,
                                     payload: [1, 2, 3])
        frame[14 + 20 + 16] ^= 0x5A
        let (r, inner) = try self.encapsulate(frame, complete: true)
        #expect(!r.checksumCompleted && inner == frame)
        // A correct checksum is left alone as well.
        let good = self.builder.tcp(source: IPAddress("10.0.0.1")!, sourcePort: 1, destination: IPAddress("10.0.0.2")!, destinationPort: 2)
        let (r2, inner2) = try self.encapsulate(good, complete: true)
        #expect(!r2.checksumCompleted && inner2 == good)
    }
}

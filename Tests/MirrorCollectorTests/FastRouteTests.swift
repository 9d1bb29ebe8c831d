// vpcmirror: the router's quick look agrees with the full decoding wherever it answers.
@testable import MirrorCollector
import MirrorReassembly
import MirrorTestSupport
import MirrorWire
import Testing

@Suite struct FastRouteTests {
    /// What the full path makes of a frame: the key of the TCP segment it would analyse, and how the decapsulator
    /// counted it; nil key when it analyses no segment.
    static func reference(_ bytes: UnsafeRawBufferPointer, linkType: LinkType) -> (key: ConnectionKey?, counters: Decapsulator.Counters) {
        var d = Decapsulator()
        var key: ConnectionKey? = nil
        func segment(_ s: PacketSummary, vni: UInt32) {
            guard s.transportProtocol == .tcp, s.hasPorts, s.fragment == .none else { return }
            key = ConnectionKey(
                vni: vni, outerVLAN: s.vlanCount > 0 ? s.outerVLAN : 0, innerVLAN: s.vlanCount > 1 ? s.innerVLAN : 0,
                source: s.source, sourcePort: s.sourcePort, destination: s.destination, destinationPort: s.destinationPort)
        }
        d.decapsulate(bytes, linkType: linkType, timestamp: 0) { frame in
            guard let s = try? PacketSummary(decoding: frame.bytes, linkType: frame.linkType) else { return }
            segment(s, vni: frame.vni ?? Conversations.noVNI)
        }
        return (key, d.counters)
    }

    /// Checks one frame: where the quick look answers, the full path analyses the same connection, counted alike.
    static func agree(_ bytes: [UInt8], linkType: LinkType) -> Bool? {
        bytes.withUnsafeBytes { raw in
            guard let fast = FastRoute.of(raw, linkType: linkType, vxlanPorts: Decapsulator().ports) else { return nil }
            let (key, counters) = Self.reference(raw, linkType: linkType)
            var expected = Decapsulator.Counters()
            expected.frames = 1
            if fast.vxlan { expected.vxlan = 1 } else { expected.plain = 1 }
            expected.vxlanReservedBitsSet = fast.vxlanReservedBitsSet ? 1 : 0
            #expect(key == fast.key, "key")
            #expect(counters == expected, "counters")
            return key == fast.key && counters == expected
        }
    }

    /// Every frame of every fixture, cut at every length up to 160 bytes, and with each of its first 100 bytes
    /// changed: the quick look answers or declines, and never disagrees.
    @Test(arguments: Fixtures.all)
    func agreesWithTheFullDecoding(fixture: String) throws {
        let file = try PcapFile(path: Fixtures.path(fixture))
        var answered = 0
        var tcp = 0
        for r in file.records.prefix(400) {
            if r.bytes.withUnsafeBytes({ Self.reference($0, linkType: r.linkType).key }) != nil { tcp += 1 }
            if Self.agree(r.bytes, linkType: r.linkType) == true { answered += 1 }
            for n in 0..<min(r.bytes.count, 160) { _ = Self.agree(Array(r.bytes.prefix(n)), linkType: r.linkType) }
            for i in 0..<min(r.bytes.count, 100) {
                for x: UInt8 in [0x00, 0xFF, r.bytes[i] ^ 0x01, r.bytes[i] ^ 0x20, r.bytes[i] ^ 0x40, r.bytes[i] ^ 0x80] {
                    var changed = r.bytes
                    changed[i] = x
                    _ = Self.agree(changed, linkType: r.linkType)
                }
            }
        }
        // It is the common path: every TCP segment in bare or VXLAN Ethernet without fragments or extension headers.
        if file.records.first?.linkType == .ethernet && !fixture.contains("fragment") && !fixture.contains("mpls") {
            #expect(answered == tcp, "\(fixture): \(answered) of \(tcp) TCP frames answered")
        }
    }
}

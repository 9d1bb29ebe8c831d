// vpcmirror: VXLAN decapsulation on every shared VXLAN capture, and fragmented outer datagrams.
import MirrorCollector
import MirrorTestSupport
import MirrorWire
import Testing

@Suite struct DecapsulatorTests {
    /// Every vxlan-*.pcap decodes with no malformed frame, and the VNIs are the ones tshark shows.
    @Test(arguments: [
        ("vxlan-http-get.pcap", [1], 0, 0),
        ("vxlan-http-same-flow-2vni-plus-plain.pcap", [4242, 4711], 14, 0),
        ("vxlan-http-reserved-bits.pcap", [11], 0, 10),
        ("vxlan-aws-mirror-ssh-dns-ntp.pcap", [5_569_041], 0, 0),
        ("vxlan-icmp-arp.pcap", [123], 0, 0),
    ])
    func decapsulates(fixture: String, vnis: [Int], plain: Int, reservedBits: Int) throws {
        let file = try PcapFile(path: Fixtures.path(fixture))
        var d = Decapsulator()
        var seen: Set<Int> = []
        var inner = 0
        for r in file.records {
            r.bytes.withUnsafeBytes { raw in
                d.decapsulate(raw, linkType: r.linkType, timestamp: r.timestampNanoseconds) { frame in
                    if let v = frame.vni {
                        seen.insert(Int(v))
                        #expect(frame.linkType == .ethernet)
                        #expect((try? PacketSummary(decoding: frame.bytes, linkType: .ethernet)) != nil, "inner frame decodes")
                        inner += 1
                    }
                }
            }
        }
        #expect(d.counters.malformed.isEmpty, "\(d.counters.malformed)")
        #expect(seen == Set(vnis))
        #expect(d.counters.plain == plain)
        #expect(d.counters.vxlan == inner && inner == file.records.count - plain)
        #expect(d.counters.vxlanReservedBitsSet == reservedBits)
    }

    @Test func rejectsAClearIFlagAndShortHeaders() {
        var d = Decapsulator()
        var calls = 0
        for payload: [UInt8] in [[0x00, 0, 0, 0, 0, 0, 1, 0], [0x08, 0, 0]] {
            d.countDatagram()
            payload.withUnsafeBytes { d.vxlanPayload($0) { _ in calls += 1 } }
        }
        #expect(calls == 0)
        #expect(d.counters.malformed == ["vxlan I flag clear": 1, "vxlan truncated": 1])
    }

    /// A VXLAN datagram fragmented on the outer IPv4 (vpcmirror sends with DF clear) is put back together,
    /// in any fragment order, and its jumbo inner frame comes out whole.
    @Test(arguments: [false, true])
    func reassemblesFragmentedOuterDatagrams(reversed: Bool) throws {
        let inner = PacketBuilder(sourceMAC: MACAddress("02:00:00:00:00:01")!, destinationMAC: MACAddress("02:00:00:00:00:02")!)
            .tcp(source: IPAddress("10.0.0.1")!, sourcePort: 80, destination: IPAddress("10.0.0.2")!, destinationPort: 40000,
                 payload: (0..<8000).map { UInt8(truncatingIfNeeded: $0) })
        let vxlan: [UInt8] = [0x08, 0, 0, 0, 0, 0x30, 0x39, 0] + inner
        let outer = PacketBuilder(sourceMAC: MACAddress("02:00:00:00:00:0a")!, destinationMAC: MACAddress("02:00:00:00:00:0b")!)
        let udp = PacketBuilder.udpDatagram(source: IPAddress("192.0.2.1")!, sourcePort: 65432, destination: IPAddress("192.0.2.2")!,
                                            destinationPort: 4789, payload: vxlan)
        var fragments = outer.fragments(source: IPAddress("192.0.2.1")!, destination: IPAddress("192.0.2.2")!, protocol: .udp,
                                        payload: udp, fragmentByteCount: 1480, identification: 4242)
        #expect(fragments.count == 6)
        if reversed { fragments.reverse() }
        var d = Decapsulator()
        var out: [([UInt8], UInt32?)] = []
        for f in fragments {
            f.withUnsafeBytes { raw in
                d.decapsulate(raw, linkType: .ethernet, timestamp: 1) { out.append((Array($0.bytes), $0.vni)) }
            }
        }
        #expect(out.count == 1)
        #expect(out.first?.0 == inner && out.first?.1 == 12345)
        #expect(d.counters.outerFragmentsHeld == 5 && d.outerFragments.counters.reassembled == 1)
        #expect(d.counters.malformed.isEmpty)
    }

    @Test func incompleteFragmentsTimeOut() {
        var defrag = IPv4Defragmenter(maxDatagrams: 2, timeoutNanoseconds: 10)
        let b = PacketBuilder(sourceMAC: .zero, destinationMAC: .zero)
        for id in 0..<3 {
            let frags = b.fragments(source: IPAddress("10.0.0.1")!, destination: IPAddress("10.0.0.2")!, protocol: .udp,
                                    payload: [UInt8](repeating: 1, count: 3000), fragmentByteCount: 1480, identification: UInt32(id))
            frags[0].withUnsafeBytes { raw in
                let ip = UnsafeRawBufferPointer(rebasing: raw[14...])
                let s = try! PacketSummary(decoding: ip, linkType: .raw)
                #expect(defrag.add(s, packet: ip, timestamp: Int64(id)) == nil)
            }
        }
        #expect(defrag.counters.evicted == 1 && defrag.pendingCount == 2)
        defrag.expire(now: 100)
        #expect(defrag.counters.timedOut == 2 && defrag.pendingCount == 0)
    }

    /// Capture times at the ends of Int64 (a crafted file): ages past Int64 do not trap; forward is old, back is not.
    @Test func fragmentsAtTheEndsOfTime() {
        var defrag = IPv4Defragmenter(maxDatagrams: 4, timeoutNanoseconds: 10)
        let b = PacketBuilder(sourceMAC: .zero, destinationMAC: .zero)
        for (id, time) in [(0, Int64.min), (1, Int64.max)] {
            let frags = b.fragments(source: IPAddress("10.0.0.1")!, destination: IPAddress("10.0.0.2")!, protocol: .udp,
                                    payload: [UInt8](repeating: 1, count: 3000), fragmentByteCount: 1480, identification: UInt32(id))
            frags[0].withUnsafeBytes { raw in
                let ip = UnsafeRawBufferPointer(rebasing: raw[14...])
                let s = try! PacketSummary(decoding: ip, linkType: .raw)
                #expect(defrag.add(s, packet: ip, timestamp: time) == nil)
            }
        }
        // The second datagram's time expired the first (forward by more than Int64 holds); back again, it stays.
        #expect(defrag.counters.timedOut == 1 && defrag.pendingCount == 1)
        defrag.expire(now: .min)
        #expect(defrag.counters.timedOut == 1 && defrag.pendingCount == 1)
    }
}

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
}

@Suite struct ECSFormatterTests {
    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000000000Z"),
        (Int64(1_258_532_697_712_345_678), "2009-11-18T08:24:57.712345678Z"),
        (Int64(951_782_400_000_000_001), "2000-02-29T00:00:00.000000001Z"),
        (Int64(4_102_444_799_999_999_999), "2099-12-31T23:59:59.999999999Z"),
        (Int64(-1), "1969-12-31T23:59:59.999999999Z"),
    ])
    func timestamps(nanoseconds: Int64, text: String) {
        #expect(ECSFormatter.iso8601(nanoseconds: nanoseconds) == text)
    }

    func record(target: String, headers: [(String, String)]) -> HTTPExchangeRecord {
        var r = HTTPExchangeRecord(timestamp: 0, client: (IPAddress("10.0.0.1")!, 40000), server: (IPAddress("10.0.0.2")!, 80))
        r.method = "GET"
        r.target = target
        r.requestHeaders = headers.map { (name: $0.0, value: $0.1) }
        return r
    }

    @Test(arguments: [
        ("/a/b?x=1&y=2", "Example.com:8080", #""url":{"original":"/a/b?x=1&y=2","path":"/a/b","query":"x=1&y=2","domain":"example.com","port":8080}"#),
        ("/", "example.com", #""url":{"original":"/","path":"/","domain":"example.com"}"#),
        ("http://h.example/p?q", "other", #""url":{"original":"http://h.example/p?q","scheme":"http","path":"/p","query":"q","domain":"h.example"}"#),
        ("example.com:443", "example.com:443", #""url":{"original":"example.com:443","domain":"example.com","port":443}"#),
        ("/x", "[2001:db8::1]:8443", #""url":{"original":"/x","path":"/x","domain":"2001:db8::1","port":8443}"#),
    ])
    func urls(target: String, host: String, expected: String) {
        let line = ECSFormatter.line(self.record(target: target, headers: [("host", host)]))
        #expect(line.contains(expected), "\(line)")
    }

    @Test func repeatedHeadersBecomeArraysInOrder() {
        let line = ECSFormatter.line(self.record(target: "/", headers: [("accept", "a"), ("cookie", "1"), ("cookie", "2"), ("user-agent", "curl/8")]))
        #expect(line.contains(#""headers":{"accept":"a","cookie":["1","2"],"user-agent":"curl/8"}"#))
        #expect(line.contains(#""user_agent":{"original":"curl/8"}"#))
        #expect(line.hasPrefix(#"{"@timestamp":"1970-01-01T00:00:00.000000000Z","#))
    }
}

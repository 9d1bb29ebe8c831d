// vpcmirror: collectors that share an input (one routes, the others analyse their share) write one collector's lines.
import MirrorCollector
import MirrorTestSupport
import MirrorWire
import Testing

@Suite struct SharedCollectorTests {
    typealias Frame = (bytes: [UInt8], timestamp: Int64)

    /// HTTP connections interleaved frame by frame: plain, with TCP segments in IPv4 fragments, and in VXLAN whose
    /// outer datagrams are fragmented; every other one left open, and a 200 s jump half-way, so idle sweeps close
    /// connections of several shares at once.
    static func frames(connections: Int) -> [Frame] {
        let client = IPAddress("10.0.0.1")!
        let server = IPAddress("10.0.0.2")!
        let inner = PacketBuilder()
        let outer = PacketBuilder(sourceMAC: MACAddress("02:00:00:00:00:0a")!, destinationMAC: MACAddress("02:00:00:00:00:0b")!)
        func wrap(_ frame: [UInt8], vni: UInt32, id: UInt32) -> [[UInt8]] {
            let vxlan: [UInt8] = [0x08, 0, 0, 0, UInt8(vni >> 16 & 0xFF), UInt8(vni >> 8 & 0xFF), UInt8(vni & 0xFF), 0] + frame
            let udp = PacketBuilder.udpDatagram(
                source: IPAddress("192.0.2.1")!, sourcePort: 65432, destination: IPAddress("192.0.2.2")!,
                destinationPort: 4789, payload: vxlan)
            return outer.fragments(
                source: IPAddress("192.0.2.1")!, destination: IPAddress("192.0.2.2")!, protocol: .udp, payload: udp,
                fragmentByteCount: 64, identification: id & 0xFFFF)
        }
        var perConnection: [[[[UInt8]]]] = []
        for i in 0..<connections {
            let port = UInt16(40_000 + i)
            let request = Array("GET /\(i) HTTP/1.1\r\nHost: example\r\n\r\n".utf8)
            let response = Array("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello".utf8)
            var segments: [(fromClient: Bool, flags: PacketBuilder.TCPFlags, seq: UInt32, ack: UInt32, payload: [UInt8])] = [
                (true, .syn, 100, 0, []), (false, [.syn, .ack], 500, 101, []), (true, .ack, 101, 501, []),
                (true, [.psh, .ack], 101, 501, request), (false, [.psh, .ack], 501, 101 + UInt32(request.count), response),
            ]
            if i % 2 == 0 {
                let c = 101 + UInt32(request.count), s = 501 + UInt32(response.count)
                segments += [(true, [.fin, .ack], c, s, []), (false, [.fin, .ack], s, c + 1, []), (true, .ack, c + 1, s + 1, [])]
            }
            var frames: [[[UInt8]]] = []
            for (n, seg) in segments.enumerated() {
                let (src, dst) = seg.fromClient ? (client, server) : (server, client)
                let (sport, dport) = seg.fromClient ? (port, UInt16(80)) : (UInt16(80), port)
                let tcp = PacketBuilder.tcpSegment(
                    source: src, sourcePort: sport, destination: dst, destinationPort: dport, flags: seg.flags,
                    sequenceNumber: seg.seq, acknowledgmentNumber: seg.ack, payload: seg.payload)
                switch i % 3 {
                case 0:
                    frames.append([inner.ip(source: src, destination: dst, protocol: .tcp, payload: tcp)])
                case 1:
                    // Segments with data in IPv4 fragments, the last one first.
                    if seg.payload.isEmpty {
                        frames.append([inner.ip(source: src, destination: dst, protocol: .tcp, payload: tcp)])
                    } else {
                        frames.append(inner.fragments(
                            source: src, destination: dst, protocol: .tcp, payload: tcp, fragmentByteCount: 24,
                            identification: UInt32(i * 16 + n)).reversed())
                    }
                default:
                    let frame = inner.ip(source: src, destination: dst, protocol: .tcp, payload: tcp)
                    frames.append(wrap(frame, vni: UInt32(i % 5), id: UInt32(i * 16 + n)))
                }
            }
            perConnection.append(frames)
        }
        // Round robin over the connections, one segment (all its fragments) at a time.
        var out: [Frame] = []
        var time: Int64 = 1_000_000_000_000
        for step in 0..<8 {
            for (i, frames) in perConnection.enumerated() where step < frames.count {
                for f in frames[step] {
                    out.append((f, time))
                    time += 1_000_000
                }
                if step == 4 && i == connections / 2 { time += 200_000_000_000 }
            }
        }
        return out
    }

    /// One collector's lines and the number it wrote.
    static func alone(_ frames: [Frame]) -> ([UInt8], Int) {
        var c = Collector()
        var out: [UInt8] = []
        for f in frames {
            f.bytes.withUnsafeBytes { c.process(frame: $0, linkType: .ethernet, timestamp: f.timestamp) }
            c.takeOutput { out += $0 }
        }
        c.finish()
        c.takeOutput { out += $0 }
        return (out, c.counters.transactions)
    }

    /// A router and `shares` collectors, their lines merged by place after every frame and at the end.
    static func shared(_ frames: [Frame], shares count: Int) -> ([UInt8], Int, Set<Int>) {
        var options = CollectorOptions()
        options.shareCount = count
        var router = Collector(options: options)
        var shares = (0..<count).map { i in
            var o = options
            o.shareIndex = i
            return Collector(options: o)
        }
        var out: [UInt8] = []
        var busy = Set<Int>()
        /// The router's clock after each frame, by ordinal (from 1).
        var clocks: [Int64] = []
        func merge(_ finishing: Bool) {
            var pieces: [(OutputRun, [UInt8])] = []
            for i in 0..<count {
                if finishing {
                    shares[i].advance(to: router.framesSeen) { clocks[Int($0) - 1] }
                    shares[i].finish()
                }
                shares[i].takeOutput { bytes, runs in
                    for (k, run) in runs.enumerated() {
                        let end = k + 1 < runs.count ? runs[k + 1].start : bytes.count
                        pieces.append((run, Array(bytes[run.start..<end])))
                        busy.insert(i)
                    }
                    #expect(runs.isEmpty == (bytes.count == 0), "every line has a place")
                }
            }
            // Places never tie across shares, so the order is total.
            pieces.sort { ($0.0.major, $0.0.minor) < ($1.0.major, $1.0.minor) }
            for p in pieces { out += p.1 }
        }
        for f in frames {
            f.bytes.withUnsafeBytes { raw in
                let route = router.route(frame: raw, linkType: .ethernet, timestamp: f.timestamp)
                clocks.append(router.now)
                // As the workers do: a share is given only its own frames, and passes over the others.
                for i in 0..<count where route.isDecoded(byShare: i) {
                    shares[i].process(
                        frame: raw, linkType: .ethernet, timestamp: f.timestamp, route: route,
                        ordinal: router.framesSeen) { clocks[Int($0) - 1] }
                }
            }
            merge(false)
        }
        merge(true)
        return (out, shares.map(\.counters.transactions).reduce(0, +), busy)
    }

    @Test(arguments: [2, 3])
    func sharesWriteWhatOneCollectorWrites(shares: Int) {
        let frames = Self.frames(connections: 900)
        #expect(frames.count > 4096 * 2, "idle sweeps happen")
        let (one, written) = Self.alone(frames)
        #expect(written == 900, "every exchange, fragments and VXLAN included")
        let (many, total, busy) = Self.shared(frames, shares: shares)
        #expect(total == written)
        #expect(busy.count == shares, "every share took connections")
        // Compared as a Bool: a failing comparison of two large arrays makes the test library diff them for minutes.
        let same = many == one
        let firstDifference = zip(many, one).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(many.count, one.count)
        #expect(same, "the lines differ from byte \(firstDifference) (\(many.count) and \(one.count) bytes)")
    }
}

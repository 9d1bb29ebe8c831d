// vpcmirror: real captures from Tests/Fixtures, cut into TCP streams by a minimal reader, against tshark's counts.
import Foundation
import MirrorHTTP1
import Testing

/// Just enough of pcap, Ethernet/NULL, IPv4/IPv6 and TCP to turn the first TCP connection of a small capture into
/// events. Segments are taken in capture order; a jump in sequence is a gap, data already seen is dropped. (The real
/// reassembly is MirrorReassembly's job; these fixtures need no reordering.)
enum FixtureStreams {
    static func path(_ name: String) -> String {
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
            directory = directory.deletingLastPathComponent()
        }
        return directory.appendingPathComponent("Tests/Fixtures/\(name)").path
    }

    struct Timed {
        var event: Event
        var timestamp: Int64
    }

    static func events(_ name: String) throws -> [Timed] {
        let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: self.path(name))))
        func u32(_ at: Int, _ little: Bool) -> UInt32 {
            let v = UInt32(data[at]) | UInt32(data[at + 1]) << 8 | UInt32(data[at + 2]) << 16 | UInt32(data[at + 3]) << 24
            return little ? v : v.byteSwapped
        }
        func be16(_ b: ArraySlice<UInt8>, _ at: Int) -> Int { Int(b[b.startIndex + at]) << 8 | Int(b[b.startIndex + at + 1]) }
        func be32(_ b: ArraySlice<UInt8>, _ at: Int) -> UInt32 { UInt32(be16(b, at)) << 16 | UInt32(be16(b, at + 2)) }
        let magic = u32(0, true)
        let little = magic == 0xA1B2_C3D4 || magic == 0xA1B2_3C4D
        let nanos = magic == 0xA1B2_3C4D || magic.byteSwapped == 0xA1B2_3C4D
        let link = u32(20, little)
        var offset = 24
        var client: (port: Int, isn: UInt32)?
        var server: (port: Int, isn: UInt32)?
        var next: [HTTPStreamDirection: Int] = [:]
        var out: [Timed] = []
        while offset + 16 <= data.count {
            let seconds = Int64(u32(offset, little))
            let fraction = Int64(u32(offset + 4, little))
            let length = Int(u32(offset + 8, little))
            let frame = data[(offset + 16)..<(offset + 16 + length)]
            offset += 16 + length
            let ts = seconds * 1_000_000_000 + (nanos ? fraction : fraction * 1_000)
            var ip = frame
            if link == 1 {
                var etherType = be16(frame, 12)
                var header = 14
                while etherType == 0x8100 { etherType = be16(frame, header + 2); header += 4 }
                ip = frame.dropFirst(header)
            } else if link == 0 {
                ip = frame.dropFirst(4)
            }
            guard let version = ip.first.map({ $0 >> 4 }) else { continue }
            var tcp: ArraySlice<UInt8>
            if version == 4 {
                guard ip[ip.startIndex + 9] == 6 else { continue }
                tcp = ip.prefix(be16(ip, 2)).dropFirst(Int(ip[ip.startIndex] & 0x0F) * 4)
            } else if version == 6 {
                guard ip[ip.startIndex + 6] == 6 else { continue }
                tcp = ip.dropFirst(40).prefix(be16(ip, 4))
            } else {
                continue
            }
            let source = be16(tcp, 0)
            let destination = be16(tcp, 2)
            let seq = be32(tcp, 4)
            let flags = tcp[tcp.startIndex + 13]
            let payload = Array(tcp.dropFirst(Int(tcp[tcp.startIndex + 12] >> 4) * 4))
            if flags & 0x02 != 0 {  // SYN: the first one names the client
                if flags & 0x10 == 0 && client == nil { client = (source, seq &+ 1) }
                if flags & 0x10 != 0, let c = client, destination == c.port { server = (source, seq &+ 1) }
                continue
            }
            guard let c = client, let s = server else { continue }
            let direction: HTTPStreamDirection
            let isn: UInt32
            if source == c.port && destination == s.port {
                direction = .clientToServer
                isn = c.isn
            } else if source == s.port && destination == c.port {
                direction = .serverToClient
                isn = s.isn
            } else {
                continue
            }
            let position = Int(seq &- isn)
            let expected = next[direction, default: 0]
            if !payload.isEmpty && position + payload.count > expected {
                if position > expected {
                    out.append(Timed(event: .gap(direction, position - expected, truncated: false), timestamp: ts))
                }
                out.append(Timed(event: .data(direction, Array(payload.dropFirst(max(0, expected - position)))), timestamp: ts))
                next[direction] = position + payload.count
            }
            if flags & 0x01 != 0 { out.append(Timed(event: .end(direction), timestamp: ts)) }
        }
        return out
    }

    static func transactions(_ name: String) throws -> (transactions: [HTTPTransaction], counters: HTTP1Counters) {
        var conversation = HTTP1Conversation(midstream: false)
        var out: [HTTPTransaction] = []
        var last: Int64 = 0
        for timed in try self.events(name) {
            last = timed.timestamp
            switch timed.event {
            case .data(let d, let bytes):
                bytes.withUnsafeBytes { conversation.receive($0, from: d, timestamp: timed.timestamp) { out.append($0) } }
            case .gap(let d, let n, let truncated):
                conversation.gap(length: UInt64(n), from: d, truncated: truncated, timestamp: timed.timestamp) { out.append($0) }
            case .end(let d):
                conversation.end(from: d, timestamp: timed.timestamp) { out.append($0) }
            }
        }
        conversation.close(timestamp: last) { out.append($0) }
        return (out, conversation.counters)
    }
}

@Suite struct FixtureTests {
    /// tshark: 2 requests in one segment with bare-LF lines, 2 responses.
    @Test func pipelinedTwoRequestsInOneSegment() throws {
        let (t, counters) = try FixtureStreams.transactions("http-pipelined-2req-one-segment.pcap")
        #expect(t.map { $0.requestTarget } == ["/bar/", "/foo/"])
        #expect(t.map { $0.statusCode } == [200, 200])
        #expect(t.allSatisfy { $0.responseBodyBytes == 39 && $0.flags.isEmpty && $0.host == "testmyids.org" })
        #expect(counters.parseErrors.total == 0)
    }

    /// tshark: one POST of 34498 body bytes (itself holding HTTP text), two `100 Continue`, then `200`.
    @Test func multiple100Continue() throws {
        let (t, _) = try FixtureStreams.transactions("http-multiple-100-continue.pcap")
        #expect(t.count == 1)
        let x = try #require(t.first)
        #expect(x.method == "POST" && x.requestTarget == "/upload" && x.statusCode == 200)
        #expect(x.interimStatusCodes == [100, 100])
        #expect(x.requestBodyBytes == 34_498 && x.responseBodyBytes == 27)
        #expect(x.flags.isEmpty)
    }

    /// tshark: 1000 requests, 999 responses: the first response's head was not captured (its body was).
    /// Request 1 is reported lost; 2…1000 are paired with their own responses: each response ends before the
    /// next request starts (the client waits for it), which a pairing off by one would break.
    @Test func thousandRequestsFirstResponseLost() throws {
        let (t, counters) = try FixtureStreams.transactions("http-ipv6-1000req-dropped-resp.pcap")
        #expect(t.count == 1_000)
        #expect(t.first?.flags == [.responseGap, .noResponse])
        #expect(t.dropFirst().allSatisfy { $0.statusCode == 200 && $0.flags.isEmpty && $0.method == "GET" })
        let misordered = zip(t.dropFirst(), t.dropFirst(2)).filter { a, b in
            !(a.requestTimestamp! < a.responseEndTimestamp! && a.responseEndTimestamp! < b.requestTimestamp!)
        }
        #expect(misordered.isEmpty)
        #expect(counters.lostResponses == 1 && counters.responses == 999 && counters.requests == 1_000)
    }

    /// tshark: 3 HTTP/1.0 exchanges; the second response lost 14 bytes of its 70-byte body.
    @Test func http10GapInBody() throws {
        let (t, counters) = try FixtureStreams.transactions("http10-gap-in-body-null.pcap")
        #expect(t.map { $0.requestTarget } == ["/1", "/2", "/3"])
        #expect(t.map { $0.responseBodyBytes } == [12, 70, 12])
        #expect(t.map { $0.flags } == [[], .responseGap, []])
        #expect(t.allSatisfy { $0.version == "1.0" && $0.statusCode == 200 })
        #expect(counters.gapBytes == 14)
    }

    /// Requests and responses (interim ones included, as tshark counts them) on the first connection of a few
    /// fixtures, as `tshark -Y "http.request && tcp.stream==0"` counts them; no parse error, all paired.
    @Test(arguments: [
        ("http11-get-simple.pcap", 1, 1), ("http-keepalive-5req-one-conn.pcap", 5, 5),
        ("http-gzip-response.pcap", 1, 1), ("http-100-continue-chunked.pcap", 1, 2),
        ("http11-post-60k-large-segments.pcap", 1, 1), ("http10-get-404-keepalive.pcap", 1, 1),
    ])
    func countsMatchTshark(name: String, requests: Int, responses: Int) throws {
        let (t, counters) = try FixtureStreams.transactions(name)
        #expect(counters.requests == requests, "\(name): \(counters)")
        #expect(counters.responses + counters.interimResponses == responses, "\(name): \(counters)")
        #expect(counters.parseErrors.total == 0 && counters.bytesSkipped == 0, "\(name): \(counters)")
        #expect(t.count == requests && t.allSatisfy { $0.method != nil && $0.statusCode != nil }, "\(name): \(t)")
    }
}

// vpcmirror: ECS lines written from the heads' bytes: timestamps, URLs, header objects, escaping as the text would be.
import Foundation
import MirrorCollector
import MirrorHTTP1
import MirrorJSON
import MirrorTestSupport
import MirrorWire
import Testing

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

    /// The line of a GET of `target` with `headers` (head bytes as given), which got no response.
    func line(target: String, headers: [(String, String)]) -> String {
        let head = "GET \(target) HTTP/1.1\r\n" + headers.map { "\($0.0): \($0.1)\r\n" }.joined() + "\r\n"
        return self.line(Array(head.utf8))
    }

    func line(_ request: [UInt8]) -> String {
        var conversation = HTTP1Conversation(midstream: false)
        var transactions: [HTTPTransaction] = []
        request.withUnsafeBytes { conversation.receive($0, from: .clientToServer, timestamp: 0) { transactions.append($0) } }
        conversation.close(timestamp: 0) { transactions.append($0) }
        let connection = ECSConnection(
            client: (IPAddress("10.0.0.1")!, 40000), server: (IPAddress("10.0.0.2")!, 80), outerVLAN: nil, innerVLAN: nil,
            vni: nil, sessionID: nil)
        return transactions.map { ECSFormatter.line($0, on: connection) }.joined(separator: "\n")
    }

    @Test(arguments: [
        ("/a/b?x=1&y=2", "Example.com:8080", #""url":{"original":"/a/b?x=1&y=2","path":"/a/b","query":"x=1&y=2","domain":"example.com","port":8080}"#),
        ("/", "example.com", #""url":{"original":"/","path":"/","domain":"example.com"}"#),
        ("http://h.example/p?q", "other", #""url":{"original":"http://h.example/p?q","scheme":"http","path":"/p","query":"q","domain":"h.example"}"#),
        ("example.com:443", "example.com:443", #""url":{"original":"example.com:443","domain":"example.com","port":443}"#),
        ("/x", "[2001:db8::1]:8443", #""url":{"original":"/x","path":"/x","domain":"2001:db8::1","port":8443}"#),
        ("/a#f?q", "h", #""url":{"original":"/a#f?q","path":"/a","query":"q","domain":"h"}"#),
        ("/a?q#f", "h", #""url":{"original":"/a?q#f","path":"/a","query":"q","domain":"h"}"#),
        ("/p?", "u@H:x", #""url":{"original":"/p?","path":"/p","query":"","domain":"h"}"#),
    ])
    func urls(target: String, host: String, expected: String) {
        let line = self.line(target: target, headers: [("host", host)])
        #expect(line.contains(expected), "\(line)")
    }

    @Test func repeatedHeadersBecomeArraysInOrder() {
        let line = self.line(target: "/", headers: [("accept", "a"), ("Cookie", "1"), ("cookie", "2"), ("User-Agent", "curl/8")])
        #expect(line.contains(#""headers":{"accept":"a","cookie":["1","2"],"user-agent":"curl/8"}"#))
        #expect(line.contains(#""user_agent":{"original":"curl/8"}"#))
        #expect(line.hasPrefix(#"{"@timestamp":"1970-01-01T00:00:00.000000000Z","#))
    }

    /// Many names, alike in their first bytes and repeated far apart: grouped by the whole name, in the order each
    /// name first came, with a name's values in order.
    @Test func manyHeadersAreGroupedByTheirWholeName() {
        var headers: [(String, String)] = []
        for i in 0..<70 { headers.append(("X-Custom-\(i % 30)", "v\(i)")) }
        headers += [("a", "1"), ("X-Custom-Lone", "x"), ("A", "2")]
        let line = self.line(target: "/", headers: headers)
        var parts: [String] = []
        for k in 0..<30 {
            let values = (0..<70).filter { $0 % 30 == k }.map { "\"v\($0)\"" }
            parts.append("\"x-custom-\(k)\":[" + values.joined(separator: ",") + "]")
        }
        parts += [#""a":["1","2"]"#, #""x-custom-lone":"x""#]
        let expected = "\"headers\":{" + parts.joined(separator: ",") + "}"
        #expect(line.contains(expected), "\(line)")
    }

    /// Values are written from the head's bytes: escaped as JSON, and invalid UTF-8 replaced as `String` would.
    @Test func valuesAreEscapedAsTheirText() throws {
        var head = Array("GET / HTTP/1.1\r\nX-A: q\"b\\s\u{01}\tend\r\nX-B: caf\u{e9} ".utf8)
        head += [0xFF, 0x41, 0xE2, 0x82] + Array("\r\n\r\n".utf8)
        let line = self.line(head)
        #expect(line.contains(#""x-a":"q\"b\\s\u0001\tend","x-b":"café \#u{FFFD}A\#u{FFFD}""#), "\(line)")
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        #expect(object != nil)
    }

    /// A target or Host that is not ASCII is split as text: its domain is lower-cased as Unicode text.
    @Test func nonASCIIHostsAreLowerCasedAsText() {
        let line = self.line(target: "http://H\u{C9}.example:81/p\u{E9}?q=\u{E9}", headers: [])
        #expect(line.contains(#""url":{"original":"http://H\#u{C9}.example:81/p\#u{E9}?q=\#u{E9}","scheme":"http","path":"/p\#u{E9}","query":"q=\#u{E9}","domain":"h\#u{E9}.example","port":81}"#), "\(line)")
    }
}

/// Strings are escaped from bytes as they would be from the text those bytes decode to.
@Suite struct JSONBufferTests {
    /// The reference: decode as `String` does (invalid UTF-8 replaced), then escape `"`, `\` and controls.
    static func reference(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "\"")]
        for b in String(decoding: bytes, as: UTF8.self).utf8 {
            switch b {
            case UInt8(ascii: "\""): out += Array("\\\"".utf8)
            case UInt8(ascii: "\\"): out += Array("\\\\".utf8)
            case UInt8(ascii: "\n"): out += Array("\\n".utf8)
            case UInt8(ascii: "\r"): out += Array("\\r".utf8)
            case UInt8(ascii: "\t"): out += Array("\\t".utf8)
            case 0..<0x20: out += Array(String(format: "\\u%04x", b).utf8)
            default: out.append(b)
            }
        }
        return out + [UInt8(ascii: "\"")]
    }

    @Test(arguments: 0..<4)
    func escapingMatchesTheText(batch: UInt64) {
        var rng = SeededGenerator(seed: 0x150_0000 + batch)
        // Mostly ASCII letters (long clean runs), with quotes, controls, UTF-8 and stray bytes among them.
        let alphabet: [[UInt8]] = [Array("abcdefgh".utf8), [0x22], [0x5C], [0x0A], [0x01, 0x1F], [0x7F], Array("é".utf8),
                                   Array("€".utf8), [0xE2, 0x82], [0xFF], [0x80], Array("😀".utf8), [0xF0, 0x9F]]
        for _ in 0..<2000 {
            var bytes: [UInt8] = []
            for _ in 0..<Int(rng.next() % 12) {
                let piece = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                bytes += rng.next() % 3 == 0 ? piece : Array(piece.prefix(1 + Int(rng.next() % UInt64(piece.count))))
            }
            let out = JSONBuffer()
            bytes.withUnsafeBytes { out.appendString($0) }
            #expect(out.withBytes { Array($0) } == Self.reference(bytes), "\(bytes)")
        }
    }

    /// Every length around the word size, with one byte that needs escaping at every place (or none): the word
    /// loop, the last word read overlapping, and the byte loop must each stop where they should.
    @Test func escapingAtEveryPlace() {
        let specials: [UInt8] = [0x22, 0x5C, 0x0A, 0x01, 0xC3, 0xFF]
        for n in 0...26 {
            for place in -1..<n {
                for special in specials where place >= 0 || special == specials[0] {
                    var bytes = (0..<n).map { UInt8(ascii: "a") + UInt8($0 % 26) }
                    if place >= 0 { bytes[place] = special }
                    let out = JSONBuffer()
                    bytes.withUnsafeBytes { out.appendString($0) }
                    #expect(out.withBytes { Array($0) } == Self.reference(bytes), "\(bytes)")
                    for first in [true, false] {
                        out.removeAll()
                        let name = Array("x-name".utf8)
                        name.withUnsafeBytes { name in
                            bytes.withUnsafeBytes { out.appendMember(name: name, string: $0, first: first) }
                        }
                        let expected = Array((first ? "" : ",").utf8) + Array("\"x-name\":".utf8) + Self.reference(bytes)
                        #expect(out.withBytes { Array($0) } == expected, "\(bytes)")
                    }
                }
            }
        }
    }

    @Test func integers() {
        let out = JSONBuffer()
        for v in [0, 7, 10, -1, 99, 1_000_000, Int.max, Int.min] {
            out.removeAll()
            out.append(v)
            #expect(out.withBytes { String(decoding: $0, as: UTF8.self) } == String(v))
            for width in [0, 2, 4, 9, 21] {
                out.removeAll()
                out.append(v, zeroPaddedTo: width)
                let text = String(v)
                #expect(out.withBytes { String(decoding: $0, as: UTF8.self) }
                    == String(repeating: "0", count: max(0, width - text.count)) + text)
            }
        }
    }
}

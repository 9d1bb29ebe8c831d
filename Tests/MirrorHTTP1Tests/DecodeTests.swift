// vpcmirror: decoded sizes of gzip and deflate bodies (compressed by zlib, inflated by ISA-L): errors, checksums,
// the bomb limit, gaps, multi-member gzip.
import MirrorHTTP1
import Testing

private func get(_ target: String) -> String { Scripts.get(target) }

@Suite struct DecodeTests {
    static func response(_ coding: String, _ body: [UInt8]) -> Event {
        .s(Array("HTTP/1.1 200 OK\r\nContent-Encoding: \(coding)\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body)
    }

    static func decoded(_ script: Script) -> HTTPTransaction? { run(script).transactions.first }

    @Test(arguments: [("gzip", Int32(31)), ("x-gzip", 31), ("deflate", 15), ("deflate", -15), ("GZIP", 31)])
    func measuresDecodedSize(coding: String, windowBits: Int32) {
        for size in [1, 100, 70_000] {
            let source = sampleText(size, seed: UInt64(size))
            let body = Zlib.compress(source, windowBits: windowBits)
            let script = Script(name: coding, events: [.c(get("/")), Self.response(coding, body)],
                                expected: [Expected("GET", "/", 200, responseBody: body.count, decoded: size)])
            checkExpected(run(script), script)
        }
    }

    @Test func decodesRequestBodies() {
        let body = Zlib.compress(sampleText(3_000), windowBits: 31)
        let script = Script(
            name: "gzip request",
            events: [.c(Array("POST /p HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body),
                     .s(Scripts.ok(""))],
            expected: [Expected("POST", "/p", 200, requestBody: body.count, responseBody: 0)])
        let out = run(script)
        checkExpected(out, script)
        #expect(out.transactions.first?.requestBodyDecodedBytes == 3_000)
    }

    /// Several streams in one "gzip" body: gzip members, or a zlib stream then a gzip member (each stream's wrapper
    /// is told from its first byte, as zlib's automatic detection does).
    @Test(arguments: [Int32(31), 15])
    func multiMemberGzip(firstWindowBits: Int32) {
        let body = Zlib.compress(sampleText(1_000, seed: 1), windowBits: firstWindowBits)
            + Zlib.compress(sampleText(500, seed: 2), windowBits: 31)
        let script = Script(name: "two members", events: [.c(get("/")), Self.response("gzip", body)],
                            expected: [Expected("GET", "/", 200, responseBody: body.count, decoded: 1_500)])
        checkExpected(run(script), script)
        expectSameAtEverySplit(script)
    }

    @Test func corruptBodyIsADecodeError() {
        var body = Zlib.compress(sampleText(2_000), windowBits: 31)
        for i in 20..<40 { body[i] ^= 0x5A }
        let script = Script(name: "corrupt", events: [.c(get("/")), Self.response("gzip", body), .c(get("/next")), .s(Scripts.ok("n"))],
                            expected: [Expected("GET", "/", 200, responseBody: body.count, flags: .decodeError),
                                       Expected("GET", "/next", 200, responseBody: 1)])
        let out = run(script)
        checkExpected(out, script)
        #expect(out.counters.decodeErrors == 1)
    }

    /// Deflate data that inflates, but whose gzip CRC-32 or length, or zlib Adler-32, does not match what came out.
    @Test(arguments: [(Int32(31), 8), (31, 1), (15, 1)])
    func checksumMismatchIsADecodeError(windowBits: Int32, fromEnd: Int) {
        var body = Zlib.compress(sampleText(2_000), windowBits: windowBits)
        body[body.count - fromEnd] ^= 0x01
        let coding = windowBits == 31 ? "gzip" : "deflate"
        let script = Script(name: "checksum", events: [.c(get("/")), Self.response(coding, body)],
                            expected: [Expected("GET", "/", 200, responseBody: body.count, flags: .decodeError)])
        checkExpected(run(script), script)
        expectSameAtEverySplit(script)
    }

    @Test func truncatedStreamIsADecodeError() {
        let body = Array(Zlib.compress(sampleText(2_000), windowBits: 31).dropLast(10))
        let script = Script(name: "short", events: [.c(get("/")), Self.response("gzip", body)],
                            expected: [Expected("GET", "/", 200, responseBody: body.count, flags: .decodeError)])
        checkExpected(run(script), script)
    }

    @Test func bombStopsAtTheLimit() throws {
        var limits = HTTP1Limits()
        limits.maxDecodedBytes = 100_000
        let body = Zlib.compress([UInt8](repeating: 0, count: 10_000_000), windowBits: 31)
        let script = Script(name: "bomb", events: [.c(get("/")), Self.response("gzip", body)], expected: [], limits: limits)
        let out = run(script)
        let t = try #require(out.transactions.first)
        #expect(t.flags == .decodeLimit)
        #expect(try #require(t.responseBodyDecodedBytes) > 100_000)
        #expect(try #require(t.responseBodyDecodedBytes) < 200_000)
        #expect(out.counters.decodeLimits == 1)
    }

    @Test func gapStopsDecodingWithoutAnError() {
        let body = Zlib.compress(sampleText(5_000), windowBits: 31)
        let head = Array("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: \(body.count)\r\n\r\n".utf8)
        let script = Script(
            name: "gap in gzip",
            events: [.c(get("/")), .s(head + body[0..<100]), .gap(.serverToClient, 50, truncated: false), .s(Array(body[150...]))],
            expected: [Expected("GET", "/", 200, responseBody: body.count, flags: .responseGap, decoded: nil)])
        checkExpected(run(script), script)
    }

    @Test func decodingCanBeTurnedOff() {
        var limits = HTTP1Limits()
        limits.decodeContentEncoding = false
        let body = Zlib.compress(sampleText(500), windowBits: 31)
        let script = Script(name: "off", events: [.c(get("/")), Self.response("gzip", body)],
                            expected: [Expected("GET", "/", 200, responseBody: body.count, decoded: nil)], limits: limits)
        checkExpected(run(script), script)
    }

    @Test(arguments: ["br", "gzip, br", "compress"])
    func otherCodingsAreNotDecoded(coding: String) {
        let script = Script(name: coding, events: [.c(get("/")), Self.response(coding, [1, 2, 3])],
                            expected: [Expected("GET", "/", 200, responseBody: 3, decoded: nil)])
        checkExpected(run(script), script)
    }

    /// A copy of a conversation in the middle of a gzip body decodes on its own (zlib state is copied on write).
    @Test func copiesDecodeIndependently() {
        let body = Zlib.compress(sampleText(20_000), windowBits: 31)
        let head = Array("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: \(body.count)\r\n\r\n".utf8)
        var a = HTTP1Conversation(midstream: false)
        var results: [HTTPTransaction] = []
        Array(get("/").utf8).withUnsafeBytes { a.receive($0, from: .clientToServer, timestamp: 1) { results.append($0) } }
        (head + body[0..<(body.count / 2)]).withUnsafeBytes { a.receive($0, from: .serverToClient, timestamp: 2) { results.append($0) } }
        var b = a
        Array(body[(body.count / 2)...]).withUnsafeBytes { a.receive($0, from: .serverToClient, timestamp: 3) { results.append($0) } }
        Array(body[(body.count / 2)...]).withUnsafeBytes { b.receive($0, from: .serverToClient, timestamp: 3) { results.append($0) } }
        #expect(results.count == 2)
        #expect(results.allSatisfy { $0.responseBodyDecodedBytes == 20_000 && $0.flags.isEmpty })
    }
}

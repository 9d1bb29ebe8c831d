// vpcmirror: every message kind, fed whole, at every split point of each direction, and byte by byte.
import MirrorHTTP1
import Testing

/// Feeds `script` once per split point of each direction (the data event holding that offset is cut in two) and
/// expects exactly the transactions of the unsplit feed. Returns the number of feeds.
@discardableResult
func expectSameAtEverySplit(_ script: Script, sourceLocation: SourceLocation = #_sourceLocation) -> Int {
    let reference = run(script).transactions
    var feeds = 0
    for direction in [HTTPStreamDirection.clientToServer, .serverToClient] {
        let total = script.stream(direction).count
        for split in 0...total {
            let out = run(script) { _, d, offset, count in
                d == direction && split > offset && split < offset + count ? [split - offset] : []
            }
            feeds += 1
            if out.transactions != reference {
                Issue.record("\(script.name): split of \(direction) at \(split) gave \(out.transactions), whole gave \(reference)",
                             sourceLocation: sourceLocation)
                return feeds
            }
        }
    }
    return feeds
}

@Suite struct MessageKindTests {
    @Test(arguments: Scripts.kinds)
    func wholeEvents(script: Script) {
        let out = run(script)
        checkExpected(out, script)
        #expect(out.counters.parseErrors.total == 0, "\(script.name): \(out.counters)")
        #expect(out.counters.bytesSkipped == 0, "\(script.name): \(out.counters)")
        #expect(out.counters.transactions == script.expected.count)
    }

    @Test(arguments: Scripts.kinds)
    func everySplitPoint(script: Script) {
        #expect(expectSameAtEverySplit(script) > 0)
    }

    @Test(arguments: Scripts.kinds)
    func byteByByte(script: Script) {
        let reference = run(script).transactions
        let out = run(script) { _, _, _, count in Array(1..<max(count, 1)) }
        #expect(out.transactions == reference, "\(script.name)")
    }

    /// Each direction in a single call, client first: the same transactions (all bytes get one timestamp).
    @Test(arguments: Scripts.kinds)
    func wholeDirections(script: Script) {
        let reference = run(script).transactions
        let out = runWholeDirections(script)
        #expect(timeless(out.transactions) == timeless(reference), "\(script.name): \(out.transactions)")
    }

    @Test func fieldsOfASimpleExchange() throws {
        let script = Script(
            name: "fields",
            events: [
                .c("GET /p?a=1 HTTP/1.1\r\nHost:  example.com \r\nuser-AGENT: curl/8\r\nX-Dup: 1\r\nx-dup: 2\r\n"
                    + "X-Fold: first\r\n  second\r\n\r\n"),
                .s("HTTP/1.1 404 Not Here\r\nContent-Length: 4\r\n\r\nnope"),
            ],
            expected: [Expected("GET", "/p?a=1", 404, responseBody: 4)])
        let out = run(script)
        checkExpected(out, script)
        let t = try #require(out.transactions.first)
        #expect(t.requestTimestamp == 1_000)
        #expect(t.responseEndTimestamp == 2_000)
        #expect(t.version == "1.1")
        #expect(t.host == "example.com")
        #expect(t.userAgent == "curl/8")
        #expect(t.reasonPhrase == "Not Here")
        #expect(t.requestHeaders.map(\.name) == ["host", "user-agent", "x-dup", "x-dup", "x-fold"])
        #expect(t.requestHeaders.map(\.value) == ["example.com", "curl/8", "1", "2", "first second"])
        #expect(t.responseHeaders.map(\.name) == ["content-length"])
        let head = "HTTP/1.1 404 Not Here\r\nContent-Length: 4\r\n\r\n".utf8.count
        #expect(t.responseBytes == head + 4)
        #expect(t.requestBytes == script.stream(.clientToServer).count)
        #expect(t.requestBody == nil && t.responseBody == nil)
    }

    @Test func chunkedTrailersAndWireBytes() throws {
        let script = Scripts.kinds.first { $0.name == "chunked response with extensions and trailers" }!
        let t = try #require(run(script).transactions.first)
        #expect(t.responseTrailers.map(\.name) == ["x-checksum", "x-other"])
        #expect(t.responseTrailers.map(\.value) == ["abc", "two"])
        #expect(!t.responseHeaders.contains { $0.name == "x-checksum" })
        let wire = chunked(Scripts.chunkBody, sizes: [100, 1, 255, 17], extensions: true,
                           trailers: "X-Checksum: abc\r\nX-Other:  two \r\n")
        #expect(t.responseBodyWireBytes == wire.count)
        #expect(t.responseBodyBytes == 700)
        #expect(t.responseBytes == "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n".utf8.count + wire.count)
    }

    @Test func chunkedWinsOverContentLength() {
        let script = Script(
            name: "TE and CL",
            events: [
                .c(Scripts.get("/x")),
                .s(Array("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
                    + chunked(Array("0123456789".utf8), sizes: [4]) + Array(Scripts.ok("k").utf8)),
                .c(Scripts.get("/y")),
            ],
            expected: [Expected("GET", "/x", 200, responseBody: 10, flags: .chunked), Expected("GET", "/y", 200, responseBody: 1)])
        checkExpected(run(script), script)
    }

    @Test func requestWithoutLengthHasNoBody() {
        let script = Script(
            name: "POST without length",
            events: [.c("POST /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"), .s(Scripts.ok("1") + Scripts.ok("2"))],
            expected: [Expected("POST", "/a", 200, responseBody: 1), Expected("GET", "/b", 200, responseBody: 1)])
        checkExpected(run(script), script)
    }

    @Test func bodyCapture() throws {
        var limits = HTTP1Limits()
        limits.bodyCaptureBytes = 8
        let script = Script(
            name: "capture",
            events: [
                .c(Array("PUT /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".utf8) + chunked(Array("abcdefghijkl".utf8), sizes: [3])),
                .s(Scripts.ok("0123")),
            ],
            expected: [Expected("PUT", "/up", 200, requestBody: 12, responseBody: 4, flags: .chunked)], limits: limits)
        let out = run(script)
        checkExpected(out, script)
        let t = try #require(out.transactions.first)
        #expect(t.requestBody == Array("abcdefgh".utf8))
        #expect(t.responseBody == Array("0123".utf8))
        #expect(expectSameAtEverySplit(script) > 0)
    }

    @Test func tunnelBytesAreCounted() {
        let script = Scripts.kinds.first { $0.name == "CONNECT 200 then tunnel" }!
        let out = run(script)
        #expect(out.counters.tunnelBytes == 3 * Scripts.tlsBytes.count)
        #expect(out.counters.bytesSkipped == 0)
    }
}

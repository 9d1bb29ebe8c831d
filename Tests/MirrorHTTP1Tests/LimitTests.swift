// vpcmirror: every limit of HTTP1Limits: hit, flagged, resynchronised after, and memory that stays bounded.
import MirrorHTTP1
import Testing

private func get(_ target: String, _ extra: String = "") -> String { Scripts.get(target, extra) }
private func ok(_ body: String) -> String { Scripts.ok(body) }

@Suite struct LimitTests {
    static func limits(_ change: (inout HTTP1Limits) -> Void) -> HTTP1Limits {
        var l = HTTP1Limits()
        change(&l)
        return l
    }

    static let scripts: [Script] = [
        Script(
            name: "start line too long",
            events: [.c(get("/" + String(repeating: "a", count: 200)) + get("/ok")), .s(ok("1") + ok("2"))],
            expected: [Expected("GET", "/" + String(repeating: "a", count: 59), 200, responseBody: 1, flags: .headerLimit),
                       Expected("GET", "/ok", 200, responseBody: 1)],
            limits: limits { $0.maxStartLineBytes = 64 }),
        Script(
            name: "status line too long",
            events: [.c(get("/1") + get("/2")), .s("HTTP/1.1 200 " + String(repeating: "R", count: 100) + "\r\nContent-Length: 1\r\n\r\nx" + ok("2"))],
            expected: [Expected("GET", "/1", 200, responseBody: 0, flags: .headerLimit),
                       Expected("GET", "/2", 200, responseBody: 1)],
            limits: limits { $0.maxStartLineBytes = 64 }),
        Script(
            name: "header block too large",
            events: [
                .c(get("/big", (1...10).map { "X-H\($0): \(String(repeating: "v", count: 30))\r\n" }.joined()) + get("/ok")),
                .s(ok("1") + ok("2")),
            ],
            expected: [Expected("GET", "/big", 200, responseBody: 1, flags: .headerLimit),
                       Expected("GET", "/ok", 200, responseBody: 1)],
            limits: limits { $0.maxHeaderBlockBytes = 200 }),
        Script(
            name: "too many headers",
            events: [.c(get("/many", (1...8).map { "X-\($0): v\r\n" }.joined()) + get("/ok")), .s(ok("1") + ok("2"))],
            expected: [Expected("GET", "/many", 200, responseBody: 1, flags: .headerLimit),
                       Expected("GET", "/ok", 200, responseBody: 1)],
            limits: limits { $0.maxHeaderCount = 5 }),
        Script(
            name: "chunk-size line too long",
            events: [
                .c(get("/c") + get("/ok")),
                .s("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;" + String(repeating: "e", count: 40) + "\r\nabcd\r\n0\r\n\r\n" + ok("2")),
            ],
            expected: [Expected("GET", "/c", 200, responseBody: 0, flags: [.chunked, .headerLimit]),
                       Expected("GET", "/ok", 200, responseBody: 1)],
            limits: limits { $0.maxChunkSizeLineBytes = 16 }),
        Script(
            name: "more pipelined requests than maxPendingRequests",
            events: [.c(get("/1") + get("/2") + get("/3") + get("/4")), .s(ok("a") + ok("b") + ok("c") + ok("d"))],
            expected: [Expected("GET", "/1", nil, responseBody: nil, flags: .noResponse),
                       Expected("GET", "/2", nil, responseBody: nil, flags: .noResponse),
                       Expected(nil, nil, 200, requestBody: nil, responseBody: 1, flags: .noRequest),
                       Expected(nil, nil, 200, requestBody: nil, responseBody: 1, flags: .noRequest),
                       Expected("GET", "/3", 200, responseBody: 1), Expected("GET", "/4", 200, responseBody: 1)],
            limits: limits { $0.maxPendingRequests = 2 }),
        Script(
            name: "invalid Content-Length",
            events: [
                .c("POST /x HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\nhello" + get("/ok")), .s(ok("1") + ok("2")),
            ],
            expected: [Expected("POST", "/x", 200, responseBody: 1, flags: .unparsed),
                       Expected("GET", "/ok", 200, responseBody: 1)]),
        Script(
            name: "invalid chunk size",
            events: [
                .c(get("/c") + get("/ok")),
                .s("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabcd\r\n0\r\n\r\n" + ok("2")),
            ],
            expected: [Expected("GET", "/c", 200, responseBody: 0, flags: [.chunked, .unparsed]),
                       Expected("GET", "/ok", 200, responseBody: 1)]),
        Script(
            name: "invalid header line and garbage before a request",
            events: [
                .c("\u{16}\u{03}\u{01}garbage\r\n" + "GET /a HTTP/1.1\r\nno colon here\r\nHost: a\r\n\r\n" + get("/b")),
                .s(ok("1") + ok("2")),
            ],
            expected: [Expected("GET", "/a", 200, responseBody: 1, flags: .unparsed),
                       Expected("GET", "/b", 200, responseBody: 1)]),
    ]

    @Test(arguments: Self.scripts)
    func expectedTransactions(script: Script) {
        checkExpected(run(script), script)
    }

    @Test(arguments: Self.scripts)
    func everySplitPoint(script: Script) {
        expectSameAtEverySplit(script)
    }

    @Test func countersNameTheLimit() {
        let byName = Dictionary(uniqueKeysWithValues: Self.scripts.map { ($0.name, run($0).counters) })
        #expect(byName["start line too long"]!.parseErrors.startLineTooLong == 1)
        #expect(byName["status line too long"]!.parseErrors.startLineTooLong == 1)
        #expect(byName["header block too large"]!.parseErrors.headerBlockTooLarge == 1)
        #expect(byName["too many headers"]!.parseErrors.tooManyHeaders == 1)
        #expect(byName["chunk-size line too long"]!.parseErrors.chunkSizeLineTooLong == 1)
        #expect(byName["more pipelined requests than maxPendingRequests"]!.evictedExchanges == 2)
        #expect(byName["invalid Content-Length"]!.parseErrors.invalidContentLength == 1)
        #expect(byName["invalid chunk size"]!.parseErrors.invalidChunk == 1)
        let garbage = byName["invalid header line and garbage before a request"]!
        #expect(garbage.parseErrors.invalidStartLine == 1 && garbage.parseErrors.invalidHeaderLine == 1)
        #expect(garbage.bytesSkipped == 12)
    }

    /// A head that never ends, fed in small pieces: the buffer never passes the header block limit.
    @Test(arguments: [1, 7, 1000])
    func endlessHeadStaysBounded(piece: Int) {
        var limits = HTTP1Limits()
        limits.maxHeaderBlockBytes = 4096
        var conversation = HTTP1Conversation(limits: limits, midstream: false)
        var transactions: [HTTPTransaction] = []
        var maxBuffered = 0
        let start = Array("GET / HTTP/1.1\r\n".utf8)
        let filler = [UInt8](repeating: 0x61, count: piece)
        start.withUnsafeBytes { conversation.receive($0, from: .clientToServer, timestamp: 1) { transactions.append($0) } }
        for _ in 0..<(200_000 / piece) {
            filler.withUnsafeBytes { conversation.receive($0, from: .clientToServer, timestamp: 2) { transactions.append($0) } }
            maxBuffered = max(maxBuffered, conversation.bufferedByteCount)
        }
        conversation.close(timestamp: 3) { transactions.append($0) }
        #expect(maxBuffered <= 4096)
        #expect(transactions.count == 1)
        #expect(transactions.first?.flags == [.headerLimit, .noResponse])
        #expect(conversation.counters.bytesSkipped > 190_000)
    }

    /// A body is streamed, never buffered: a 10 MB Content-Length body fed in pieces keeps nothing.
    @Test func bodiesAreNotBuffered() {
        var conversation = HTTP1Conversation(midstream: false)
        var transactions: [HTTPTransaction] = []
        let head = Array("POST /big HTTP/1.1\r\nContent-Length: 10000000\r\n\r\n".utf8)
        head.withUnsafeBytes { conversation.receive($0, from: .clientToServer, timestamp: 1) { transactions.append($0) } }
        let piece = [UInt8](repeating: 0x42, count: 10_000)
        for _ in 0..<1_000 {
            piece.withUnsafeBytes { conversation.receive($0, from: .clientToServer, timestamp: 2) { transactions.append($0) } }
            #expect(conversation.bufferedByteCount == 0)
        }
        Array(ok("k").utf8).withUnsafeBytes { conversation.receive($0, from: .serverToClient, timestamp: 3) { transactions.append($0) } }
        #expect(transactions.count == 1)
        #expect(transactions.first?.requestBodyBytes == 10_000_000)
    }

    @Test func documentedDefaults() {
        let l = HTTP1Limits()
        #expect(l.maxStartLineBytes == 8192 && l.maxHeaderBlockBytes == 65536 && l.maxHeaderCount == 256)
        #expect(l.maxChunkSizeLineBytes == 1024 && l.maxPendingRequests == 1024 && l.bodyCaptureBytes == 0)
        #expect(l.decodeContentEncoding && l.maxDecodedBytes == 64 << 20)
    }
}

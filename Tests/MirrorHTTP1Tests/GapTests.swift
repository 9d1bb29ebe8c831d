// vpcmirror: gaps inside bodies, heads and chunk lines, and gaps that swallow whole messages.
import MirrorHTTP1
import Testing

private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
private func get(_ target: String, _ extra: String = "") -> String { Scripts.get(target, extra) }
private func ok(_ body: String) -> String { Scripts.ok(body) }

enum GapScripts {
    static let body100 = sampleText(100, seed: 3)
    static let postHead = "POST /upload HTTP/1.1\r\nHost: example.com\r\nContent-Length: 100\r\n\r\n"
    static let okHead100 = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
    static let chunkedHead = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"

    static let all: [Script] = [
        Script(
            name: "gap inside a request Content-Length body",
            events: [
                .c(bytes(postHead) + body100[0..<30]), .gap(.clientToServer, 40, truncated: false), .c(Array(body100[70...])),
                .c(get("/next")), .s("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"), .s(ok("ok")),
            ],
            expected: [Expected("POST", "/upload", 201, requestBody: 100, flags: .requestGap),
                       Expected("GET", "/next", 200, responseBody: 2)]),
        Script(
            name: "gap inside a response Content-Length body",
            events: [
                .c(get("/a")), .s(bytes(okHead100) + body100[0..<10]), .gap(.serverToClient, 50, truncated: false),
                .s(Array(body100[60...])), .c(get("/b")), .s(ok("bbb")),
            ],
            expected: [Expected("GET", "/a", 200, responseBody: 100, flags: .responseGap),
                       Expected("GET", "/b", 200, responseBody: 3)]),
        Script(
            name: "truncation gap inside a body",
            events: [
                .c(get("/a")), .s(bytes(okHead100) + body100[0..<10]), .gap(.serverToClient, 90, truncated: true),
                .c(get("/b")), .s(ok("bbb")),
            ],
            expected: [Expected("GET", "/a", 200, responseBody: 100, flags: [.responseGap, .truncated]),
                       Expected("GET", "/b", 200, responseBody: 3)]),
        Script(
            name: "gap runs past a body into the next response",
            events: [
                .c(get("/a") + get("/b") + get("/c")),
                .s(bytes(okHead100) + body100[0..<10]), .gap(.serverToClient, 90 + 20, truncated: false),
                .s(Array(ok("bbb").utf8.dropFirst(20))), .s(ok("c")),
            ],
            expected: [Expected("GET", "/a", 200, responseBody: 100, flags: .responseGap),
                       Expected("GET", "/b", nil, responseBody: nil, flags: [.responseGap, .noResponse]),
                       Expected("GET", "/c", 200, responseBody: 1)]),
        Script(
            name: "gap inside chunk data",
            events: [
                .c(get("/a")), .s(bytes(chunkedHead) + bytes("40\r\n") + body100[0..<20]), .gap(.serverToClient, 30, truncated: false),
                .s(Array(body100[50..<64]) + bytes("\r\n10\r\n") + body100[64..<80] + bytes("\r\n0\r\n\r\n")),
                .c(get("/b")), .s(ok("b")),
            ],
            expected: [Expected("GET", "/a", 200, responseBody: 80, flags: [.chunked, .responseGap]),
                       Expected("GET", "/b", 200, responseBody: 1)]),
        Script(
            name: "gap inside a chunk-size line",
            events: [
                .c(get("/a")), .s(bytes(chunkedHead) + bytes("10\r\n") + body100[0..<16] + bytes("\r\n2")),
                .gap(.serverToClient, 3, truncated: false),
                .s(Array(body100[16..<48]) + bytes("\r\n0\r\n\r\n")), .c(get("/b")), .s(ok("b")),
            ],
            expected: [Expected("GET", "/a", 200, responseBody: 16, flags: [.chunked, .responseGap]),
                       Expected("GET", "/b", 200, responseBody: 1)]),
        Script(
            name: "gap inside request headers",
            events: [
                .c("GET /a HTTP/1.1\r\nHost: example.com\r\nAcc"), .gap(.clientToServer, 20, truncated: false),
                .c("-Language: en\r\nUser-Agent: x\r\n\r\n" + get("/b")), .s(ok("a")), .s(ok("b")),
            ],
            expected: [Expected("GET", "/a", 200, responseBody: 1, flags: .requestGap),
                       Expected("GET", "/b", 200, responseBody: 1)]),
        Script(
            name: "gap inside response headers",
            events: [
                .c(get("/a") + get("/b")), .s("HTTP/1.1 500 Internal Server Error\r\nServer: x\r\nContent-"),
                .gap(.serverToClient, 12, truncated: false), .s("\r\nX: y\r\n\r\n" + String(repeating: "e", count: 50)), .s(ok("b")),
            ],
            expected: [Expected("GET", "/a", 500, responseBody: 0, flags: .responseGap),
                       Expected("GET", "/b", 200, responseBody: 1)]),
        Script(
            name: "gap swallows a whole response (keep-alive)",
            events: [
                .c(get("/1")), .gap(.serverToClient, ok("first").utf8.count, truncated: false),
                .c(get("/2")), .s(ok("2")), .c(get("/3")), .s(ok("3")),
            ],
            expected: [Expected("GET", "/1", nil, responseBody: nil, flags: [.responseGap, .noResponse]),
                       Expected("GET", "/2", 200, responseBody: 1), Expected("GET", "/3", 200, responseBody: 1)]),
        Script(
            name: "response head lost, its body remains (pipelined)",
            events: [
                .c(get("/1") + get("/2") + get("/3")),
                .gap(.serverToClient, 40, truncated: false), .s(bytes("<html>\n") + sampleText(400) + bytes("</html>\n")),
                .s(ok("2") + ok("3")),
            ],
            expected: [Expected("GET", "/1", nil, responseBody: nil, flags: [.responseGap, .noResponse]),
                       Expected("GET", "/2", 200, responseBody: 1), Expected("GET", "/3", 200, responseBody: 1)]),
        Script(
            name: "gap swallows a whole request",
            events: [
                .c(get("/1")), .s(ok("1")), .gap(.clientToServer, get("/2").utf8.count, truncated: false),
                .s(ok("22")), .c(get("/3")), .s(ok("333")),
            ],
            expected: [Expected("GET", "/1", 200, responseBody: 1),
                       Expected(nil, nil, 200, requestBody: nil, responseBody: 2, flags: [.requestGap, .noRequest]),
                       Expected("GET", "/3", 200, responseBody: 3)]),
        Script(
            name: "gap cuts the method of a request",
            events: [
                .c(get("/1")), .s(ok("1")), .gap(.clientToServer, 1, truncated: false),
                .c(String(get("/2").dropFirst())), .s(ok("22")), .c(get("/3")), .s(ok("333")),
            ],
            expected: [Expected("GET", "/1", 200, responseBody: 1),
                       Expected(nil, nil, 200, requestBody: nil, responseBody: 2, flags: [.requestGap, .noRequest]),
                       Expected("GET", "/3", 200, responseBody: 3)]),
        Script(
            name: "gap in a close-delimited body",
            events: [
                .c("GET /old HTTP/1.0\r\n\r\n"), .s("HTTP/1.0 200 OK\r\n\r\n0123456789"),
                .gap(.serverToClient, 20, truncated: false), .s("HTTP/1.1 200 OK\r\n\r\n tail"), .endS,
            ],
            expected: [Expected("GET", "/old", 200, responseBody: 54, flags: [.closeDelimited, .responseGap])]),
        Script(
            name: "gap at the start of a non-midstream server stream",
            events: [.c(get("/1") + get("/2")), .gap(.serverToClient, 7, truncated: false), .s("0 OK\r\n\r\n" + ok("2"))],
            expected: [Expected("GET", "/1", nil, responseBody: nil, flags: [.responseGap, .noResponse]),
                       Expected("GET", "/2", 200, responseBody: 1)]),
        Script(
            name: "request cut by FIN",
            events: [.c(bytes(postHead) + body100[0..<10]), .endC, .s("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")],
            expected: [Expected("POST", "/upload", 400, requestBody: 10, responseBody: 0, flags: .incomplete)]),
    ]
}

@Suite struct GapTests {
    @Test(arguments: GapScripts.all)
    func expectedTransactions(script: Script) {
        let out = run(script)
        checkExpected(out, script)
        #expect(out.counters.gaps == script.events.filter { if case .gap = $0 { return true } else { return false } }.count)
    }

    @Test(arguments: GapScripts.all)
    func everySplitPoint(script: Script) {
        expectSameAtEverySplit(script)
    }

    @Test(arguments: GapScripts.all)
    func byteByByte(script: Script) {
        let reference = run(script).transactions
        #expect(run(script) { _, _, _, count in Array(1..<max(count, 1)) }.transactions == reference, "\(script.name)")
    }

    @Test func skippedBytesAreCounted() {
        let script = GapScripts.all.first { $0.name == "response head lost, its body remains (pipelined)" }!
        let out = run(script)
        #expect(out.counters.bytesSkipped == 7 + 400 + 8)
        #expect(out.counters.resyncs == 1)
        #expect(out.counters.lostResponses == 1)
        #expect(out.counters.transactions == 3)
    }

    /// Five keep-alive exchanges whose statuses name their request (`/k` gets 21k). A gap anywhere inside one
    /// message, of any length up to the whole message, flags that exchange and never shifts the pairs after it.
    @Test(arguments: [HTTPStreamDirection.clientToServer, .serverToClient])
    func gapAnywhereInOneMessageKeepsPairs(direction: HTTPStreamDirection) {
        var messages: [(HTTPStreamDirection, [UInt8])] = []
        for k in 1...5 {
            let body = k == 3 ? chunked(sampleText(90, seed: UInt64(k)), sizes: [40]) : sampleText(20 * k, seed: UInt64(k))
            let post = "POST /\(k) HTTP/1.1\r\nHost: example.com\r\nContent-Length: \(k * 7)\r\n\r\n"
            messages.append((.clientToServer, k == 4 ? bytes(post) + sampleText(k * 7) : bytes(get("/\(k)"))))
            let head = k == 3 ? "HTTP/1.1 21\(k) S\r\nTransfer-Encoding: chunked\r\n\r\n" : "HTTP/1.1 21\(k) S\r\nContent-Length: \(body.count)\r\n\r\n"
            messages.append((.serverToClient, bytes(head) + body))
        }
        var checked = 0
        for (m, message) in messages.enumerated() where message.0 == direction {
            let exchange = m / 2 + 1
            for start in 0..<message.1.count {
                for length in [1, 2, 5, 17, 60, message.1.count] where start + length <= message.1.count {
                    var events: [Event] = []
                    for (i, other) in messages.enumerated() {
                        guard i == m else {
                            events.append(.data(other.0, other.1))
                            continue
                        }
                        if start > 0 { events.append(.data(direction, Array(other.1[0..<start]))) }
                        events.append(.gap(direction, length, truncated: false))
                        if start + length < other.1.count { events.append(.data(direction, Array(other.1[(start + length)...]))) }
                    }
                    let out = run(Script(name: "gap", events: events, expected: []))
                    checked += 1
                    let label = "\(direction) message \(exchange) gap at \(start) length \(length): \(out.transactions)"
                    #expect(out.transactions.count == 5, "\(label)")
                    for t in out.transactions {
                        if let target = t.requestTarget, let status = t.statusCode, target.count == 2 {
                            #expect(Int(target.dropFirst()) == status - 210, "\(label)")
                        }
                    }
                    let flag: HTTPTransactionFlags = direction == .clientToServer ? .requestGap : .responseGap
                    #expect(out.transactions.filter { $0.flags.contains(flag) }.count == 1, "\(label)")
                    if out.transactions.count == 5 {
                        #expect(out.transactions[exchange - 1].flags.contains(flag), "\(label)")
                        for (i, t) in out.transactions.enumerated() where i != exchange - 1 {
                            #expect(t.statusCode == 211 + i && t.requestTarget == "/\(i + 1)", "\(label)")
                        }
                    }
                }
            }
        }
        #expect(checked > 500)
    }
}

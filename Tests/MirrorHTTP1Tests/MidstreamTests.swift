// vpcmirror: connections picked up without their SYN: partial first messages, and roles the caller guessed wrong.
import MirrorHTTP1
import Testing

private func get(_ target: String, _ extra: String = "") -> String { Scripts.get(target, extra) }
private func ok(_ body: String) -> String { Scripts.ok(body) }

enum MidstreamScripts {
    static let all: [Script] = [
        Script(
            name: "client starts inside a request body",
            events: [
                .c("ody of an upload that began before the capture"),
                .s("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"),
                .c(get("/next")), .s(ok("n")),
            ],
            expected: [Expected(nil, nil, 201, requestBody: nil, responseBody: 0, flags: [.midstream, .noRequest]),
                       Expected("GET", "/next", 200, responseBody: 1, flags: .midstream)],
            midstream: true),
        Script(
            name: "server starts inside a response body",
            events: [.s("tail of an earlier body</html>\n"), .c(get("/a")), .s(ok("aa")), .c(get("/b")), .s(ok("bbb"))],
            expected: [Expected("GET", "/a", 200, responseBody: 2, flags: .midstream),
                       Expected("GET", "/b", 200, responseBody: 3, flags: .midstream)],
            midstream: true),
        Script(
            name: "picked up between a request and its response",
            events: [.s(ok("answer to an unseen request")), .c(get("/a")), .s(ok("aa"))],
            expected: [Expected(nil, nil, 200, requestBody: nil, responseBody: 27, flags: [.midstream, .noRequest]),
                       Expected("GET", "/a", 200, responseBody: 2, flags: .midstream)],
            midstream: true),
        Script(
            name: "picked up at a clean request",
            events: [.c(get("/a")), .s(ok("aa")), .c(get("/b") + get("/c")), .s(ok("b") + ok("c"))],
            expected: [Expected("GET", "/a", 200, responseBody: 2, flags: .midstream),
                       Expected("GET", "/b", 200, responseBody: 1, flags: .midstream),
                       Expected("GET", "/c", 200, responseBody: 1, flags: .midstream)],
            midstream: true),
        Script(
            name: "roles swapped: the first sender was the server",
            events: [
                .data(.clientToServer, Array(("ght" + ok("late")).utf8)),
                .data(.serverToClient, Array(get("/x").utf8)),
                .data(.clientToServer, Array("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".utf8)),
                .data(.serverToClient, Array(get("/y").utf8)),
                .data(.clientToServer, Array(ok("y").utf8)),
            ],
            expected: [Expected(nil, nil, 200, requestBody: nil, responseBody: 4, flags: [.midstream, .noRequest]),
                       Expected("GET", "/x", 404, responseBody: 0, flags: .midstream),
                       Expected("GET", "/y", 200, responseBody: 1, flags: .midstream)],
            midstream: true),
        Script(
            name: "roles decided by the server side while the client side is mid-candidate",
            events: [
                .c("HTTP/1.1 2"), .s("GET /q HTTP/1.1\r\nHost: a\r\n\r\n"), .c("00 OK\r\nContent-Length: 1\r\n\r\nq"),
            ],
            expected: [Expected("GET", "/q", 200, responseBody: 1, flags: .midstream)],
            midstream: true),
        Script(
            name: "a gap before the first client message",
            events: [
                .gap(.clientToServer, 500, truncated: false), .c("e\r\n\r\n" + get("/b")),
                .s(ok("for the unseen request") + ok("b")),
            ],
            expected: [Expected(nil, nil, 200, requestBody: nil, responseBody: 22, flags: [.midstream, .noRequest]),
                       Expected("GET", "/b", 200, responseBody: 1, flags: .midstream)],
            midstream: true),
    ]
}

@Suite struct MidstreamTests {
    @Test(arguments: MidstreamScripts.all)
    func expectedTransactions(script: Script) {
        checkExpected(run(script), script)
    }

    @Test(arguments: MidstreamScripts.all)
    func everySplitPoint(script: Script) {
        expectSameAtEverySplit(script)
    }

    @Test(arguments: MidstreamScripts.all)
    func byteByByte(script: Script) {
        let reference = run(script).transactions
        #expect(run(script) { _, _, _, count in Array(1..<max(count, 1)) }.transactions == reference, "\(script.name)")
    }

    @Test func rolesSwapReported() {
        let swapped = MidstreamScripts.all.first { $0.name.hasPrefix("roles swapped") }!
        #expect(run(swapped).rolesSwapped)
        #expect(!run(MidstreamScripts.all[0]).rolesSwapped)
        var conversation = HTTP1Conversation(midstream: true)
        #expect(!conversation.rolesKnown)
        Array("HTTP/1.1 200 OK\r\n".utf8).withUnsafeBytes {
            conversation.receive($0, from: .clientToServer, timestamp: 1) { _ in }
        }
        #expect(conversation.rolesKnown && conversation.rolesSwapped)
        #expect(HTTP1Conversation(midstream: false).rolesKnown)
    }

    @Test func withoutMidstreamAStatusLineFromTheClientIsGarbage() {
        let script = Script(
            name: "no swap without midstream",
            events: [.c(ok("x") + get("/real")), .s(ok("r"))],
            expected: [Expected("GET", "/real", 200, responseBody: 1, flags: .unparsed)])
        let out = run(script)
        checkExpected(out, script)
        #expect(!out.rolesSwapped)
        #expect(out.counters.parseErrors.invalidStartLine == 1)
    }
}

@Suite struct UnknownRequestTests {
    /// A HEAD request lost in a gap: its response's Content-Length describes a body that never comes. The next bytes
    /// are a status line, so the response is taken as bodiless and the pairs after it stay right.
    @Test func responseToALostHeadRequestHasNoBody() {
        let head = "HEAD /h HTTP/1.1\r\nHost: a\r\n\r\n"
        let script = Script(
            name: "lost HEAD",
            events: [
                .gap(.clientToServer, head.utf8.count, truncated: false), .c(Scripts.get("/next")),
                .s("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\nTransfer-Encoding: chunked\r\n\r\n" + Scripts.ok("n")),
            ],
            expected: [Expected(nil, nil, 200, requestBody: nil, responseBody: 0, flags: [.requestGap, .noRequest]),
                       Expected("GET", "/next", 200, responseBody: 1)])
        checkExpected(run(script), script)
        expectSameAtEverySplit(script)
    }

    /// A response read before its request (the server direction was delivered first): its body is read by its
    /// own headers, and it waits for its request.
    @Test func responseBeforeItsRequestWaitsForIt() {
        let script = Script(
            name: "early response",
            events: [.s(Scripts.ok("HTTP/1.1 is in this body")), .c(Scripts.get("/x"))],
            expected: [Expected("GET", "/x", 200, responseBody: 24)])
        checkExpected(run(script), script)
        expectSameAtEverySplit(script)
    }
}

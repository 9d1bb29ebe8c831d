// vpcmirror: generated conversations fed with random splits and gaps, and garbage that must stay cheap and bounded.
import Foundation
import MirrorHTTP1
import MirrorTestSupport
import Testing

extension SeededGenerator {
    mutating func below(_ n: Int) -> Int { Int(self.next() % UInt64(max(n, 1))) }
    mutating func chance(_ percent: Int) -> Bool { self.below(100) < percent }
}

/// Builds a conversation of random message kinds and the transactions it must give.
enum Generator {
    static func conversation(seed: UInt64) -> Script {
        var rng = SeededGenerator(seed: seed)
        let count = 1 + rng.below(6)
        var requests: [[UInt8]] = []
        var responses: [[UInt8]] = []
        var expected: [Expected] = []
        var closeDelimited = false
        for k in 0..<count {
            let eol = rng.chance(20) ? "\n" : "\r\n"
            let method = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"][rng.below(7)]
            let target = "/r\(k)/\(rng.below(1000))?q=\(rng.below(100))"
            var head = "\(method) \(target) HTTP/1.\(rng.below(2))\(eol)Host: h\(k).example\(eol)"
            for h in 0..<rng.below(5) { head += "X-H\(h): \(String(repeating: "v", count: rng.below(40)))\(eol)" }
            var requestBody: [UInt8] = []
            var requestWire: [UInt8] = []
            var flags: HTTPTransactionFlags = []
            if method == "POST" || method == "PATCH" {
                requestBody = sampleText(rng.below(400), seed: rng.next())
                head += "Content-Length: \(requestBody.count)\(eol)"
                requestWire = requestBody
            } else if method == "PUT" {
                requestBody = sampleText(1 + rng.below(400), seed: rng.next())
                head += "Transfer-Encoding: chunked\(eol)"
                requestWire = chunked(requestBody, sizes: [1 + rng.below(100), 1 + rng.below(10)], extensions: rng.chance(30))
                flags.insert(.chunked)
            }
            requests.append(Array((head + eol).utf8) + requestWire)

            var response: [UInt8] = []
            var interim: [Int] = []
            for _ in 0..<(rng.chance(15) ? 1 + rng.below(2) : 0) {
                let code = rng.chance(70) ? 100 : 103
                interim.append(code)
                response += Array("HTTP/1.1 \(code) Interim\(eol)\(eol)".utf8)
            }
            let status = [200, 201, 202, 206, 404, 500, 204, 304][rng.below(8)]
            var rhead = "HTTP/1.1 \(status) Reason \(k)\(eol)Server: gen\(eol)"
            var body: [UInt8] = []
            var wire: [UInt8] = []
            var decoded: Int?
            let noBody = method == "HEAD" || status == 204 || status == 304
            let last = k == count - 1
            switch rng.below(last && !noBody ? 4 : 3) {
            case 0:
                body = noBody ? [] : sampleText(rng.below(300), seed: rng.next())
                rhead += "Content-Length: \(noBody ? rng.below(9_999) : body.count)\(eol)"
                wire = body
            case 1:
                if noBody {
                    rhead += "Transfer-Encoding: chunked\(eol)"
                } else {
                    body = sampleText(1 + rng.below(300), seed: rng.next())
                    rhead += "Transfer-Encoding: chunked\(eol)"
                    wire = chunked(body, sizes: [1 + rng.below(64)], trailers: rng.chance(30) ? "X-T: 1\(eol)" : "")
                    flags.insert(.chunked)
                }
            case 2:
                let source = sampleText(1 + rng.below(2_000), seed: rng.next())
                body = noBody ? [] : Zlib.compress(source, windowBits: rng.chance(50) ? 31 : 15)
                // Named at random: a gzip stream sent as "deflate" cannot inflate (expected as decode_error below).
                rhead += "Content-Encoding: \(rng.chance(50) ? "gzip" : "deflate")\(eol)"
                rhead += "Content-Length: \(noBody ? 7 : body.count)\(eol)"
                wire = body
                if !noBody { decoded = source.count }
            default:
                body = sampleText(rng.below(300), seed: rng.next())
                wire = body
                flags.insert(.closeDelimited)
                closeDelimited = true
            }
            response += Array((rhead + eol).utf8) + wire
            responses.append(response)
            expected.append(Expected(method, target, status, requestBody: requestBody.count, responseBody: body.count,
                                     flags: flags, interim: interim, decoded: decoded))
        }
        // Interleave: a response only after its request; sometimes several requests first (pipelining).
        var events: [Event] = []
        var c = 0
        var s = 0
        while c < count || s < count {
            if s < c && (c == count || rng.chance(50)) {
                events.append(.data(.serverToClient, responses[s]))
                s += 1
            } else {
                events.append(.data(.clientToServer, requests[c]))
                c += 1
            }
        }
        if closeDelimited { events.append(.endS) }
        return Script(name: "generated \(seed)", events: events, expected: expected)
    }
}

@Suite struct RandomizedTests {
    /// "gzip" inflates gzip and zlib streams (zlib detects which); "deflate" inflates zlib or raw deflate, so a gzip
    /// stream sent as "deflate" is a decode error, which is what a browser would see too.
    @Test func generatedConversationsGiveTheirTransactions() {
        for seed in UInt64(0)..<300 {
            let script = Generator.conversation(seed: seed)
            let out = run(script)
            #expect(out.transactions.count == script.expected.count, "\(script.name)")
            for (t, e) in zip(out.transactions, script.expected) {
                var e = e
                if e.decoded != nil && t.flags.contains(.decodeError) { e.decoded = nil; e.flags.insert(.decodeError) }
                #expect(e.matches(t), "\(script.name): got \(t) expected \(e)")
            }
            #expect(out.counters.parseErrors.total == 0 && out.counters.bytesSkipped == 0, "\(script.name): \(out.counters)")
        }
    }

    @Test func randomSplitsGiveTheSameTransactions() {
        var rng = SeededGenerator(seed: 42)
        for seed in UInt64(0)..<300 {
            let script = Generator.conversation(seed: seed)
            let reference = run(script).transactions
            for _ in 0..<4 {
                var local = SeededGenerator(seed: rng.next())
                let out = run(script) { _, _, _, count in (0..<local.below(6)).map { _ in local.below(count + 1) } }
                #expect(out.transactions == reference, "\(script.name)")
            }
            if seed % 25 == 0 {
                #expect(run(script) { _, _, _, count in Array(1..<max(count, 1)) }.transactions == reference, "\(script.name)")
            }
        }
    }

    /// One gap inside one message of a generated conversation: every exchange is still reported once, at most the
    /// hit one is flagged, and no request is paired with another's response.
    @Test func aGapInsideOneMessageNeverShiftsPairs() {
        var rng = SeededGenerator(seed: 7)
        var checked = 0
        for seed in UInt64(0)..<400 {
            let script = Generator.conversation(seed: seed)
            guard case .data(let d, let bytes) = script.events[rng.below(script.events.count)].self,
                let index = script.events.firstIndex(where: { if case .data(d, bytes) = $0 { return true } else { return false } }),
                bytes.count > 1
            else { continue }
            // Close-delimited bodies end at FIN, not at a next message; keep them out of the pairing check.
            if script.expected.contains(where: { $0.flags.contains(.closeDelimited) }) { continue }
            let start = rng.below(bytes.count - 1)
            let length = 1 + rng.below(bytes.count - start)
            var events = script.events
            var replacement: [Event] = []
            if start > 0 { replacement.append(.data(d, Array(bytes[0..<start]))) }
            replacement.append(.gap(d, length, truncated: rng.chance(50)))
            if start + length < bytes.count { replacement.append(.data(d, Array(bytes[(start + length)...]))) }
            events.replaceSubrange(index...index, with: replacement)
            let gapped = Script(name: script.name + " gap \(d) \(start)+\(length)", events: events, expected: [])
            let out = run(gapped)
            checked += 1
            let statusOf = Dictionary(script.expected.map { ($0.target!, $0.status!) }, uniquingKeysWith: { a, _ in a })
            #expect(out.transactions.count == script.expected.count, "\(gapped.name): \(out.transactions)")
            for t in out.transactions {
                // A target cut by the gap is not in the table; every whole one must carry its own status.
                if let target = t.requestTarget, let status = t.statusCode, let want = statusOf[target] {
                    #expect(want == status, "\(gapped.name): \(out.transactions) expected \(script.expected)")
                }
            }
            let hit = out.transactions.filter { !$0.flags.isDisjoint(with: [.requestGap, .responseGap]) }
            #expect(hit.count <= 1, "\(gapped.name): \(out.transactions)")
            #expect(expectSameAtEverySplitQuick(gapped, rng: &rng), "\(gapped.name)")
        }
        #expect(checked > 100)
    }

    /// Random bytes and HTTP fragments, random gaps, ends, modes and tiny limits: never a crash, memory within the
    /// limits after every call, and a cost that stays linear.
    @Test func garbageIsBoundedAndCheap() {
        let vocabulary = [
            "HTTP/1.1 200 OK\r\n", "GET / HTTP/1.1\r\n", "POST /x HTTP/1.0\n", "Content-Length: 5\r\n",
            "Content-Length: 99999999\r\n", "Transfer-Encoding: chunked\r\n", "\r\n", "\n", "0\r\n\r\n", "5;x\r\nhello\r\n",
            "Upgrade: websocket\r\n", "HTTP/1.1 101 Switching\r\n\r\n", "CONNECT a:1 HTTP/1.1\r\n\r\n",
            "Content-Encoding: gzip\r\n", "HEAD / HTTP/1.1\r\n\r\n", "HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 204 N\r\n\r\n",
            "  folded\r\n", "Host: x\r\n", "fffffffffffffffffff\r\n", "HTTP/1.1 200 HTTP/1.1 200 HTTP/1.1 200 ",
        ].map { Array($0.utf8) } + [Zlib.compress(sampleText(3_000), windowBits: 31)]
        let clock = ContinuousClock()
        var totalBytes = 0
        let elapsed = clock.measure {
            for seed in UInt64(0)..<400 {
                var rng = SeededGenerator(seed: seed &* 7919)
                var limits = HTTP1Limits()
                limits.maxStartLineBytes = 8 + rng.below(300)
                limits.maxHeaderBlockBytes = 16 + rng.below(3_000)
                limits.maxHeaderCount = 1 + rng.below(20)
                limits.maxChunkSizeLineBytes = 2 + rng.below(64)
                limits.maxPendingRequests = rng.below(10)
                limits.bodyCaptureBytes = rng.below(20)
                limits.maxDecodedBytes = rng.below(5_000)
                let bound = 2 * (2 * max(limits.maxStartLineBytes, limits.maxHeaderBlockBytes) + limits.maxChunkSizeLineBytes)
                var conversation = HTTP1Conversation(limits: limits, midstream: rng.chance(50))
                var transactions = 0
                for _ in 0..<rng.below(80) {
                    let d: HTTPStreamDirection = rng.chance(50) ? .clientToServer : .serverToClient
                    switch rng.below(20) {
                    case 0:
                        conversation.gap(length: UInt64(rng.below(2_000)), from: d, truncated: rng.chance(50), timestamp: 1) { _ in transactions += 1 }
                    case 1:
                        conversation.end(from: d, timestamp: 2) { _ in transactions += 1 }
                    default:
                        var bytes: [UInt8] = []
                        for _ in 0..<rng.below(12) {
                            if rng.chance(40) {
                                bytes += (0..<rng.below(200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                            } else {
                                bytes += vocabulary[rng.below(vocabulary.count)]
                            }
                        }
                        totalBytes += bytes.count
                        bytes.withUnsafeBytes { conversation.receive($0, from: d, timestamp: 3) { _ in transactions += 1 } }
                    }
                    #expect(conversation.bufferedByteCount <= bound, "seed \(seed)")
                    #expect(conversation.pendingExchangeCount <= max(1, limits.maxPendingRequests), "seed \(seed)")
                }
                conversation.close(timestamp: 4) { _ in transactions += 1 }
                #expect(transactions == conversation.counters.transactions, "seed \(seed)")
            }
        }
        #expect(totalBytes > 1_000_000)
        #expect(elapsed < .seconds(60), "\(totalBytes) bytes took \(elapsed)")
    }

    /// Pure noise at line rate: linear time, nothing kept, nothing emitted.
    @Test(arguments: [false, true])
    func noiseIsScannedLinearly(midstream: Bool) {
        var rng = SeededGenerator(seed: 99)
        var noise = (0..<(1 << 20)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        // Worst cases for the scan: upper-case runs and repeated status-line prefixes without line ends.
        noise.replaceSubrange(0..<60_000, with: Array(String(repeating: "HTTP/1.1 200 ", count: 4_615).utf8))
        noise.replaceSubrange(100_000..<160_000, with: Array(String(repeating: "GET /A ", count: 8_571).utf8) + [0])
        var conversation = HTTP1Conversation(midstream: midstream)
        var transactions = 0
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            var offset = 0
            while offset < noise.count {
                let n = min(1 + rng.below(3_000), noise.count - offset)
                let d: HTTPStreamDirection = rng.chance(50) ? .clientToServer : .serverToClient
                noise[offset..<(offset + n)].withUnsafeBytes { conversation.receive($0, from: d, timestamp: 1) { _ in transactions += 1 } }
                #expect(conversation.bufferedByteCount <= 2 * 64 * 1024 * 2)
                offset += n
            }
            conversation.close(timestamp: 2) { _ in transactions += 1 }
        }
        #expect(conversation.counters.bytesSkipped + conversation.counters.tunnelBytes > noise.count / 2)
        #expect(elapsed < .seconds(20), "1 MiB of noise took \(elapsed)")
    }
}

/// A few random split points per direction (the full every-split check is for the hand-written scripts).
func expectSameAtEverySplitQuick(_ script: Script, rng: inout SeededGenerator) -> Bool {
    let reference = run(script).transactions
    for direction in [HTTPStreamDirection.clientToServer, .serverToClient] {
        let total = script.stream(direction).count
        for _ in 0..<3 {
            let split = rng.below(total + 1)
            let out = run(script) { _, d, offset, count in
                d == direction && split > offset && split < offset + count ? [split - offset] : []
            }
            if out.transactions != reference { return false }
        }
    }
    return true
}

/// Start lines judged whole (when a line arrives in one piece) and byte by byte (when it is split) must agree:
/// lines put together from the parts start lines are made of, each part right or slightly wrong.
@Suite struct StartLineTests {
    static let methods = ["GET", "get", "M-SEARCH", "HTTP", "X_Y", "G\u{01}T", "", String(repeating: "M", count: 32),
                          String(repeating: "M", count: 33), "GE/T", "é"]
    static let targets = ["/", "/a?b=c", "*", "http://h/x", "", "/a b", "/\u{7F}", "/é", "/\t", String(repeating: "t", count: 40)]
    static let versions = ["HTTP/1.1", "HTTP/1.0", "HTTP/1.", "HTTP/2.0", "HTTP/1.12", "HTTP/1.x", "HTTP/1.1 ", "http/1.1", "HTTP/11"]
    static let codes = ["200", "20", "2000", "abc", "101"]
    static let reasons = ["", " ", " OK", " Not Found", " \u{01}", " \u{7F}", " é", "\tX", " a\rb", "X"]
    static let separators = [" ", "  ", "\t", ""]
    static let ends = ["\r\n", "\n", "\r\r\n", " \r\n"]

    static func line(_ rng: inout SeededGenerator) -> String {
        var parts: [String] = []
        let lists = rng.chance(50)
            ? [Self.versions, [" "], Self.codes, Self.reasons, Self.ends]
            : [Self.methods, [" "], Self.targets, [" "], Self.versions, Self.ends]
        for list in lists {
            // A separator is a space, mostly; otherwise one of the wrong ones.
            let choices = list == [" "] && rng.chance(15) ? Self.separators : list
            parts.append(choices[rng.below(choices.count)])
        }
        return parts.joined()
    }

    @Test(arguments: 0..<8)
    func wholeAndSplitLinesAgree(batch: UInt64) {
        var rng = SeededGenerator(seed: 0x57A7 + batch)
        for _ in 0..<500 {
            let line = Self.line(&rng)
            let midstream = rng.chance(30)
            var limits = HTTP1Limits()
            // A short limit, so lines cross it; not mid-stream, where a candidate line seen whole is rejected for
            // its length before it is read, and one seen a byte at a time is read up to the limit (by design).
            limits.maxStartLineBytes = midstream ? 8192 : 48
            let script = Script(
                name: line,
                events: [.c(line + "Host: h\r\n\r\n"), .s(line + "Content-Length: 0\r\n\r\n"), .c("GET / HTTP/1.1\r\n\r\n"),
                         .s("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")],
                expected: [], midstream: midstream, limits: limits)
            let whole = run(script)
            let split = run(script) { _, _, _, count in Array(1..<max(count, 1)) }
            #expect(whole.transactions == split.transactions, "\(line.debugDescription)")
            #expect(whole.counters == split.counters, "\(line.debugDescription)")
        }
    }
}

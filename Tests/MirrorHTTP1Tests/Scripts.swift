// vpcmirror: the message kinds of issue 3 as whole conversations, with the transactions each must give.
import MirrorHTTP1

enum Scripts {
    static let host = "Host: example.com\r\n"

    static func get(_ target: String, _ extra: String = "") -> String {
        "GET \(target) HTTP/1.1\r\n\(host)User-Agent: test/1.0\r\n\(extra)\r\n"
    }

    static func ok(_ body: String, status: String = "200 OK", extra: String = "") -> String {
        "HTTP/1.1 \(status)\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n\(extra)\r\n\(body)"
    }

    static let postBody = sampleText(300, seed: 7)
    static let chunkBody = sampleText(700, seed: 8)
    static let gzipSource = sampleText(5_000, seed: 9)
    static let gzipBody = Zlib.compress(gzipSource, windowBits: 31)
    static let zlibBody = Zlib.compress(gzipSource, windowBits: 15)
    static let rawDeflateBody = Zlib.compress(gzipSource, windowBits: -15)
    static let tlsBytes: [UInt8] = [0x16, 0x03, 0x01, 0x00, 0x2F, 0x01, 0x00, 0x00, 0x2B, 0x03, 0x03] + Array("GET / HTTP/1.1\r\n\r\n".utf8) + [0x00, 0xFF]
    static let wsFrames: [UInt8] = [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58] + Array("HTTP/1.1 200 OK\r\n\r\n".utf8)

    /// Every message kind the issue lists, each fed whole, at every split point and byte by byte.
    static let kinds: [Script] = [
        Script(
            name: "simple GET",
            events: [.c(get("/index.html?q=1")), .s(ok("hello world\n"))],
            expected: [Expected("GET", "/index.html?q=1", 200, responseBody: 12)]),
        Script(
            name: "keep-alive sequence of 3",
            events: [.c(get("/1")), .s(ok("one")), .c(get("/2")), .s(ok("second")), .c(get("/3")), .s(ok(""))],
            expected: [Expected("GET", "/1", 200, responseBody: 3), Expected("GET", "/2", 200, responseBody: 6),
                       Expected("GET", "/3", 200, responseBody: 0)]),
        Script(
            name: "pipelined 3 requests in one buffer",
            events: [.c(get("/a") + get("/b") + get("/c")), .s(ok("A") + ok("BB", status: "404 Not Found") + ok("CCC"))],
            expected: [Expected("GET", "/a", 200, responseBody: 1), Expected("GET", "/b", 404, responseBody: 2),
                       Expected("GET", "/c", 200, responseBody: 3)]),
        Script(
            name: "POST with Content-Length",
            events: [
                .c(Array("POST /form HTTP/1.1\r\n\(host)Content-Type: text/plain\r\nContent-Length: 300\r\n\r\n".utf8) + postBody),
                .s("HTTP/1.1 201 Created\r\nLocation: /form/1\r\nContent-Length: 0\r\n\r\n"),
            ],
            expected: [Expected("POST", "/form", 201, requestBody: 300, responseBody: 0)]),
        Script(
            name: "chunked response with extensions and trailers",
            events: [
                .c(get("/stream")),
                .s(Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n".utf8)
                    + chunked(chunkBody, sizes: [100, 1, 255, 17], extensions: true, trailers: "X-Checksum: abc\r\nX-Other:  two \r\n")),
                .c(get("/after")), .s(ok("z")),
            ],
            expected: [Expected("GET", "/stream", 200, responseBody: 700, flags: .chunked),
                       Expected("GET", "/after", 200, responseBody: 1)]),
        Script(
            name: "chunked request",
            events: [
                .c(Array("PUT /up HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\n\r\n".utf8) + chunked(postBody, sizes: [64, 7])),
                .s(ok("stored")),
            ],
            expected: [Expected("PUT", "/up", 200, requestBody: 300, responseBody: 6, flags: .chunked)]),
        Script(
            name: "close-delimited HTTP/1.0 response",
            events: [
                .c("GET /old HTTP/1.0\r\nUser-Agent: old\r\n\r\n"),
                .s("HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html>"), .s("<body>bye</body></html>\n"), .endS, .endC,
            ],
            expected: [Expected("GET", "/old", 200, responseBody: 30, flags: .closeDelimited)]),
        Script(
            name: "HEAD then GET",
            events: [
                .c("HEAD /big HTTP/1.1\r\n\(host)\r\n"),
                .s("HTTP/1.1 200 OK\r\nContent-Length: 123456\r\nContent-Encoding: gzip\r\n\r\n"),
                .c(get("/small")), .s(ok("abc")),
            ],
            expected: [Expected("HEAD", "/big", 200, responseBody: 0), Expected("GET", "/small", 200, responseBody: 3)]),
        Script(
            name: "204 then GET",
            events: [
                .c("DELETE /item/1 HTTP/1.1\r\n\(host)\r\n"), .s("HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n"),
                .c(get("/next")), .s(ok("n")),
            ],
            expected: [Expected("DELETE", "/item/1", 204, responseBody: 0), Expected("GET", "/next", 200, responseBody: 1)]),
        Script(
            name: "304 with Content-Length then GET",
            events: [
                .c(get("/cached", "If-None-Match: \"x\"\r\n")),
                .s("HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nContent-Length: 5000\r\n\r\n"),
                .c(get("/next")), .s(ok("n")),
            ],
            expected: [Expected("GET", "/cached", 304, responseBody: 0), Expected("GET", "/next", 200, responseBody: 1)]),
        Script(
            name: "100-continue",
            events: [
                .c("POST /upload HTTP/1.1\r\n\(host)Content-Length: 300\r\nExpect: 100-continue\r\n\r\n"),
                .s("HTTP/1.1 100 Continue\r\n\r\n"), .c(postBody), .s(ok("done")),
            ],
            expected: [Expected("POST", "/upload", 200, requestBody: 300, responseBody: 4, interim: [100])]),
        Script(
            name: "two 100 Continue and 103 Early Hints",
            events: [
                .c("POST /upload HTTP/1.1\r\n\(host)Content-Length: 300\r\nExpect: 100-continue\r\n\r\n"),
                .s("HTTP/1.1 100 Continue\r\n\r\n"), .c(Array(postBody[0..<100])),
                .s("HTTP/1.1 100 Continue\r\n\r\n"), .c(Array(postBody[100...])),
                .s("HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n" + ok("file uploaded")),
            ],
            expected: [Expected("POST", "/upload", 200, requestBody: 300, responseBody: 13, interim: [100, 100, 103])]),
        Script(
            name: "CONNECT 200 then tunnel",
            events: [
                .c("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"),
                .s("HTTP/1.1 200 Connection Established\r\n\r\n"),
                .c(tlsBytes), .s(tlsBytes), .c(tlsBytes), .endC, .endS,
            ],
            expected: [Expected("CONNECT", "example.com:443", 200, responseBody: 0, flags: .upgrade)]),
        Script(
            name: "CONNECT refused with 407, then CONNECT 200 and tunnel",
            events: [
                .c("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"),
                .s("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\nContent-Length: 4\r\n\r\nauth"),
                .c("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nProxy-Authorization: Basic eDp5\r\n\r\n"),
                .s("HTTP/1.1 200 OK\r\n\r\n"), .c(tlsBytes), .s(tlsBytes),
            ],
            expected: [Expected("CONNECT", "example.com:443", 407, responseBody: 4),
                       Expected("CONNECT", "example.com:443", 200, responseBody: 0, flags: .upgrade)]),
        Script(
            name: "Upgrade 101 then websocket",
            events: [
                .c("GET /chat HTTP/1.1\r\n\(host)Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: x3JJ\r\n\r\n"),
                .s("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"),
                .c(wsFrames), .s(wsFrames), .c(wsFrames),
            ],
            expected: [Expected("GET", "/chat", 101, responseBody: 0, flags: .upgrade)]),
        Script(
            name: "Upgrade refused with 200, then keep-alive",
            events: [
                .c(get("/maybe", "Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n")),
                .s(ok("plain")), .c(get("/next")), .s(ok("n")),
            ],
            expected: [Expected("GET", "/maybe", 200, responseBody: 5), Expected("GET", "/next", 200, responseBody: 1)]),
        Script(
            name: "Connection: close",
            events: [.c(get("/bye", "Connection: close\r\n")), .s(ok("bye", extra: "Connection: close\r\n")), .endS, .endC],
            expected: [Expected("GET", "/bye", 200, responseBody: 3)]),
        Script(
            name: "HTTP/1.0 keep-alive",
            events: [
                .c("GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
                .s("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi"),
                .c("GET /2 HTTP/1.0\r\n\r\n"), .s("HTTP/1.0 200 OK\r\n\r\nrest until close"), .endS,
            ],
            expected: [Expected("GET", "/1", 200, responseBody: 2),
                       Expected("GET", "/2", 200, responseBody: 16, flags: .closeDelimited)]),
        Script(
            name: "gzip body",
            events: [
                .c(get("/z", "Accept-Encoding: gzip\r\n")),
                .s(Array("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: \(gzipBody.count)\r\n\r\n".utf8) + gzipBody),
            ],
            expected: [Expected("GET", "/z", 200, responseBody: gzipBody.count, decoded: 5_000)]),
        Script(
            name: "gzip chunked body",
            events: [
                .c(get("/zc")),
                .s(Array("HTTP/1.1 200 OK\r\nContent-Encoding: x-gzip\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
                    + chunked(gzipBody, sizes: [13, 200])),
            ],
            expected: [Expected("GET", "/zc", 200, responseBody: gzipBody.count, flags: .chunked, decoded: 5_000)]),
        Script(
            name: "deflate (zlib) body",
            events: [
                .c(get("/d")),
                .s(Array("HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: \(zlibBody.count)\r\n\r\n".utf8) + zlibBody),
            ],
            expected: [Expected("GET", "/d", 200, responseBody: zlibBody.count, decoded: 5_000)]),
        Script(
            name: "deflate (raw) body",
            events: [
                .c(get("/r")),
                .s(Array("HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: \(rawDeflateBody.count)\r\n\r\n".utf8) + rawDeflateBody),
            ],
            expected: [Expected("GET", "/r", 200, responseBody: rawDeflateBody.count, decoded: 5_000)]),
        Script(
            name: "bare LF lines",
            events: [
                .c("GET /bar/ HTTP/1.1\nHost: testmyids.org\n\nGET /foo/ HTTP/1.1\nHost: testmyids.org\n\n"),
                .s("HTTP/1.1 200 OK\nContent-Length: 3\n\nbar"), .s("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nfoo"),
            ],
            expected: [Expected("GET", "/bar/", 200, responseBody: 3), Expected("GET", "/foo/", 200, responseBody: 3)]),
        Script(
            name: "empty lines between messages",
            events: [.c(get("/1") + "\r\n" + get("/2")), .s(ok("a") + "\r\n\r\n" + ok("b"))],
            expected: [Expected("GET", "/1", 200, responseBody: 1), Expected("GET", "/2", 200, responseBody: 1)]),
    ]
}

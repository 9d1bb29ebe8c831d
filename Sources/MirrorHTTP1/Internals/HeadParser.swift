// vpcmirror: turns a buffered message head into fields and the facts that decide how its body is framed.

/// How a message declared its body (RFC 9112 §6).
enum TransferCoding: Hashable, Sendable {
    case none
    /// The last transfer coding is chunked.
    case chunked
    /// Transfer-Encoding without chunked last: a response runs to close, a request cannot be framed.
    case other
}

/// A Content-Encoding we can measure with zlib.
enum ContentCoding: Hashable, Sendable {
    case none
    case gzip
    case deflate
    /// Anything else, or several codings.
    case other
}

/// The fields of one head. Strings are made here, once per message; nothing per packet.
struct ParsedHead: Sendable {
    var kind: MessageKind?
    var method: String?
    var target: String?
    var version: String?
    var statusCode: Int?
    var reason: String?
    var headers: [(name: String, value: String)] = []
    /// Lines that were ignored (see ``HTTP1ParseErrors/invalidHeaderLine``).
    var invalidLines = 0

    var contentLength: Int?
    var contentLengthInvalid = false
    var transferCoding = TransferCoding.none
    var contentCoding = ContentCoding.none
    var connectionClose = false
    var connectionKeepAlive = false
    var upgrade = false
}

enum HeadParser {
    /// Parses a head.
    /// - Parameters:
    ///   - bytes: the head from its first byte. When `startLine` is true the first line is a start line already
    ///     accepted by ``StartLineMatcher`` (it may lack its LF if the head was cut); otherwise every line is a field
    ///     (a trailer section). Only lines ended by LF are taken as fields; an empty line ends the block.
    ///   - maxFields: fields past this count are not kept.
    static func parse(_ bytes: UnsafeRawBufferPointer, startLine: Bool, maxFields: Int) -> ParsedHead {
        var head = ParsedHead()
        var position = 0
        if startLine {
            let end = bytes.firstIndex(of: ASCII.lf, in: 0..<bytes.count) ?? bytes.count
            Self.parseStartLine(UnsafeRawBufferPointer(rebasing: bytes[0..<Self.trimCR(bytes, 0, end)]), into: &head)
            position = end + 1
        }
        while position < bytes.count {
            guard let lf = bytes.firstIndex(of: ASCII.lf, in: position..<bytes.count) else { break }
            let end = Self.trimCR(bytes, position, lf)
            defer { position = lf + 1 }
            if end == position { break }  // the empty line that ends the block
            if ASCII.isWhitespace(bytes[position]) {
                // obs-fold (RFC 9112 §5.2): joined to the previous value with one space, as a recipient may.
                guard !head.headers.isEmpty else {
                    head.invalidLines += 1
                    continue
                }
                let value = Self.trimmed(bytes, position, end)
                if !value.isEmpty {
                    let last = head.headers.count - 1
                    head.headers[last].value += head.headers[last].value.isEmpty ? value : " " + value
                }
                continue
            }
            guard let colon = bytes.firstIndex(of: ASCII.colon, in: position..<end), colon > position,
                (position..<colon).allSatisfy({ ASCII.isTokenChar(bytes[$0]) })
            else {
                head.invalidLines += 1
                continue
            }
            guard head.headers.count < maxFields else { continue }
            head.headers.append((Self.lowercased(bytes, position, colon), Self.trimmed(bytes, colon + 1, end)))
        }
        Self.readFraming(&head)
        return head
    }

    private static func trimCR(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Int {
        end > start && bytes[end - 1] == ASCII.cr ? end - 1 : end
    }

    private static func parseStartLine(_ line: UnsafeRawBufferPointer, into head: inout ParsedHead) {
        let string = { (a: Int, b: Int) in
            String(decoding: UnsafeRawBufferPointer(rebasing: line[a..<b]), as: UTF8.self)
        }
        if line.count >= 5, line[0] == 0x48, line[1] == 0x54, line[2] == 0x54, line[3] == 0x50, line[4] == 0x2F {
            // HTTP/1.x SP 3DIGIT [SP reason]; the matcher has checked the layout of what is there.
            head.kind = .response
            if line.count >= 8 { head.version = string(5, 8) }
            if line.count >= 12 {
                head.statusCode = (9..<12).reduce(0) { $0 * 10 + Int(line[$1] &- 0x30) }
            }
            head.reason = line.count > 13 ? string(13, line.count) : ""
            return
        }
        head.kind = .request
        let firstSpace = line.firstIndex(of: ASCII.space, in: 0..<line.count) ?? line.count
        head.method = string(0, firstSpace)
        guard firstSpace < line.count else { return }
        // The version is the last 8 bytes when the line is whole ("SP HTTP/1.x" ends it).
        let whole = line.count >= firstSpace + 11 && line[line.count - 9] == ASCII.space
            && line[line.count - 8] == 0x48 && line[line.count - 4] == 0x2F
        if whole {
            head.target = string(firstSpace + 1, line.count - 9)
            head.version = string(line.count - 3, line.count)
        } else {
            head.target = string(firstSpace + 1, line.count)
        }
    }

    private static func trimmed(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> String {
        var a = start
        var b = end
        while a < b && ASCII.isWhitespace(bytes[a]) { a += 1 }
        while b > a && ASCII.isWhitespace(bytes[b - 1]) { b -= 1 }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[a..<b]), as: UTF8.self)
    }

    private static func lowercased(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> String {
        // Names are tchar, so ASCII: lower-case them byte by byte into the new string.
        String(unsafeUninitializedCapacity: end - start) { buffer in
            for i in start..<end { buffer[i - start] = ASCII.lower(bytes[i]) }
            return end - start
        }
    }

    /// Splits a list-valued field on commas, trimmed, lower-cased, empty elements dropped.
    private static func tokens(_ value: String) -> [Substring] {
        value.lowercased().split(separator: ",").map { $0.trimmingSpaces() }.filter { !$0.isEmpty }
    }

    private static func readFraming(_ head: inout ParsedHead) {
        var lengths: [Int] = []
        var codings: [Substring] = []
        for (name, value) in head.headers {
            switch name {
            case "content-length":
                for element in value.split(separator: ",") {
                    let digits = element.trimmingSpaces()
                    guard !digits.isEmpty, digits.utf8.allSatisfy(ASCII.isDigit), let n = Int(digits) else {
                        head.contentLengthInvalid = true
                        continue
                    }
                    lengths.append(n)
                }
            case "transfer-encoding":
                codings += Self.tokens(value)
            case "connection":
                for token in Self.tokens(value) {
                    if token == "close" { head.connectionClose = true }
                    if token == "keep-alive" { head.connectionKeepAlive = true }
                }
            case "upgrade":
                head.upgrade = true
            case "content-encoding":
                let list = Self.tokens(value).filter { $0 != "identity" }
                switch list.count {
                case 0: break
                case 1 where list[0] == "gzip" || list[0] == "x-gzip": head.contentCoding = .gzip
                case 1 where list[0] == "deflate": head.contentCoding = .deflate
                default: head.contentCoding = .other
                }
            default:
                break
            }
        }
        // Repeated Content-Length values must agree (RFC 9112 §6.3 item 5).
        if let first = lengths.first {
            if lengths.allSatisfy({ $0 == first }) {
                head.contentLength = first
            } else {
                head.contentLengthInvalid = true
            }
        }
        if !codings.isEmpty { head.transferCoding = codings.last == "chunked" ? .chunked : .other }
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }
}

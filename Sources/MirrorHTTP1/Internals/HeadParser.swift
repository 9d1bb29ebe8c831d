// vpcmirror: turns a buffered message head into field ranges and the facts that decide how its body is framed.

/// How a message declared its body (RFC 9112 §6).
enum TransferCoding: Hashable, Sendable {
    case none
    /// The last transfer coding is chunked.
    case chunked
    /// Transfer-Encoding without chunked last: a response runs to close, a request cannot be framed.
    case other
}

/// A Content-Encoding whose decoded size we can measure.
enum ContentCoding: Hashable, Sendable {
    case none
    case gzip
    case deflate
    /// Anything else, or several codings.
    case other
}

/// What a head says about how its body is framed (plain values, cheap to copy).
struct Framing: Sendable {
    var contentLength: Int?
    var contentLengthInvalid = false
    var transferCoding = TransferCoding.none
    var contentCoding = ContentCoding.none
    var connectionClose = false
    var connectionKeepAlive = false
    var upgrade = false
}

/// What parsing a head found besides its parts (plain values: the head itself is handed on separately, moved).
struct ParsedHead: Sendable {
    var kind: MessageKind?
    /// Lines that were ignored (see ``HTTP1ParseErrors/invalidHeaderLine``).
    var invalidLines = 0
    var framing = Framing()
}

enum HeadParser {
    /// Parses a head, which it keeps: no other copy is made, and nothing becomes a `String`.
    /// - Parameters:
    ///   - bytes: the head from its first byte. When `startLine` is true the first line is a start line already
    ///     accepted by ``StartLineMatcher`` (it may lack its LF if the head was cut); otherwise every line is a field
    ///     (a trailer section). Only lines ended by LF are taken as fields; an empty line ends the block.
    ///   - maxFields: fields past this count are not kept.
    ///   - expectedFields: how many lines the head's scan counted (room for the fields is made once).
    static func parse(
        _ bytes: consuming [UInt8], startLine: Bool, maxFields: Int, expectedFields: Int = 0
    ) -> (HTTPHead, ParsedHead) {
        var bytes = bytes
        var fields: [HTTPHead.Field] = []
        fields.reserveCapacity(min(max(expectedFields, 1), maxFields))
        var line = StartLine()
        var invalidLines = 0
        // Continuation lines (obs-fold): the field they continue and their trimmed bytes, joined after the scan.
        var folds: [(field: Int, start: Int, end: Int)] = []
        bytes.withUnsafeMutableBytes { mutable in
            let bytes = UnsafeRawBufferPointer(mutable)
            let count = bytes.count
            var position = 0
            if startLine {
                let end = bytes.firstIndex(of: ASCII.lf, in: 0..<count) ?? count
                line = Self.parseStartLine(bytes, length: Self.trimCR(bytes, 0, end))
                position = end + 1
            }
            while position < count {
                guard let lf = bytes.firstIndex(of: ASCII.lf, in: position..<count) else { break }
                let end = Self.trimCR(bytes, position, lf)
                defer { position = lf + 1 }
                if end == position { break }  // the empty line that ends the block
                if ASCII.isWhitespace(bytes[position]) {
                    // obs-fold (RFC 9112 §5.2): joined to the previous value with one space, as a recipient may.
                    guard !fields.isEmpty else {
                        invalidLines += 1
                        continue
                    }
                    let value = Self.trimmed(bytes, position, end)
                    if !value.isEmpty { folds.append((fields.count - 1, value.lowerBound, value.upperBound)) }
                    continue
                }
                guard let colon = Self.lowercasedName(mutable, from: position, to: end) else {
                    invalidLines += 1
                    continue
                }
                guard fields.count < maxFields else { continue }
                fields.append(HTTPHead.Field(name: position..<colon, value: Self.trimmed(bytes, colon + 1, end)))
            }
        }
        if !folds.isEmpty { Self.join(folds, bytes: &bytes, fields: &fields) }
        // Made whole, as a constant: a head made and then changed is copied on its way out.
        let head = HTTPHead(
            bytes: consume bytes, fields: consume fields, method: line.method, target: line.target,
            version: line.version, reason: line.reason, statusCode: line.statusCode)
        let parsed = ParsedHead(kind: line.kind, invalidLines: invalidLines, framing: Self.readFraming(head))
        return (head, parsed)
    }

    /// A field line's name, lower-cased in place: returns where its colon is, or nil when the line has no colon
    /// or its name is empty or not a token (bytes before the first that is not may then be lower-cased already,
    /// which is harmless: an invalid line is never reported).
    private static func lowercasedName(_ bytes: UnsafeMutableRawBufferPointer, from start: Int, to end: Int) -> Int? {
        var i = start
        // Eight bytes at a time while they are letters, digits and `-` (most names): up to a colon, upper-case
        // letters get the 0x20 bit. Anything else is left to the byte loop below, from that word on.
        if let base = bytes.baseAddress {
            while i + 8 <= end {
                let x = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                let colons = ASCIIWord.equal(x, ASCII.colon)
                let upper = ASCIIWord.between(x, 0x41, 0x5A)
                let ok = upper | ASCIIWord.between(x, 0x61, 0x7A) | ASCIIWord.between(x, 0x30, 0x39)
                    | ASCIIWord.equal(x, UInt8(ascii: "-"))
                // Bytes before the first colon (all eight without one).
                let before: UInt64 = colons == 0 ? ~0 : (1 << UInt64(colons.trailingZeroBitCount - 7)) &- 1
                guard ok & before == before & ASCIIWord.high else { break }
                base.storeBytes(of: (x | ((upper >> 2) & before)).littleEndian, toByteOffset: i, as: UInt64.self)
                if colons != 0 {
                    let colon = i + (colons.trailingZeroBitCount >> 3)
                    return colon > start ? colon : nil
                }
                i += 8
            }
        }
        while i < end {
            let b = bytes[i]
            if b == ASCII.colon { return i > start ? i : nil }
            guard ASCII.isTokenChar(b) else { return nil }
            bytes[i] = ASCII.lower(b)
            i += 1
        }
        return nil
    }

    /// Appends each continued value, joined, after the head, and points its field there.
    private static func join(
        _ folds: [(field: Int, start: Int, end: Int)], bytes: inout [UInt8], fields: inout [HTTPHead.Field]
    ) {
        var moved = -1  // the field whose value is already at the end (a field's folds come one after another)
        for fold in folds {
            var value = fields[fold.field].value
            if moved != fold.field {
                moved = fold.field
                let start = bytes.count
                bytes.append(contentsOf: bytes[value])
                value = start..<bytes.count
            }
            if !value.isEmpty { bytes.append(ASCII.space) }
            bytes.append(contentsOf: bytes[fold.start..<fold.end])
            fields[fold.field].value = value.lowerBound..<bytes.count
        }
    }

    private static func trimCR(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Int {
        end > start && bytes[end - 1] == ASCII.cr ? end - 1 : end
    }

    /// The parts of a start line.
    private struct StartLine {
        var kind: MessageKind?
        var method: Range<Int>?
        var target: Range<Int>?
        var version: Range<Int>?
        var reason: Range<Int>?
        var statusCode: Int?
    }

    /// The start line is `line[0..<length]`, without its CR and LF.
    private static func parseStartLine(_ line: UnsafeRawBufferPointer, length: Int) -> StartLine {
        var parts = StartLine()
        if length >= 5, line[0] == 0x48, line[1] == 0x54, line[2] == 0x54, line[3] == 0x50, line[4] == 0x2F {
            // HTTP/1.x SP 3DIGIT [SP reason]; the matcher has checked the layout of what is there.
            parts.kind = .response
            if length >= 8 { parts.version = 5..<8 }
            if length >= 12 {
                parts.statusCode = (9..<12).reduce(0) { $0 * 10 + Int(line[$1] &- 0x30) }
            }
            parts.reason = length > 13 ? 13..<length : length..<length
            return parts
        }
        parts.kind = .request
        let firstSpace = line.firstIndex(of: ASCII.space, in: 0..<length) ?? length
        parts.method = 0..<firstSpace
        guard firstSpace < length else { return parts }
        // The version is the last 8 bytes when the line is whole ("SP HTTP/1.x" ends it).
        let whole = length >= firstSpace + 11 && line[length - 9] == ASCII.space
            && line[length - 8] == 0x48 && line[length - 4] == 0x2F
        if whole {
            parts.target = (firstSpace + 1)..<(length - 9)
            parts.version = (length - 3)..<length
        } else {
            parts.target = (firstSpace + 1)..<length
        }
        return parts
    }

    /// `start..<end` without leading and trailing spaces and tabs.
    private static func trimmed(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Range<Int> {
        var a = start
        var b = end
        while a < b && ASCII.isWhitespace(bytes[a]) { a += 1 }
        while b > a && ASCII.isWhitespace(bytes[b - 1]) { b -= 1 }
        return a..<b
    }

    // MARK: - Framing

    /// Reads Content-Length, Transfer-Encoding, Connection, Upgrade and Content-Encoding, comparing bytes (names are
    /// lower-cased already, so they compare exactly).
    ///
    /// Lists are split on commas and compared without ASCII case. (Before, values were lower-cased as Unicode text,
    /// which took U+212A KELVIN SIGN for `k`; tokens are ASCII (RFC 9110 §5.6.2), so no HTTP/1 peer does that.)
    private static func readFraming(_ head: HTTPHead) -> Framing {
        var framing = Framing()
        var firstLength: Int?
        var lengthsAgree = true
        var transferCodings = 0
        var lastTransferCoding = Coding.other
        head.bytes.withUnsafeBytes { bytes in
            for field in head.fields {
                let name = field.name
                // Only these five names matter; their lengths are 7, 10, 14, 16 and 17.
                guard name.count == 7 || name.count == 10 || name.count == 14 || name.count == 16 || name.count == 17
                else { continue }
                let value = field.value
                if bytes.bytes(in: name, equal: "content-length") {
                    Self.forEachElement(bytes, value) { element in
                        guard let n = Self.decimal(bytes, element) else {
                            framing.contentLengthInvalid = true
                            return
                        }
                        if let first = firstLength {
                            lengthsAgree = lengthsAgree && n == first
                        } else {
                            firstLength = n
                        }
                    }
                } else if bytes.bytes(in: name, equal: "transfer-encoding") {
                    Self.forEachElement(bytes, value) { element in
                        guard !element.isEmpty else { return }
                        transferCodings += 1
                        lastTransferCoding = Self.coding(bytes, element)
                    }
                } else if bytes.bytes(in: name, equal: "connection") {
                    Self.forEachElement(bytes, value) { element in
                        if Self.equal(bytes, element, "close") { framing.connectionClose = true }
                        if Self.equal(bytes, element, "keep-alive") { framing.connectionKeepAlive = true }
                    }
                } else if bytes.bytes(in: name, equal: "upgrade") {
                    framing.upgrade = true
                } else if bytes.bytes(in: name, equal: "content-encoding") {
                    var count = 0
                    var last = Coding.other
                    Self.forEachElement(bytes, value) { element in
                        guard !element.isEmpty, !Self.equal(bytes, element, "identity") else { return }
                        count += 1
                        last = Self.coding(bytes, element)
                    }
                    switch count {
                    case 0: break
                    case 1 where last == .gzip: framing.contentCoding = .gzip
                    case 1 where last == .deflate: framing.contentCoding = .deflate
                    default: framing.contentCoding = .other
                    }
                }
            }
        }
        // Repeated Content-Length values must agree (RFC 9112 §6.3 item 5).
        if let firstLength {
            if lengthsAgree {
                framing.contentLength = firstLength
            } else {
                framing.contentLengthInvalid = true
            }
        }
        if transferCodings > 0 { framing.transferCoding = lastTransferCoding == .chunked ? .chunked : .other }
        return framing
    }

    /// The codings framing tells apart.
    private enum Coding {
        case chunked, gzip, deflate, other
    }

    private static func coding(_ bytes: UnsafeRawBufferPointer, _ element: Range<Int>) -> Coding {
        if Self.equal(bytes, element, "chunked") { return .chunked }
        if Self.equal(bytes, element, "gzip") || Self.equal(bytes, element, "x-gzip") { return .gzip }
        if Self.equal(bytes, element, "deflate") { return .deflate }
        return .other
    }

    /// Whether `bytes[range]` is `lowercase` in any ASCII case.
    static func equal(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ lowercase: StaticString) -> Bool {
        guard range.count == lowercase.utf8CodeUnitCount else { return false }
        let expected = lowercase.utf8Start
        for i in 0..<range.count where ASCII.lower(bytes[range.lowerBound + i]) != expected[i] { return false }
        return true
    }

    /// Calls `body` with each element of a comma-separated list, trimmed of spaces and tabs. Nothing between two
    /// commas (or before the first, or after the last) is no element; an element of only spaces is passed empty
    /// (an error in a Content-Length, nothing in a list of tokens).
    private static func forEachElement(
        _ bytes: UnsafeRawBufferPointer, _ value: Range<Int>, _ body: (Range<Int>) -> Void
    ) {
        var start = value.lowerBound
        var i = value.lowerBound
        while i <= value.upperBound {
            if i == value.upperBound || bytes[i] == UInt8(ascii: ",") {
                if i > start { body(Self.trimmed(bytes, start, i)) }
                start = i + 1
            }
            i += 1
        }
    }

    /// A non-negative decimal of digits only, or nil (empty, another byte, or too large for `Int`).
    private static func decimal(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int? {
        guard !range.isEmpty else { return nil }
        var n = 0
        for i in range {
            guard ASCII.isDigit(bytes[i]) else { return nil }
            let (times, o1) = n.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(Int(bytes[i] &- 0x30))
            guard !o1, !o2 else { return nil }
            n = sum
        }
        return n
    }
}

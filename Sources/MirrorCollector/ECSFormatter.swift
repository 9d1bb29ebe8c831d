// vpcmirror: one HTTP exchange as an Elastic Common Schema JSON line, written straight from the heads' bytes.
public import MirrorHTTP1
public import MirrorJSON
public import MirrorWire

/// What a line says about the connection an exchange was seen on. The same for every exchange of a connection, so
/// its JSON is written once, when the connection is first reported (a class: each line takes it without a copy).
public final class ECSConnection: Sendable {
    /// `"source":{…},"destination":{…},"client":{…},"server":{…},"network":{…}`
    let endpoints: [UInt8]
    /// `"vni":N,"session_id":"…",` (either may be absent), the start of the `mirror` object.
    let mirror: [UInt8]

    /// - Parameters:
    ///   - client: the side that sent the requests.
    ///   - outerVLAN, innerVLAN: 802.1Q tags of the mirrored frames, when tagged.
    ///   - vni: the VXLAN network identifier the frames came in on; nil for frames that were not VXLAN.
    ///   - sessionID: the TrafficMirrorSessionId of that VNI, from a sessions file.
    public init(
        client: (address: IPAddress, port: UInt16), server: (address: IPAddress, port: UInt16), outerVLAN: UInt16?,
        innerVLAN: UInt16?, vni: UInt32?, sessionID: String?
    ) {
        let out = JSONBuffer(capacity: 512)
        let ends: [(StaticString, (address: IPAddress, port: UInt16))] = [
            ("\"source\":{\"ip\":", client), ("\"destination\":{\"ip\":", server), ("\"client\":{\"ip\":", client),
            ("\"server\":{\"ip\":", server),
        ]
        for (key, end) in ends {
            out.append(key)
            out.appendString(end.address.description)
            out.append(",\"port\":")
            out.append(Int(end.port))
            out.append("},")
        }
        out.append("\"network\":{\"transport\":\"tcp\",\"protocol\":\"http\",\"type\":")
        out.append(client.address.isIPv4 ? "\"ipv4\"" : "\"ipv6\"")
        if let v = outerVLAN {
            out.append(",\"vlan\":{\"id\":")
            out.appendString(String(v))
            out.append("}")
        }
        if let v = innerVLAN {
            out.append(",\"inner\":{\"vlan\":{\"id\":")
            out.appendString(String(v))
            out.append("}}")
        }
        out.append("}")
        self.endpoints = out.withBytes { Array($0) }
        out.removeAll()
        if let vni {
            out.append("\"vni\":")
            out.append(Int(vni))
            out.append(",")
        }
        if let sessionID {
            out.append("\"session_id\":")
            out.appendString(sessionID)
            out.append(",")
        }
        self.mirror = out.withBytes { Array($0) }
    }
}

/// Writes exchanges as one JSON object per line with ECS field names (nested objects, as Elastic's shippers do).
/// Field by field: docs/output.md. Text comes from the heads' bytes as they were on the wire: no `String` is made
/// per header, and only the few bytes that need it are escaped.
public enum ECSFormatter {
    /// Appends the line of `t`, with its newline.
    public static func write(_ t: HTTPTransaction, on connection: ECSConnection, into out: JSONBuffer) {
        var second = SecondText()
        Self.write(t, on: connection, into: out, second: &second)
    }

    /// The same, reusing the text of the second the line before was dated in (`second`).
    static func write(_ t: HTTPTransaction, on connection: ECSConnection, into out: JSONBuffer, second: inout SecondText) {
        Self.write(t, request: t.requestHead, response: t.responseHead, on: connection, into: out, second: &second)
    }

    /// The same, with the heads already taken from the transaction (each take is a copy).
    static func write(
        _ t: HTTPTransaction, request: HTTPHead?, response: HTTPHead?, on connection: ECSConnection,
        into out: JSONBuffer, second: inout SecondText
    ) {
        // Without a request (lost, or before the capture began), the line is dated by the response.
        out.append("{\"@timestamp\":\"")
        Self.appendISO8601(nanoseconds: t.requestTimestamp ?? t.responseEndTimestamp ?? 0, into: out, second: &second)
        out.append("\",\"event\":{\"kind\":\"event\",\"category\":[\"network\",\"web\"],")
        out.append("\"type\":[\"connection\",\"protocol\"]")
        // Capture times may be anything: a duration past Int64 is not written (it is not one).
        if let a = t.requestTimestamp, let b = t.responseEndTimestamp, case (let d, false) = b.subtractingReportingOverflow(a) {
            out.append(",\"duration\":")
            out.append(Int(d))
        }
        out.append("},")
        connection.endpoints.withUnsafeBytes { out.append($0) }
        out.append(",\"http\":{")
        var comma = false
        if let request, let version = request.version {
            out.append("\"version\":")
            Self.string(request, version, out)
            comma = true
        } else if let response, let version = response.version {
            out.append("\"version\":")
            Self.string(response, version, out)
            comma = true
        }
        let method = request?.method
        if method != nil || t.requestBytes != nil {
            out.append(comma ? ",\"request\":{" : "\"request\":{")
            if let request, let method {
                out.append("\"method\":")
                Self.string(request, method, out)
            }
            Self.message(
                request, first: method != nil, bytes: t.requestBytes, bodyBytes: t.requestBodyBytes, body: t.requestBody,
                out)
            comma = true
        }
        let status = response?.statusCode
        if status != nil || t.responseBytes != nil {
            out.append(comma ? ",\"response\":{" : "\"response\":{")
            if let status {
                out.append("\"status_code\":")
                out.append(status)
            }
            Self.message(
                response, first: status != nil, bytes: t.responseBytes, bodyBytes: t.responseBodyBytes,
                body: t.responseBody, out)
        }
        out.append("}")
        if let request {
            request.bytes.withUnsafeBytes { bytes in
                if let target = request.target {
                    let host = request.firstValue(named: "host")
                    out.append(",\"url\":{\"original\":")
                    out.appendString(UnsafeRawBufferPointer(rebasing: bytes[target]))
                    if Self.isASCII(bytes, target) && host.map({ Self.isASCII(bytes, $0) }) != false {
                        if !target.isEmpty && bytes[target.lowerBound] == UInt8(ascii: "/") {
                            Self.originURL(bytes, target: target, out)
                            Self.authority(host.map { bytes[$0] }, out)
                        } else {
                            Self.url(target: bytes[target], host: host.map { bytes[$0] }, out)
                        }
                    } else {
                        // Not ASCII: split as the text it decodes to (grapheme clusters, Unicode lower case).
                        let text = Substring(request.string(target))
                        Self.url(target: text, host: host.map { Substring(request.string($0)) }, out)
                    }
                    out.append("}")
                }
                if let agent = request.firstValue(named: "user-agent") {
                    out.append(",\"user_agent\":{\"original\":")
                    out.appendString(UnsafeRawBufferPointer(rebasing: bytes[agent]))
                    out.append("}")
                }
            }
        }
        out.append(",\"mirror\":{")
        connection.mirror.withUnsafeBytes { out.append($0) }
        let interim = t.interimStatusCodes
        if !interim.isEmpty {
            out.append("\"interim_status_codes\":[")
            for (i, code) in interim.enumerated() {
                if i > 0 { out.append(",") }
                out.append(code)
            }
            out.append("],")
        }
        if let d = t.requestBodyDecodedBytes {
            out.append("\"request_body_decoded_bytes\":")
            out.append(d)
            out.append(",")
        }
        if let d = t.responseBodyDecodedBytes {
            out.append("\"response_body_decoded_bytes\":")
            out.append(d)
            out.append(",")
        }
        out.append("\"flags\":[")
        if !t.flags.isEmpty {
            var first = true
            for (flag, name) in Self.flagNames where t.flags.contains(flag) {
                if !first { out.append(",") }
                first = false
                name.withUnsafeBytes { out.append($0) }
            }
        }
        out.append("]}}\n")
    }

    /// The line of `t`, without its newline (for tests and tools; collecting writes into one buffer).
    public static func line(_ t: HTTPTransaction, on connection: ECSConnection) -> String {
        let out = JSONBuffer()
        Self.write(t, on: connection, into: out)
        return out.withBytes { String(decoding: $0.dropLast(), as: UTF8.self) }
    }

    /// Flag names, quoted, in output order.
    private static let flagNames: [(HTTPTransactionFlags, [UInt8])] = HTTPTransactionFlags.all.map {
        ($0.flag, Array("\"\($0.name)\"".utf8))
    }

    private static func string(_ head: HTTPHead, _ range: Range<Int>, _ out: JSONBuffer) {
        head.bytes.withUnsafeBytes { out.appendString(UnsafeRawBufferPointer(rebasing: $0[range])) }
    }

    private static func isASCII(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        for i in range where bytes[i] >= 0x80 { return false }
        return true
    }

    /// The rest of `http.request` or `http.response` (after its method or status code): sizes, body, headers.
    private static func message(
        _ head: HTTPHead?, first: Bool, bytes: Int?, bodyBytes: Int?, body: [UInt8]?, _ out: JSONBuffer
    ) {
        var comma = first
        if let b = bytes {
            out.append(comma ? ",\"bytes\":" : "\"bytes\":")
            out.append(b)
            comma = true
        }
        if bodyBytes != nil || body != nil {
            out.append(comma ? ",\"body\":{" : "\"body\":{")
            if let b = bodyBytes {
                out.append("\"bytes\":")
                out.append(b)
            }
            if let c = body {
                out.append(bodyBytes != nil ? ",\"content\":" : "\"content\":")
                c.withUnsafeBytes { out.appendString($0) }
            }
            out.append("}")
            comma = true
        }
        if let head, !head.fields.isEmpty {
            out.append(comma ? ",\"headers\":" : "\"headers\":")
            Self.headers(head, out)
        }
        out.append("}")
    }

    /// Names (lower-cased by the parser); a name seen several times becomes an array of its values, in order.
    private static func headers(_ head: HTTPHead, _ out: JSONBuffer) {
        head.bytes.withUnsafeBytes { bytes in
            head.fields.withUnsafeBufferPointer { fields in
                let n = fields.count
                // Per field: a key (its name's length and first bytes), which settles most comparisons in one step,
                // and the index of the first field of the same name (itself when it is the first).
                withUnsafeTemporaryAllocation(of: UInt64.self, capacity: max(2 * n, 1)) { table in
                    let keys = table.baseAddress!
                    let first = keys + n
                    func sameName(_ i: Int, _ j: Int) -> Bool {
                        keys[i] == keys[j]
                            && (fields[i].name.count <= 7
                                || bytes[fields[i].name].elementsEqual(bytes[fields[j].name]))
                    }
                    func value(_ i: Int) { out.appendString(UnsafeRawBufferPointer(rebasing: bytes[fields[i].value])) }
                    // A bit per key hash: a name whose bit is clear was not seen before, without a search.
                    var seen: UInt64 = 0
                    var anyRepeat = false
                    for i in 0..<n {
                        let key = Self.key(bytes, fields[i].name)
                        keys[i] = key
                        first[i] = UInt64(i)
                        let bit: UInt64 = 1 << ((key &* 0x9E37_79B9_7F4A_7C15) >> 58)
                        if seen & bit != 0 {
                            for j in 0..<i where first[j] == UInt64(j) && sameName(i, j) {
                                first[i] = UInt64(j)
                                anyRepeat = true
                                break
                            }
                        }
                        seen |= bit
                    }
                    out.append("{")
                    for i in 0..<n where first[i] == UInt64(i) {
                        // Names are tchars: nothing to escape. A repeated name is written with its first occurrence.
                        var next = n
                        if anyRepeat {
                            for j in (i + 1)..<n where first[j] == UInt64(i) {
                                next = j
                                break
                            }
                        }
                        guard next < n else {
                            out.appendMember(
                                name: UnsafeRawBufferPointer(rebasing: bytes[fields[i].name]),
                                string: UnsafeRawBufferPointer(rebasing: bytes[fields[i].value]), first: i == 0)
                            continue
                        }
                        out.append(i > 0 ? ",\"" : "\"")
                        out.append(UnsafeRawBufferPointer(rebasing: bytes[fields[i].name]))
                        out.append("\":[")
                        value(i)
                        for j in next..<n where first[j] == UInt64(i) {
                            out.append(",")
                            value(j)
                        }
                        out.append("]")
                    }
                    out.append("}")
                }
            }
        }
    }

    /// The name's length and its first seven bytes.
    private static func key(_ bytes: UnsafeRawBufferPointer, _ name: Range<Int>) -> UInt64 {
        let length = UInt64(truncatingIfNeeded: name.count) << 56
        let n = min(name.count, 7)
        if name.lowerBound + 8 <= bytes.count, let base = bytes.baseAddress {
            // One load when eight bytes are there; bytes past the first seven of the name are masked off.
            let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: name.lowerBound, as: UInt64.self))
            return length | (word & ((1 << (8 * UInt64(n))) &- 1))
        }
        var key = length
        for k in 0..<n { key |= UInt64(bytes[name.lowerBound + k]) << (8 * k) }
        return key
    }

    /// `url.*` after `original`: the scheme, path and query split from the target; the domain and port from an
    /// absolute target, else from Host.
    private static func url<T: URLText>(target: T, host: T?, _ out: JSONBuffer) {
        var rest = target
        var authority = host
        if let colon = rest.firstIndex(of: T.colon), rest[colon...].starts(with: [T.colon, T.slash, T.slash]),
            rest[..<colon].allSatisfy(T.isSchemeCharacter)
        {
            out.append(",\"scheme\":")
            rest[..<colon].appendJSON(to: out, lowercased: true)
            rest = rest[rest.index(colon, offsetBy: 3)...]
            let slash = rest.firstIndex { $0 == T.slash || $0 == T.question } ?? rest.endIndex
            authority = rest[..<slash]
            rest = rest[slash...]
        }
        if let first = rest.first, first == T.slash || first == T.question {
            let q = rest.firstIndex(of: T.question)
            let path = q.map { rest[..<$0] } ?? rest
            if !path.isEmpty {
                out.append(",\"path\":")
                path[..<(path.firstIndex(of: T.hash) ?? path.endIndex)].appendJSON(to: out, lowercased: false)
            }
            if let q {
                let query = rest[rest.index(after: q)...]
                out.append(",\"query\":")
                query[..<(query.firstIndex(of: T.hash) ?? query.endIndex)].appendJSON(to: out, lowercased: false)
            }
        }
        Self.authority(authority, out)
    }

    /// `url.path` and `url.query` of an origin-form target (`/…`, most requests) in ASCII: what
    /// ``url(target:host:_:)`` writes for it, from the bytes without a collection's index steps.
    private static func originURL(_ bytes: UnsafeRawBufferPointer, target: Range<Int>, _ out: JSONBuffer) {
        var question = target.upperBound
        var hash = target.upperBound
        for i in target {
            let b = bytes[i]
            if b == UInt8(ascii: "?") {
                question = i
                break
            }
            if b == UInt8(ascii: "#") && hash == target.upperBound { hash = i }
        }
        // The path ends at the first `#` before any `?`; it is not empty (it starts with `/`).
        out.append(",\"path\":")
        out.appendString(UnsafeRawBufferPointer(rebasing: bytes[target.lowerBound..<min(question, hash)]))
        guard question < target.upperBound else { return }
        var end = question + 1
        while end < target.upperBound && bytes[end] != UInt8(ascii: "#") { end += 1 }
        out.append(",\"query\":")
        out.appendString(UnsafeRawBufferPointer(rebasing: bytes[(question + 1)..<end]))
    }

    /// `url.domain` and `url.port` from an authority (an absolute target's, else Host).
    private static func authority<T: URLText>(_ authority: T?, _ out: JSONBuffer) {
        guard var a = authority, !a.isEmpty else { return }
        if let at = a.lastIndex(of: T.at) { a = a[a.index(after: at)...] }
        var port: T? = nil
        if a.first == T.openBracket {
            if let close = a.firstIndex(of: T.closeBracket) {
                let after = a[a.index(after: close)...]
                if after.first == T.colon { port = after.dropFirst() }
                a = a[a.index(after: a.startIndex)..<close]
            }
        } else if let colon = a.lastIndex(of: T.colon) {
            port = a[a.index(after: colon)...]
            a = a[..<colon]
        }
        out.append(",\"domain\":")
        a.appendJSON(to: out, lowercased: true)
        if let n = port?.integerValue {
            out.append(",\"port\":")
            out.append(n)
        }
    }

    /// RFC 3339 UTC with nanoseconds, computed without a calendar library (days-from-civil, inverted).
    public static func iso8601(nanoseconds: Int64) -> String {
        let out = JSONBuffer(capacity: 64)
        Self.appendISO8601(nanoseconds: nanoseconds, into: out)
        return out.withBytes { String(decoding: $0, as: UTF8.self) }
    }

    /// The text of one whole second, `YYYY-MM-DDTHH:MM:SS.` (20 bytes): lines come in time order, so most are
    /// dated in the same second as the line before, and only their fraction needs writing.
    struct SecondText {
        var second = Int64.min
        var text: (UInt64, UInt64, UInt32) = (0, 0, 0)
    }

    /// Whole seconds (rounded down) and the nanoseconds after them, for any `Int64` (no overflow at its ends).
    private static func split(_ nanoseconds: Int64) -> (seconds: Int64, fraction: Int64) {
        let (q, r) = nanoseconds.quotientAndRemainder(dividingBy: 1_000_000_000)
        return r < 0 ? (q - 1, r + 1_000_000_000) : (q, r)
    }

    /// ``appendISO8601(nanoseconds:into:)`` with the text of the second reused when it is `cache`'s.
    static func appendISO8601(nanoseconds: Int64, into out: JSONBuffer, second cache: inout SecondText) {
        let (seconds, afterSecond) = Self.split(nanoseconds)
        guard seconds == cache.second else {
            let start = out.count
            Self.appendISO8601(nanoseconds: nanoseconds, into: out)
            // Kept when the year took four characters, so that the second's text is the first 20 bytes.
            if out.count - start == 30 {
                cache.second = seconds
                cache.text = out.withBytes { b in
                    (
                        b.loadUnaligned(fromByteOffset: start, as: UInt64.self),
                        b.loadUnaligned(fromByteOffset: start + 8, as: UInt64.self),
                        b.loadUnaligned(fromByteOffset: start + 16, as: UInt32.self)
                    )
                }
            }
            return
        }
        var fraction = afterSecond
        let text = cache.text
        out.append(count: 30) { room in
            room.storeBytes(of: text.0, toByteOffset: 0, as: UInt64.self)
            room.storeBytes(of: text.1, toByteOffset: 8, as: UInt64.self)
            room.storeBytes(of: text.2, toByteOffset: 16, as: UInt32.self)
            for i in stride(from: 28, through: 20, by: -1) {
                room[i] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: fraction % 10)
                fraction /= 10
            }
            room[29] = UInt8(ascii: "Z")
        }
    }

    private static func appendISO8601(nanoseconds: Int64, into out: JSONBuffer) {
        let (seconds, fraction) = Self.split(nanoseconds)
        var days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let dayOfEra = days - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        // The year as it comes (four digits, but any year is written); the rest in one go: -MM-DDTHH:MM:SS.NNNNNNNNNZ
        out.append(Int(year), zeroPaddedTo: 4)
        let (hour, minute, second) = (secondOfDay / 3600, secondOfDay / 60 % 60, secondOfDay % 60)
        out.append(count: 26) { room in
            let template: StaticString = "-00-00T00:00:00.000000000Z"
            room.copyMemory(from: UnsafeRawBufferPointer(start: template.utf8Start, count: 26))
            func digits(_ v: Int64, _ at: Int, _ width: Int) {
                var v = v
                for i in stride(from: at + width - 1, through: at, by: -1) {
                    room[i] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v % 10)
                    v /= 10
                }
            }
            digits(month, 1, 2)
            digits(day, 4, 2)
            digits(hour, 7, 2)
            digits(minute, 10, 2)
            digits(second, 13, 2)
            digits(fraction, 16, 9)
        }
    }
}

// MARK: - URL text

/// What a URL is split as: ASCII bytes, or (when there are other bytes) the `Character`s of the decoded text, so
/// that both give what splitting the text would.
protocol URLText: BidirectionalCollection where SubSequence == Self, Element: Equatable {
    static var colon: Element { get }
    static var slash: Element { get }
    static var question: Element { get }
    static var hash: Element { get }
    static var at: Element { get }
    static var openBracket: Element { get }
    static var closeBracket: Element { get }
    static func isSchemeCharacter(_ e: Element) -> Bool
    /// What `Int(_:)` makes of the text.
    var integerValue: Int? { get }
    func appendJSON(to out: JSONBuffer, lowercased: Bool)
}

extension Slice: URLText where Base == UnsafeRawBufferPointer {
    static var colon: UInt8 { UInt8(ascii: ":") }
    static var slash: UInt8 { UInt8(ascii: "/") }
    static var question: UInt8 { UInt8(ascii: "?") }
    static var hash: UInt8 { UInt8(ascii: "#") }
    static var at: UInt8 { UInt8(ascii: "@") }
    static var openBracket: UInt8 { UInt8(ascii: "[") }
    static var closeBracket: UInt8 { UInt8(ascii: "]") }

    static func isSchemeCharacter(_ b: UInt8) -> Bool {
        (b | 0x20) &- UInt8(ascii: "a") < 26 || b &- UInt8(ascii: "0") < 10 || b == UInt8(ascii: "+")
            || b == UInt8(ascii: "-") || b == UInt8(ascii: ".")
    }

    var integerValue: Int? {
        // As Int(String): an optional sign, then at least one digit, within Int's range.
        var i = self.startIndex
        let negative = i < self.endIndex && self[i] == UInt8(ascii: "-")
        if i < self.endIndex && (negative || self[i] == UInt8(ascii: "+")) { i += 1 }
        guard i < self.endIndex else { return nil }
        var magnitude: UInt64 = 0
        while i < self.endIndex {
            let digit = self[i] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            let (times, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(UInt64(digit))
            guard !o1, !o2 else { return nil }
            magnitude = sum
            i += 1
        }
        if negative { return magnitude <= UInt64(Int.max) + 1 ? Int(truncatingIfNeeded: 0 &- magnitude) : nil }
        return magnitude <= UInt64(Int.max) ? Int(magnitude) : nil
    }

    func appendJSON(to out: JSONBuffer, lowercased: Bool) {
        let start = out.count
        out.appendString(UnsafeRawBufferPointer(rebasing: self))
        // ASCII text (this path): lower-casing the escaped text is lower-casing the text (escapes are lower case).
        if lowercased { out.lowercaseASCII(from: start) }
    }
}

extension Substring: URLText {
    static var colon: Character { ":" }
    static var slash: Character { "/" }
    static var question: Character { "?" }
    static var hash: Character { "#" }
    static var at: Character { "@" }
    static var openBracket: Character { "[" }
    static var closeBracket: Character { "]" }

    static func isSchemeCharacter(_ c: Character) -> Bool {
        c.isLetter || c.isNumber || c == "+" || c == "-" || c == "."
    }

    var integerValue: Int? { Int(self) }

    func appendJSON(to out: JSONBuffer, lowercased: Bool) {
        out.appendString(lowercased ? self.lowercased() : String(self))
    }
}

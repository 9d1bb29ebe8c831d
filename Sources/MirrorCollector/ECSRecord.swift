// vpcmirror: one HTTP exchange as an Elastic Common Schema JSON line.
import MirrorJSON
public import MirrorWire

/// Everything an output line says about one HTTP exchange.
public struct HTTPExchangeRecord: Sendable {
    /// Request start (or, without a request, response start), ns since the epoch.
    public var timestamp: Int64
    /// Request start to response end, ns; nil when either is missing.
    public var durationNanoseconds: Int64?
    public var client: (address: IPAddress, port: UInt16)
    public var server: (address: IPAddress, port: UInt16)
    public var outerVLAN: UInt16?
    public var innerVLAN: UInt16?
    public var vni: UInt32?
    public var sessionID: String?
    public var version: String?
    public var method: String?
    public var target: String?
    public var requestHeaders: [(name: String, value: String)] = []
    public var requestBytes: Int?
    public var requestBodyBytes: Int?
    public var requestBodyDecodedBytes: Int?
    public var requestBody: [UInt8]?
    public var statusCode: Int?
    public var interimStatusCodes: [Int] = []
    public var responseHeaders: [(name: String, value: String)] = []
    public var responseBytes: Int?
    public var responseBodyBytes: Int?
    public var responseBodyDecodedBytes: Int?
    public var responseBody: [UInt8]?
    public var flags: [String] = []

    public init(timestamp: Int64, client: (address: IPAddress, port: UInt16), server: (address: IPAddress, port: UInt16)) {
        self.timestamp = timestamp
        self.client = client
        self.server = server
    }
}

/// Writes records as one JSON object per line with ECS field names (nested objects, as Elastic's shippers do).
/// Field by field: docs/output.md.
public enum ECSFormatter {
    public static func line(_ r: HTTPExchangeRecord) -> String {
        let w = JSONWriter()
        w.object {
            w.field("@timestamp", iso8601(nanoseconds: r.timestamp))
            w.field("event") {
                w.object {
                    w.field("kind", "event")
                    w.field("category") { w.array(["network", "web"]) { w.string($0) } }
                    w.field("type") { w.array(["connection", "protocol"]) { w.string($0) } }
                    if let d = r.durationNanoseconds { w.field("duration", Int(d)) }
                }
            }
            for (name, end) in [("source", r.client), ("destination", r.server), ("client", r.client), ("server", r.server)] {
                w.field(name) {
                    w.object {
                        w.field("ip", end.address.description)
                        w.field("port", Int(end.port))
                    }
                }
            }
            w.field("network") {
                w.object {
                    w.field("transport", "tcp")
                    w.field("protocol", "http")
                    w.field("type", r.client.address.isIPv4 ? "ipv4" : "ipv6")
                    if let v = r.outerVLAN { w.field("vlan") { w.object { w.field("id", String(v)) } } }
                    if let v = r.innerVLAN { w.field("inner") { w.object { w.field("vlan") { w.object { w.field("id", String(v)) } } } } }
                }
            }
            w.field("http") {
                w.object {
                    if let v = r.version { w.field("version", v) }
                    if r.method != nil || r.requestBytes != nil {
                        w.field("request") {
                            message(w, first: r.method.map { ("method", .text($0)) }, bytes: r.requestBytes,
                                    bodyBytes: r.requestBodyBytes, body: r.requestBody, headers: r.requestHeaders)
                        }
                    }
                    if r.statusCode != nil || r.responseBytes != nil {
                        w.field("response") {
                            message(w, first: r.statusCode.map { ("status_code", .number($0)) }, bytes: r.responseBytes,
                                    bodyBytes: r.responseBodyBytes, body: r.responseBody, headers: r.responseHeaders)
                        }
                    }
                }
            }
            if let target = r.target {
                let host = r.requestHeaders.first { $0.name == "host" }?.value
                w.field("url") { url(w, target: target, host: host) }
            }
            if let agent = r.requestHeaders.first(where: { $0.name == "user-agent" })?.value {
                w.field("user_agent") { w.object { w.field("original", agent) } }
            }
            w.field("mirror") {
                w.object {
                    if let v = r.vni { w.field("vni", Int(v)) }
                    if let s = r.sessionID { w.field("session_id", s) }
                    if !r.interimStatusCodes.isEmpty { w.field("interim_status_codes") { w.array(r.interimStatusCodes) { w.number($0) } } }
                    if let d = r.requestBodyDecodedBytes { w.field("request_body_decoded_bytes", d) }
                    if let d = r.responseBodyDecodedBytes { w.field("response_body_decoded_bytes", d) }
                    w.field("flags") { w.array(r.flags) { w.string($0) } }
                }
            }
        }
        return w.output
    }

    enum Value {
        case text(String)
        case number(Int)
    }

    /// `http.request` or `http.response`: its first field (method or status code), sizes, body, headers.
    static func message(
        _ w: JSONWriter, first: (String, Value)?, bytes: Int?, bodyBytes: Int?, body: [UInt8]?,
        headers list: [(name: String, value: String)]
    ) {
        w.object {
            switch first {
            case (let name, .text(let t))?: w.field(name, t)
            case (let name, .number(let n))?: w.field(name, n)
            case nil: break
            }
            if let b = bytes { w.field("bytes", b) }
            if bodyBytes != nil || body != nil {
                w.field("body") {
                    w.object {
                        if let b = bodyBytes { w.field("bytes", b) }
                        if let c = body { w.field("content", String(decoding: c, as: UTF8.self)) }
                    }
                }
            }
            if !list.isEmpty { w.field("headers") { headers(w, list) } }
        }
    }

    /// Lower-case names; a name seen several times becomes an array of its values, in order.
    static func headers(_ w: JSONWriter, _ list: [(name: String, value: String)]) {
        // Repeated names are rare: look for one first (a few comparisons), and build groups only then.
        var repeated = false
        outer: for i in list.indices {
            for j in list.indices where j < i && list[j].name == list[i].name {
                repeated = true
                break outer
            }
        }
        guard repeated else {
            w.object { for (name, value) in list { w.field(name, value) } }
            return
        }
        var order: [String] = []
        var values: [String: [String]] = [:]
        for (name, value) in list {
            if values[name] == nil { order.append(name) }
            values[name, default: []].append(value)
        }
        w.object {
            for name in order {
                let v = values[name]!
                if v.count == 1 { w.field(name, v[0]) } else { w.field(name) { w.array(v) { w.string($0) } } }
            }
        }
    }

    /// `url.original` as sent; path and query split from it; the domain and port from an absolute target or Host.
    static func url(_ w: JSONWriter, target: String, host: String?) {
        w.object {
            w.field("original", target)
            var rest = Substring(target)
            var authority: Substring? = host.map { Substring($0) }
            if let colon = rest.firstIndex(of: ":"), rest[colon...].hasPrefix("://"),
                rest[..<colon].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == "." })
            {
                w.field("scheme", String(rest[..<colon]).lowercased())
                rest = rest[rest.index(colon, offsetBy: 3)...]
                let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
                authority = rest[..<slash]
                rest = rest[slash...]
            }
            if rest.hasPrefix("/") || rest.hasPrefix("?") {
                let q = rest.firstIndex(of: "?")
                let path = q.map { rest[..<$0] } ?? rest
                if !path.isEmpty { w.field("path", String(path.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0])) }
                if let q {
                    let query = rest[rest.index(after: q)...].split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
                    w.field("query", String(query))
                }
            }
            if var a = authority, !a.isEmpty {
                if let at = a.lastIndex(of: "@") { a = a[a.index(after: at)...] }
                var port: Substring? = nil
                if a.hasPrefix("[") {
                    if let close = a.firstIndex(of: "]") {
                        let after = a[a.index(after: close)...]
                        if after.hasPrefix(":") { port = after.dropFirst() }
                        a = a[a.index(after: a.startIndex)..<close]
                    }
                } else if let colon = a.lastIndex(of: ":") {
                    port = a[a.index(after: colon)...]
                    a = a[..<colon]
                }
                w.field("domain", a.lowercased())
                if let p = port, let n = Int(p) { w.field("port", n) }
            }
        }
    }

    /// RFC 3339 UTC with nanoseconds, computed without a calendar library (days-from-civil, inverted).
    public static func iso8601(nanoseconds: Int64) -> String {
        let seconds = nanoseconds >= 0 ? nanoseconds / 1_000_000_000 : (nanoseconds - 999_999_999) / 1_000_000_000
        let fraction = nanoseconds - seconds * 1_000_000_000
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
        func pad(_ v: Int64, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2)).\(pad(fraction, 9))Z"
    }
}

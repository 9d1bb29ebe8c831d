// vpcmirror: one HTTP/1 exchange as the collector reports it, with flags that say what the wire lost.

/// Which way bytes flow on a TCP connection, as the caller tells it (SYN sender = client).
public enum HTTPStreamDirection: Hashable, Sendable {
    case clientToServer
    case serverToClient
}

/// Why a transaction is not a plain, fully seen exchange. Each flag has a stable name (``names``) for output.
public struct HTTPTransactionFlags: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `request_gap`: bytes of the request were lost (its head, its body, or the whole request).
    public static let requestGap = HTTPTransactionFlags(rawValue: 1 << 0)
    /// `response_gap`: bytes of the response were lost (its head, its body, or the whole response).
    public static let responseGap = HTTPTransactionFlags(rawValue: 1 << 1)
    /// `truncated`: at least one of those gaps came from truncation (a mirror session's PacketLength), not loss.
    public static let truncated = HTTPTransactionFlags(rawValue: 1 << 2)
    /// `midstream`: the connection was picked up without its SYN, so the first messages may be partial.
    public static let midstream = HTTPTransactionFlags(rawValue: 1 << 3)
    /// `no_response`: the request got no response before the connection closed, or its response was lost.
    public static let noResponse = HTTPTransactionFlags(rawValue: 1 << 4)
    /// `no_request`: the response's request was not seen (lost in a gap, or sent before the capture started).
    public static let noRequest = HTTPTransactionFlags(rawValue: 1 << 5)
    /// `unparsed`: bytes on one of the message's directions could not be parsed as HTTP and were skipped: garbage
    /// before the message, a header line that was ignored, or a body whose framing was invalid.
    public static let unparsed = HTTPTransactionFlags(rawValue: 1 << 6)
    /// `upgrade`: the exchange switched protocols (`101`, or a `2xx` to CONNECT); both directions are a tunnel
    /// after it and are no longer parsed (their bytes are counted in ``HTTP1Counters/tunnelBytes``).
    public static let upgrade = HTTPTransactionFlags(rawValue: 1 << 7)
    /// `decode_error`: a gzip or deflate body did not inflate (corrupt, or cut short); its decoded size is nil.
    public static let decodeError = HTTPTransactionFlags(rawValue: 1 << 8)
    /// `decode_limit`: inflating a body stopped at ``HTTP1Limits/maxDecodedBytes``; the decoded size is a lower bound.
    public static let decodeLimit = HTTPTransactionFlags(rawValue: 1 << 9)
    /// `chunked`: the request or the response body was chunked.
    public static let chunked = HTTPTransactionFlags(rawValue: 1 << 10)
    /// `close_delimited`: the response body had no length and ended when the server closed the connection.
    public static let closeDelimited = HTTPTransactionFlags(rawValue: 1 << 11)
    /// `header_limit`: a start line, header block, header count or chunk-size line exceeded ``HTTP1Limits``;
    /// the message keeps what was parsed before the limit and the direction resynchronised after it.
    public static let headerLimit = HTTPTransactionFlags(rawValue: 1 << 12)
    /// `incomplete`: a message was cut by the end of its direction (FIN) or by `close()` before its framing
    /// said it was complete.
    public static let incomplete = HTTPTransactionFlags(rawValue: 1 << 13)

    /// Every flag with its output name, in output order.
    public static let all: [(flag: HTTPTransactionFlags, name: String)] = [
        (.requestGap, "request_gap"), (.responseGap, "response_gap"), (.truncated, "truncated"),
        (.midstream, "midstream"), (.noResponse, "no_response"), (.noRequest, "no_request"),
        (.unparsed, "unparsed"), (.upgrade, "upgrade"), (.decodeError, "decode_error"),
        (.decodeLimit, "decode_limit"), (.chunked, "chunked"), (.closeDelimited, "close_delimited"),
        (.headerLimit, "header_limit"), (.incomplete, "incomplete"),
    ]

    /// The names of the flags that are set, in the order of ``all``.
    public var names: [String] { Self.all.filter { self.contains($0.flag) }.map(\.name) }

    public var description: String { "[" + self.names.joined(separator: ", ") + "]" }
}

/// One request paired with its final response. Either side may be missing (see ``flags``).
///
/// Byte counts are wire bytes. When a gap fell inside a message whose framing gave its length, the lost bytes are
/// counted (they were on the wire, the capture missed them) and the gap flag says so.
public struct HTTPTransaction: Sendable, Equatable, CustomStringConvertible {
    /// Capture time (ns) of the packet that carried the request's first byte; nil if no request was seen.
    public var requestTimestamp: Int64?
    /// Capture time (ns) of the packet that carried the final response's last byte; nil if no response was seen.
    public var responseEndTimestamp: Int64?
    /// The messages as they were read (nil: not seen); heads, trailers and bodies are read from them. Behind one
    /// reference: a transaction is handed on by value, and its records are never changed once it is made.
    final class Records: Sendable {
        let request: MessageRecord?
        let response: MessageRecord?

        init(request: consuming MessageRecord?, response: consuming MessageRecord?) {
            self.request = request
            self.response = response
        }
    }
    var records: Records? = nil
    /// Interim responses that came before a final response lost whole.
    var lostInterim: [Int] = []

    /// The request's head as it was on the wire; nil if no request was seen.
    public var requestHead: HTTPHead? { self.records?.request?.head }
    /// The final response's head as it was on the wire; nil if no response was seen.
    public var responseHead: HTTPHead? { self.records?.response?.head }
    /// Trailer sections of chunked bodies (not merged into the heads).
    public var requestTrailerHead: HTTPHead? { self.records?.request?.trailers }
    public var responseTrailerHead: HTTPHead? { self.records?.response?.trailers }

    // MARK: The heads' parts as strings (for callers that want them; output is written from the bytes)

    public var method: String? { self.requestHead.flatMap { h in h.method.map { h.string($0) } } }
    /// The request-target exactly as sent (cut at ``HTTP1Limits/maxStartLineBytes``).
    public var requestTarget: String? { self.requestHead.flatMap { h in h.target.map { h.string($0) } } }
    /// "1.0" or "1.1": the request's version, else the response's.
    public var version: String? {
        if let h = self.requestHead, let v = h.version { return h.string(v) }
        return self.responseHead.flatMap { h in h.version.map { h.string($0) } }
    }
    /// Header fields in order, names lower-cased, values trimmed, duplicates kept.
    public var requestHeaders: [(name: String, value: String)] { self.requestHead?.fieldStrings ?? [] }
    public var responseHeaders: [(name: String, value: String)] { self.responseHead?.fieldStrings ?? [] }
    /// Trailer fields of a chunked body (not merged into the headers).
    public var requestTrailers: [(name: String, value: String)] { self.requestTrailerHead?.fieldStrings ?? [] }
    public var responseTrailers: [(name: String, value: String)] { self.responseTrailerHead?.fieldStrings ?? [] }
    /// The first Host header of the request.
    public var host: String? { self.requestHead.flatMap { h in h.firstValue(named: "host").map { h.string($0) } } }
    /// The first User-Agent header of the request.
    public var userAgent: String? {
        self.requestHead.flatMap { h in h.firstValue(named: "user-agent").map { h.string($0) } }
    }
    /// The final (non-1xx, or 101) status code.
    public var statusCode: Int? { self.records?.response?.head.statusCode }
    /// Whether a request line with its method was seen (`method != nil`, without making the string).
    public var hasRequestMethod: Bool { self.records?.request?.head.method != nil }
    /// Whether a status line with its code was seen (`statusCode != nil`).
    public var hasStatusCode: Bool { self.records?.response?.head.statusCode != nil }
    public var reasonPhrase: String? { self.responseHead.flatMap { h in h.reason.map { h.string($0) } } }

    // MARK: Sizes, bodies and flags

    /// Interim (1xx other than 101) responses that came before the final one, in order.
    public var interimStatusCodes: [Int] { self.records?.response?.interim ?? self.lostInterim }
    /// The whole request: head, body and chunk framing.
    public var requestBytes: Int?
    /// The whole final response: head, body and chunk framing (interim responses not included).
    public var responseBytes: Int?
    /// The body's length after de-chunking (the entity length).
    public var requestBodyBytes: Int?
    public var responseBodyBytes: Int?
    /// The body as it was on the wire, chunk-size lines, CRLFs and trailers included.
    public var requestBodyWireBytes: Int?
    public var responseBodyWireBytes: Int?
    /// The inflated size of a gzip, x-gzip or deflate body; nil when there was nothing to decode, decoding is
    /// off, or decoding failed (``HTTPTransactionFlags/decodeError``) or was stopped by a gap.
    public var requestBodyDecodedBytes: Int?
    public var responseBodyDecodedBytes: Int?
    /// The first ``HTTP1Limits/bodyCaptureBytes`` bytes of the body (de-chunked, not decoded), up to any gap.
    public var requestBody: [UInt8]? { self.records?.request?.body }
    public var responseBody: [UInt8]? { self.records?.response?.body }
    public var flags: HTTPTransactionFlags = []
    /// The client of this exchange (the side that sent the requests) is the stream the caller called
    /// serverToClient (see ``HTTP1Conversation/rolesSwapped``, which no longer changes once a transaction exists).
    public var rolesSwapped: Bool

    public static func == (l: Self, r: Self) -> Bool {
        func same(_ a: [(name: String, value: String)], _ b: [(name: String, value: String)]) -> Bool {
            a.count == b.count && zip(a, b).allSatisfy { $0.name == $1.name && $0.value == $1.value }
        }
        return l.requestTimestamp == r.requestTimestamp && l.responseEndTimestamp == r.responseEndTimestamp
            && l.method == r.method && l.requestTarget == r.requestTarget && l.version == r.version
            && same(l.requestHeaders, r.requestHeaders) && same(l.responseHeaders, r.responseHeaders)
            && same(l.requestTrailers, r.requestTrailers) && same(l.responseTrailers, r.responseTrailers)
            && l.host == r.host && l.userAgent == r.userAgent && l.statusCode == r.statusCode
            && l.reasonPhrase == r.reasonPhrase && l.interimStatusCodes == r.interimStatusCodes
            && l.requestBytes == r.requestBytes && l.responseBytes == r.responseBytes
            && l.requestBodyBytes == r.requestBodyBytes && l.responseBodyBytes == r.responseBodyBytes
            && l.requestBodyWireBytes == r.requestBodyWireBytes && l.responseBodyWireBytes == r.responseBodyWireBytes
            && l.requestBodyDecodedBytes == r.requestBodyDecodedBytes
            && l.responseBodyDecodedBytes == r.responseBodyDecodedBytes
            && l.requestBody == r.requestBody && l.responseBody == r.responseBody && l.flags == r.flags
            && l.rolesSwapped == r.rolesSwapped
    }

    public var description: String {
        func s<T>(_ v: T?) -> String { v.map { "\($0)" } ?? "-" }
        return "\(s(self.method)) \(s(self.requestTarget)) -> \(s(self.statusCode)) v\(s(self.version)) "
            + "req=\(s(self.requestBytes))/\(s(self.requestBodyBytes)) resp=\(s(self.responseBytes))/"
            + "\(s(self.responseBodyBytes)) decoded=\(s(self.responseBodyDecodedBytes)) "
            + "interim=\(self.interimStatusCodes) t=\(s(self.requestTimestamp))..\(s(self.responseEndTimestamp)) "
            + "\(self.flags)"
    }
}

// The initializers are in an extension so that the struct keeps its memberwise initializer, which builds a
// transaction as one value: one built field by field into `self` is copied on its way out (Swift 6.3 does not pair
// the retain and release of a value loaded twice from `self`).
extension HTTPTransaction {
    public init() {
        self.init(rolesSwapped: false)
    }

    /// An exchange's transaction: the records move in, their sizes and flags are read from them.
    init(
        request: consuming MessageRecord?, response: consuming MessageRecord?, flags: HTTPTransactionFlags,
        lostInterim: [Int], rolesSwapped: Bool
    ) {
        let requestTimestamp = request?.startTimestamp
        let responseEndTimestamp = response?.endTimestamp
        let requestBytes = request.map { $0.headBytes + $0.bodyWireBytes }
        let responseBytes = response.map { $0.headBytes + $0.bodyWireBytes }
        let requestBodyBytes = request?.bodyBytes
        let responseBodyBytes = response?.bodyBytes
        let requestBodyWireBytes = request?.bodyWireBytes
        let responseBodyWireBytes = response?.bodyWireBytes
        let requestBodyDecodedBytes = request?.decodedBytes
        let responseBodyDecodedBytes = response?.decodedBytes
        let flags = flags.union(request?.flags ?? []).union(response?.flags ?? [])
        let records: Records?
        if request != nil || response != nil {
            records = Records(request: request, response: response)
        } else {
            records = nil
        }
        self.init(
            requestTimestamp: requestTimestamp, responseEndTimestamp: responseEndTimestamp, records: records,
            lostInterim: lostInterim, requestBytes: requestBytes, responseBytes: responseBytes,
            requestBodyBytes: requestBodyBytes, responseBodyBytes: responseBodyBytes,
            requestBodyWireBytes: requestBodyWireBytes, responseBodyWireBytes: responseBodyWireBytes,
            requestBodyDecodedBytes: requestBodyDecodedBytes, responseBodyDecodedBytes: responseBodyDecodedBytes,
            flags: flags, rolesSwapped: rolesSwapped)
    }
}

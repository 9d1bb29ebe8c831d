// vpcmirror: what the HTTP/1 parser saw, skipped and lost on one connection, so nothing is dropped silently.

/// Parse errors by kind. Each is also visible on the transaction it hit (see ``HTTPTransactionFlags``).
public struct HTTP1ParseErrors: Hashable, Sendable {
    /// A message start that was not a request line or status line (garbage, TLS, HTTP/2, HTTP/0.9).
    public var invalidStartLine = 0
    /// Header or trailer lines that were ignored: no colon, an invalid name, or a fold with nothing to fold into.
    public var invalidHeaderLine = 0
    /// Content-Length that was not a number, or several that disagree. The body is skipped by resynchronising.
    public var invalidContentLength = 0
    /// A request Transfer-Encoding whose last coding is not chunked (its length cannot be known).
    public var invalidTransferEncoding = 0
    /// A chunk-size line that is not hex, or chunk data not followed by CRLF.
    public var invalidChunk = 0
    public var startLineTooLong = 0
    public var headerBlockTooLarge = 0
    public var tooManyHeaders = 0
    public var chunkSizeLineTooLong = 0
    public init() {}

    public var total: Int {
        self.invalidStartLine + self.invalidHeaderLine + self.invalidContentLength + self.invalidTransferEncoding
            + self.invalidChunk + self.startLineTooLong + self.headerBlockTooLarge + self.tooManyHeaders
            + self.chunkSizeLineTooLong
    }
}

/// Counters of one ``HTTP1Conversation``.
public struct HTTP1Counters: Hashable, Sendable {
    /// Request heads parsed (whole or cut by a gap or limit).
    public var requests = 0
    /// Final response heads parsed (whole or cut by a gap or limit).
    public var responses = 0
    /// Interim (1xx other than 101) response heads.
    public var interimResponses = 0
    /// Transactions emitted.
    public var transactions = 0
    /// Requests and responses taken as lost whole because a gap hit where one would start.
    public var lostRequests = 0
    public var lostResponses = 0
    /// Exchanges emitted before they were complete because more than ``HTTP1Limits/maxPendingRequests`` waited.
    public var evictedExchanges = 0
    /// `gap` calls, their bytes, and how many of them were truncation.
    public var gaps = 0
    public var gapBytes = 0
    public var truncatedGaps = 0
    /// Times a direction started scanning for the next message start (after a gap, a parse error or a limit).
    public var resyncs = 0
    /// Bytes scanned over without being part of a parsed message (garbage, the rest of a message whose framing was
    /// lost, bytes after FIN).
    public var bytesSkipped = 0
    /// Bytes after an Upgrade or CONNECT switched the connection to a tunnel.
    public var tunnelBytes = 0
    /// Bodies whose decoding failed, or stopped at the limit.
    public var decodeErrors = 0
    public var decodeLimits = 0
    public var parseErrors = HTTP1ParseErrors()
    public init() {}
}

// vpcmirror: the HTTP/1 parser's limits, so no connection can make it grow without bound.

/// Limits of one ``HTTP1Conversation``. Every buffer the parser keeps is bounded by one of these.
///
/// A limit that is hit flags the message with ``HTTPTransactionFlags/headerLimit`` (or the decode flags),
/// counts it in ``HTTP1Counters/parseErrors``, and the direction resynchronises on the next message.
public struct HTTP1Limits: Hashable, Sendable {
    /// Longest request line or status line, CRLF included. Default: 8 KiB.
    public var maxStartLineBytes = 8 * 1024
    /// Longest head (start line, header lines and the empty line that ends them); also bounds a trailer
    /// section, and the client bytes held while an Upgrade or CONNECT request waits for its response. Default: 64 KiB.
    public var maxHeaderBlockBytes = 64 * 1024
    /// Most header lines in one head (or trailer section). Default: 256.
    public var maxHeaderCount = 256
    /// Longest chunk-size line, extensions and CRLF included. Default: 1 KiB.
    public var maxChunkSizeLineBytes = 1024
    /// Most exchanges waiting to be completed (pipelined requests without their response, or responses whose
    /// request was not seen yet). Past it the oldest is emitted as it stands. Default: 1024.
    public var maxPendingRequests = 1024
    /// The first bytes of each message body (after de-chunking, before decoding) kept in the transaction.
    /// Default: 0, bodies are not stored.
    public var bodyCaptureBytes = 0
    /// Whether gzip, x-gzip and deflate bodies are inflated (with ISA-L, streamed, nothing kept) to measure their
    /// decoded size. Default: true.
    public var decodeContentEncoding = true
    /// Inflating stops past this many decoded bytes of one body, which is flagged
    /// ``HTTPTransactionFlags/decodeLimit`` (a guard against compression bombs). Default: 64 MiB.
    public var maxDecodedBytes = 64 << 20

    public init() {}
}

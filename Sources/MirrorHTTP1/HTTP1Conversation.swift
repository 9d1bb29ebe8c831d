// vpcmirror: one TCP connection seen from outside: both byte streams in, HTTP/1 transactions out.

/// A passive HTTP/1.x parser for one TCP connection: it is fed both directions as reassembled byte streams, which may
/// have gaps and may start mid-stream, and emits one ``HTTPTransaction`` per request/response exchange.
///
/// No body is kept beyond ``HTTP1Limits/bodyCaptureBytes``; a head split across calls is kept until it is whole
/// (bounded by the limits); time is only what the caller passes. Transactions come out in request order.
///
/// ## Pairing
/// The n-th request of the client direction is paired with the n-th final response of the server direction (the
/// "ordinal"). Interim responses (1xx except 101) do not take an ordinal; they are listed on the final response. A
/// message lost whole still takes its ordinal, which keeps every later pair right. A response that arrives before its
/// request was read waits for it (up to ``HTTP1Limits/maxPendingRequests`` exchanges in all; past that the oldest is
/// emitted as it stands, and the late side is then emitted alone).
///
/// A response's body depends on its request (HEAD and CONNECT). When the request's method is unknown (lost, not
/// read yet, or from before the capture), the response is framed by its own headers, except that if its "body"
/// starts with `HTTP/1.x SP 3DIGIT`, the body is taken to be absent (the request was HEAD) and those bytes start the
/// next response. Without this a lost HEAD request would shift every later pair.
///
/// ## Gaps and resynchronisation
/// `gap(length:…)` says that `length` bytes of a direction are missing. What happens depends on where it falls:
/// - **Inside a body of known length** (Content-Length, or the data of the current chunk): the bytes are counted in
///   the body's length, the message is flagged `request_gap`/`response_gap` (and `truncated` for truncation), and
///   parsing goes on: the next message is found exactly. Body capture and decoding stop at the gap. A gap longer than
///   what is left of a Content-Length body ends the message, and the excess is a gap at a message boundary (below).
/// - **Inside a close-delimited response body**: counted and flagged the same way; nothing can follow such a body on
///   its direction (it ends only when the server closes), so there is nothing to resynchronise on.
/// - **Inside a head once its kind is known, a chunk-size line, a chunk's CRLF or a trailer section**: the framing is
///   lost. The message is reported with what was parsed of it (its start line, whole header lines, body bytes so far)
///   and the gap flag, it keeps its ordinal, and the direction resynchronises.
/// - **At a message boundary** (between messages, or so early in a head that its kind is unknown): the message that
///   would have started there is lost whole. On the client side that is one lost request: it takes an ordinal, and
///   the response that answers it is reported `request_gap`, `no_request`. On the server side it is one lost
///   response: the oldest waiting request is reported `response_gap`, `no_response`, and the next response found
///   goes to the request after it. (In a capture that lost the head of the first of 1000 responses, request 1 is
///   reported that way and 2…1000 are paired right.) Mid-stream, a server-side gap with no request waiting is taken
///   to be the rest of a response to a request from before the capture, and takes no ordinal.
/// - **While resynchronising**: nothing more is taken as lost.
///
/// So pairs stay right when a gap loses at most one message start. A gap that swallows several whole messages, or
/// runs from a message whose framing it loses (a head, a chunked body) on into the next message, shifts the pairs
/// after it by the difference: the capture holds nothing to count them by.
///
/// Resynchronising scans forward, counting ``HTTP1Counters/bytesSkipped``, for the next plausible start line: on the
/// server side `HTTP/1.x SP 3DIGIT` anywhere; on the client side a method made of `[A-Z0-9_-]` starting with a letter,
/// not preceded by another such character, which must be a registered method unless it starts a line (so the tail
/// `ET / HTTP/1.1` of a request cut by a gap is not a request). The whole start line must match (`SP target SP
/// HTTP/1.x`, CRLF or LF) within ``HTTP1Limits/maxStartLineBytes``; a candidate cut by the end of a call is carried as
/// a head. Candidates that cannot end in time, or hold a control byte before their LF, are rejected without a scan, so
/// garbage (TLS, SSH, binary bodies) is scanned in linear time with no memory beyond one start line. A direction keeps
/// scanning for as long as it has bytes; it never gives up.
///
/// ## Persistence
/// HTTP/1.0 without `Connection: keep-alive`, and `Connection: close`, do not change parsing: each message is framed
/// by its own head (a response without length runs to the end of its direction, whatever its version), and whatever
/// follows on the connection is parsed as a next message.
///
/// ## Garbage and errors
/// A message start that is not a start line (the first byte that cannot continue one decides) counts an
/// ``HTTP1ParseErrors/invalidStartLine``, the direction resynchronises, and the next message found is flagged
/// `unparsed`. A header line without a colon or with an invalid name is ignored and flags its message `unparsed`;
/// obs-fold lines are joined to the previous value with one space (RFC 9112 §5.2). An invalid or conflicting
/// Content-Length, a request Transfer-Encoding that does not end in chunked, or an invalid chunk-size line ends the
/// message there (flagged `unparsed`) and the direction resynchronises. A limit hit does the same with `header_limit`.
///
/// ## Mid-stream
/// With `midstream: true` both directions start by looking for a start line (bytes before it are skipped), and the
/// roles come from the first start line found on either side: a status line on the stream the caller called
/// clientToServer swaps them (``rolesSwapped``); the caller keeps passing directions as it guessed them. Bytes
/// skipped before the client side's first request are the tail of a request whose response is still to come, so they
/// take an ordinal (reported `no_request`). A response that starts before any request was seen answers a request
/// from before the capture and is reported alone, `no_request`. Every transaction is flagged `midstream`.
///
/// ## Upgrade and CONNECT
/// A `101` response, or a `2xx` response to CONNECT, turns both directions into a tunnel: the transaction is flagged
/// `upgrade` and later bytes are only counted. Client bytes after an Upgrade or CONNECT request are held (up to
/// ``HTTP1Limits/maxHeaderBlockBytes``) until its response says whether they are HTTP; past that they are parsed.
///
/// A copied conversation is independent (inflate state is copied on write).
public struct HTTP1Conversation: Sendable {
    private var client: DirectionParser  // what the caller calls clientToServer
    private var server: DirectionParser  // what the caller calls serverToClient
    private var shared: ConversationState
    private var closed = false

    /// - Parameters:
    ///   - limits: the bounds on what is buffered and parsed.
    ///   - midstream: the connection was picked up without its SYN: the streams may start inside a message, and
    ///     the roles the caller gives are a guess the parser may swap.
    public init(limits: HTTP1Limits = .init(), midstream: Bool) {
        self.shared = ConversationState(limits: limits, midstream: midstream)
        self.client = DirectionParser(
            stream: 0, role: midstream ? nil : .request, limits: limits, midstream: midstream)
        self.server = DirectionParser(
            stream: 1, role: midstream ? nil : .response, limits: limits, midstream: midstream)
    }

    /// True once it is known which side is the client: from the start without `midstream`, else from the first
    /// request line or status line.
    public var rolesKnown: Bool { self.shared.roles[0] != nil }

    /// True if the stream the caller called clientToServer turned out to carry responses.
    public var rolesSwapped: Bool { self.shared.roles[0] == .response }

    public var counters: HTTP1Counters { self.shared.counters }

    /// Bytes this conversation holds in its buffers (partial heads and chunk-size lines, held client bytes).
    public var bufferedByteCount: Int { self.client.bufferedBytes + self.server.bufferedBytes }

    /// Exchanges waiting to be completed (at most ``HTTP1Limits/maxPendingRequests``).
    public var pendingExchangeCount: Int { self.shared.pendingCount }

    /// Feeds in-order bytes of one direction.
    /// - Parameters:
    ///   - bytes: read during the call only; what must outlive it is copied.
    ///   - timestamp: capture time (ns) of the packet that carried them.
    ///   - emit: called with each transaction completed by these bytes, in order.
    public mutating func receive(
        _ bytes: UnsafeRawBufferPointer, from direction: HTTPStreamDirection, timestamp: Int64,
        emit: (consuming HTTPTransaction) -> Void
    ) {
        guard !self.closed else {
            self.shared.counters.bytesSkipped += bytes.count
            return
        }
        // A direction pauses after a response the other one waits on; settle, then read on.
        var offset = 0
        while true {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            switch direction {
            case .clientToServer:
                guard !rest.isEmpty else { return }
                offset += self.client.receive(rest, timestamp, &self.shared, emit)
            case .serverToClient:
                guard !rest.isEmpty else { return }
                offset += self.server.receive(rest, timestamp, &self.shared, emit)
            }
            self.settle(emit)
        }
    }

    /// `length` bytes of one direction were lost, or cut by the mirror session's PacketLength (`truncated: true`).
    /// See "Gaps and resynchronisation" above.
    public mutating func gap(
        length: UInt64, from direction: HTTPStreamDirection, truncated: Bool, timestamp: Int64,
        emit: (consuming HTTPTransaction) -> Void
    ) {
        guard !self.closed, length > 0 else { return }
        let n = Int(clamping: length)
        self.shared.counters.gaps += 1
        self.shared.counters.gapBytes += n
        if truncated { self.shared.counters.truncatedGaps += 1 }
        switch direction {
        case .clientToServer: self.client.gap(n, truncated: truncated, timestamp, &self.shared, emit)
        case .serverToClient: self.server.gap(n, truncated: truncated, timestamp, &self.shared, emit)
        }
        self.settle(emit)
    }

    /// The direction ended (FIN): a close-delimited response ends here; a message cut short is flagged `incomplete`.
    public mutating func end(
        from direction: HTTPStreamDirection, timestamp: Int64, emit: (consuming HTTPTransaction) -> Void
    ) {
        guard !self.closed else { return }
        switch direction {
        case .clientToServer: self.client.end(timestamp, &self.shared, emit)
        case .serverToClient: self.server.end(timestamp, &self.shared, emit)
        }
        self.settle(emit)
    }

    /// The connection closed, timed out or is being shut down: ends both directions and emits everything still open
    /// (a request without response gets `no_response`, a response without request `no_request`). Final: later calls
    /// are ignored (bytes are counted as skipped).
    public mutating func close(timestamp: Int64, emit: (consuming HTTPTransaction) -> Void) {
        guard !self.closed else { return }
        // Held client bytes can no longer be answered: parse them.
        self.client.releaseHold(&self.shared, emit)
        self.server.releaseHold(&self.shared, emit)
        self.client.end(timestamp, &self.shared, emit)
        self.server.end(timestamp, &self.shared, emit)
        self.settle(emit)
        self.shared.flushAll(emit: emit)
        self.closed = true
    }

    /// Carries decisions from one direction to the other, reads what a pause left, then emits what is complete.
    /// Between public calls no direction has bytes left unread.
    private mutating func settle(_ emit: (consuming HTTPTransaction) -> Void) {
        repeat {
            if let role = self.shared.roles[0], self.client.role == nil {
                self.client.adoptRole(role, &self.shared, emit)
            }
            if let role = self.shared.roles[1], self.server.role == nil {
                self.server.adoptRole(role, &self.shared, emit)
            }
            // Releasing held bytes can read another Upgrade request, which may be answered already: repeat.
            while self.shared.roles[0] == .request
                ? self.client.settleUpgrade(&self.shared, emit) : self.server.settleUpgrade(&self.shared, emit)
            {}
            self.shared.flush(emit: emit)
        } while self.client.feedPending(&self.shared, emit) || self.server.feedPending(&self.shared, emit)
    }
}

// vpcmirror: the HTTP/1 state machine of one direction: heads, bodies, gaps and resynchronisation.

typealias Emit = (consuming HTTPTransaction) -> Void

/// Progress through a head (or a trailer section), kept between calls so a split head is scanned once.
struct HeadScan: Sendable {
    var matcher: StartLineMatcher
    var startLineDone: Bool
    /// Bytes of the head so far.
    var length = 0
    /// Bytes of the current field line so far (its LF not yet seen).
    var lineBytes = 0
    var lastByte = ASCII.lf
    var lines = 0
    var startTimestamp: Int64
    /// The head began at a candidate found while resynchronising: until its start line is whole it may be a
    /// false start, which is not an error.
    var fromResync: Bool
    var isTrailer: Bool
}

/// One direction of a conversation. Its role (requests or responses) is fixed at init, or decided by the first start
/// line it or the other direction recognises (mid-stream).
struct DirectionParser: Sendable {
    enum State: Sendable {
        /// Between messages.
        case idle
        case head
        case body(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd(sawCR: Bool)
        case trailers
        /// A response without length: its body runs to the end of the direction.
        case closeDelimited
        /// A response whose request is unknown declared a body: if the bytes that follow are a status line, its
        /// request was HEAD and it has none. `matched` bytes of `HTTP/1.x NNN` seen (earlier ones in lineBuffer).
        case probe(then: BodyFraming, matched: Int)
        /// After 101 or a 2xx to CONNECT: bytes are counted, not parsed.
        case tunnel
        /// Looking for the next start line.
        case resync
        /// Client bytes after an Upgrade or CONNECT request, kept until its response says whether they are HTTP.
        case hold(ordinal: Int)
        /// After FIN.
        case ended
    }

    /// How a body is delimited.
    enum BodyFraming: Sendable {
        case length(Int)
        case chunked
        case close

        var state: State {
            switch self {
            case .length(let n): return .body(remaining: n)
            case .chunked: return .chunkSize
            case .close: return .closeDelimited
            }
        }
    }

    enum HeldEvent: Sendable {
        case bytes(count: Int, timestamp: Int64)
        case gap(length: Int, truncated: Bool, timestamp: Int64)
        case end(timestamp: Int64)
    }

    enum Decode: Sendable {
        case off
        /// deflate: waiting for two bytes to tell zlib from raw.
        case sniff(UInt8?)
        case active
        case failed
        case limit
        /// A gap hit the body: the rest cannot be inflated.
        case stopped
    }

    /// The message being read, from its head to its last byte.
    struct Current: Sendable {
        var record: MessageRecord
        var isRequest: Bool
        /// nil: a response to a request from before the capture.
        var ordinal: Int?
        var info: RequestInfo?
        var decode: Decode
        var captureLeft: Int
    }

    enum StepResult {
        case done
        /// A head that spanned calls turned out not to be a message: feed these bytes (it less its first byte, up to
        /// and with the byte that failed it) and then the input from `resumeAt`.
        case refeed([UInt8], resumeAt: Int)
        /// The direction is holding from `consumed` on.
        case hold(consumed: Int)
        /// Paused after `consumed` bytes so the other direction can act on the response just read.
        case yield(consumed: Int)
    }

    let stream: Int
    let limits: HTTP1Limits
    let midstream: Bool
    var role: MessageKind?
    var state: State
    var scan: HeadScan
    /// The part of a head (or trailer section) received in earlier calls; bounded by maxHeaderBlockBytes.
    var headBuffer: [UInt8] = []
    /// The part of a chunk-size line received in earlier calls; bounded by maxChunkSizeLineBytes.
    var lineBuffer: [UInt8] = []
    var current: Current?
    /// The byte before the resync position (0 after a gap), so request candidates start at a token boundary.
    var lastByte: UInt8 = 0
    /// No message found yet on this stream.
    var atStreamStart = true
    /// Bytes were skipped as unparseable: the next message is flagged `unparsed`.
    var pendingUnparsed = false
    /// Interim responses waiting for their final response, and what cut them.
    var pendingInterim: [Int] = []
    var pendingInterimFlags: HTTPTransactionFlags = []
    var holdBytes: [UInt8] = []
    var holdEvents: [HeldEvent] = []
    var inflater: Inflater?
    /// The ordinal of the last request head this direction read.
    var lastRequestOrdinal = -1
    /// A response head was read for the request the client side holds bytes after: pause so it can go on first
    /// (the next response's framing may depend on the request in those bytes, e.g. CONNECT after a refused CONNECT).
    var yieldRequested = false
    /// Bytes of this direction left unread by a pause, and when they came.
    var pendingBytes: [UInt8] = []
    var pendingTimestamp: Int64 = 0

    init(stream: Int, role: MessageKind?, limits: HTTP1Limits, midstream: Bool) {
        self.stream = stream
        self.role = role
        self.limits = limits
        self.midstream = midstream
        // Mid-stream the first bytes may be the middle of a message: look for a start line instead of expecting one.
        self.state = midstream ? .resync : .idle
        self.scan = HeadScan(
            matcher: StartLineMatcher(allowRequests: true, allowResponses: true, strictMethods: false, maxLength: 0),
            startLineDone: false, startTimestamp: 0, fromResync: false, isTrailer: false)
    }

    /// Bytes buffered by this direction (for tests of the memory bounds).
    var bufferedBytes: Int {
        self.headBuffer.count + self.lineBuffer.count + self.holdBytes.count + self.pendingBytes.count
    }

    var gapFlag: HTTPTransactionFlags {
        switch self.role {
        case .request?: return .requestGap
        case .response?: return .responseGap
        case nil: return []
        }
    }

    // MARK: - Input

    /// Reads `input`. Returns how much of it was read: all of it, unless the direction paused to let the other one
    /// act on a response (see `yieldRequested`); bytes of its own it had not read then wait in `pendingBytes`.
    mutating func receive(
        _ input: UnsafeRawBufferPointer, _ ts: Int64, _ shared: inout ConversationState, _ emit: Emit
    ) -> Int {
        var position = 0
        while true {
            switch self.step(UnsafeRawBufferPointer(rebasing: input[position...]), ts, &shared, emit) {
            case .done:
                return input.count
            case .yield(let consumed):
                return position + consumed
            case .refeed(let bytes, let resumeAt):
                position += resumeAt
                self.feed(bytes, ts, &shared, emit)
                if !self.pendingBytes.isEmpty { return position }
            case .hold(let consumed):
                position += consumed
                self.holdOrRelease(UnsafeRawBufferPointer(rebasing: input[position...]), ts, &shared, emit)
                return input.count
            }
        }
    }

    /// Reads bytes this direction owns (re-read or released ones); what a pause leaves unread waits in `pendingBytes`.
    mutating func feed(_ bytes: [UInt8], _ ts: Int64, _ shared: inout ConversationState, _ emit: Emit) {
        bytes.withUnsafeBytes { self.feed($0, ts, &shared, emit) }
    }

    mutating func feed(_ bytes: UnsafeRawBufferPointer, _ ts: Int64, _ shared: inout ConversationState, _ emit: Emit) {
        let used = self.receive(bytes, ts, &shared, emit)
        if used < bytes.count {
            self.pendingBytes.append(contentsOf: bytes[used...])
            self.pendingTimestamp = ts
        }
    }

    /// Reads what a pause left, pausing again if asked. Returns false when nothing was left.
    mutating func feedPending(_ shared: inout ConversationState, _ emit: Emit) -> Bool {
        guard !self.pendingBytes.isEmpty else { return false }
        let bytes = self.pendingBytes
        self.pendingBytes = []
        self.feed(bytes, self.pendingTimestamp, &shared, emit)
        return true
    }

    /// Reads everything left now, without pausing (before a gap or the end, which must come after those bytes).
    mutating func drainPending(_ shared: inout ConversationState, _ emit: Emit) {
        while self.feedPending(&shared, emit) {}
    }

    mutating func step(
        _ input: UnsafeRawBufferPointer, _ ts: Int64, _ shared: inout ConversationState, _ emit: Emit
    ) -> StepResult {
        let n = input.count
        var i = 0
        var segmentStart = 0  // where this input's bytes of the current head begin
        defer { self.yieldRequested = false }
        while i < n {
            if self.yieldRequested {
                self.yieldRequested = false
                return .yield(consumed: i)
            }
            switch self.state {
            case .idle:
                let b = input[i]
                if b == ASCII.cr || b == ASCII.lf {  // empty lines between messages (RFC 9112 §2.2)
                    i += 1
                    continue
                }
                self.beginHead(ts, fromResync: false)
                segmentStart = i
            case .head, .trailers:
                if case .refeed(let bytes) = self.scanHead(input, &i, segmentStart, ts, &shared, emit) {
                    return .refeed(bytes, resumeAt: i)
                }
            case .body(let remaining):
                let take = min(remaining, n - i)
                self.consumeBody(input, i..<(i + take), ts)
                i += take
                if take == remaining {
                    self.finishMessage(&shared, emit)
                } else {
                    self.state = .body(remaining: remaining - take)
                }
            case .chunkSize:
                if self.scanChunkSize(input, &i, ts, &shared, emit) { segmentStart = i }
            case .chunkData(let remaining):
                let take = min(remaining, n - i)
                self.consumeBody(input, i..<(i + take), ts)
                i += take
                self.state = take == remaining ? .chunkDataEnd(sawCR: false) : .chunkData(remaining: remaining - take)
            case .chunkDataEnd(let sawCR):
                let b = input[i]
                if b == ASCII.lf || (b == ASCII.cr && !sawCR) {
                    self.current?.record.bodyWireBytes += 1
                    i += 1
                    self.state = b == ASCII.lf ? .chunkSize : .chunkDataEnd(sawCR: true)
                } else {
                    shared.counters.parseErrors.invalidChunk += 1
                    self.current?.record.flags.insert(.unparsed)
                    self.finishMessage(&shared, emit)
                    self.enterResync(&shared, lastByte: 0)
                }
            case .closeDelimited:
                self.consumeBody(input, i..<n, ts)
                i = n
            case .probe(let framing, var matched):
                let start = i
                while i < n && matched < Self.statusPrefixLength && Self.statusPrefixAccepts(input[i], at: matched) {
                    matched += 1
                    i += 1
                }
                if i == n && matched < Self.statusPrefixLength {
                    self.lineBuffer.append(contentsOf: input[start..<n])
                    self.state = .probe(then: framing, matched: matched)
                    break
                }
                // Decided: the next response (no body here) or the body. Either way the probed bytes are read again.
                if matched == Self.statusPrefixLength {
                    self.current?.record.flags.subtract([.chunked, .closeDelimited])
                    self.finishMessage(&shared, emit)
                } else {
                    self.state = framing.state
                }
                if self.lineBuffer.isEmpty {
                    i = start
                } else {
                    let probed = self.lineBuffer + input[0..<i]
                    self.lineBuffer.removeAll(keepingCapacity: true)
                    return .refeed(probed, resumeAt: i)
                }
            case .tunnel:
                shared.counters.tunnelBytes += n - i
                i = n
            case .ended:
                shared.counters.bytesSkipped += n - i
                i = n
            case .resync:
                if let (p, knownOnly) = self.findCandidate(input, from: i, &shared, emit) {
                    self.beginHead(ts, fromResync: true, knownMethodsOnly: knownOnly)
                    segmentStart = p
                    i = p
                } else {
                    i = n
                }
            case .hold:
                return .hold(consumed: i)
            }
        }
        switch self.state {
        case .head, .trailers:
            // Only the head is copied, and it is bounded by the limits checked while scanning it.
            if segmentStart < n { self.headBuffer.append(contentsOf: input[segmentStart..<n]) }
        default:
            break
        }
        return .done
    }
}

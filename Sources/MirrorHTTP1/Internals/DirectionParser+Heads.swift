// vpcmirror: how a direction reads heads: start lines, field lines, limits, and what a head says about its body.

extension DirectionParser {
    mutating func beginHead(_ ts: Int64, fromResync: Bool, knownMethodsOnly: Bool = false) {
        self.scan = HeadScan(
            matcher: StartLineMatcher(
                allowRequests: self.role != .response, allowResponses: self.role != .request,
                strictMethods: fromResync, knownMethodsOnly: knownMethodsOnly,
                maxLength: self.limits.maxStartLineBytes),
            startLineDone: false, startTimestamp: ts, fromResync: fromResync, isTrailer: false)
        self.headBuffer.removeAll(keepingCapacity: true)
        self.state = .head
    }

    mutating func beginTrailers(_ ts: Int64) {
        self.scan = HeadScan(
            matcher: self.scan.matcher, startLineDone: true, startTimestamp: ts, fromResync: false, isTrailer: true)
        self.headBuffer.removeAll(keepingCapacity: true)
        self.state = .trailers
    }

    enum HeadOutcome {
        case proceed
        case refeed([UInt8])
    }

    /// Scans head bytes from `i`. Returns with `i` at the end of the input, or after the head (complete, failed
    /// or cut at a limit), with the state set for what follows.
    mutating func scanHead(
        _ input: UnsafeRawBufferPointer, _ i: inout Int, _ segmentStart: Int, _ ts: Int64,
        _ shared: inout ConversationState, _ emit: Emit
    ) -> HeadOutcome {
        let n = input.count
        while i < n && !self.scan.startLineDone {
            // Most start lines come whole: judged at once, without a step per byte.
            if self.scan.length == 0,
                let lf = input.firstIndex(of: ASCII.lf, in: i..<min(n, i + self.limits.maxStartLineBytes)),
                self.scan.matcher.matchWholeLine(UnsafeRawBufferPointer(rebasing: input[i...lf]))
            {
                self.scan.length = lf + 1 - i
                i = lf + 1
                self.scan.startLineDone = true
                self.startLineFound(self.scan.matcher.kind!, &shared, emit)
                continue
            }
            let outcome = self.scan.matcher.feed(input[i])
            i += 1
            self.scan.length += 1
            switch outcome {
            case .needMore:
                continue
            case .matched:
                self.scan.startLineDone = true
                self.startLineFound(self.scan.matcher.kind!, &shared, emit)
            case .failed:
                return self.startLineFailed(input, &i, segmentStart, &shared, emit)
            case .tooLong:
                guard let kind = self.scan.matcher.kind else {
                    return self.startLineFailed(input, &i, segmentStart, &shared, emit)
                }
                // An HTTP message with a huge line: keep what it says, skip the rest.
                self.startLineFound(kind, &shared, emit)
                shared.counters.parseErrors.startLineTooLong += 1
                self.commitBrokenHead(input, segmentStart..<i, .headerLimit, ts, &shared, emit)
                self.enterResync(&shared, lastByte: input[i - 1])
                return .proceed
            }
        }
        // Field lines, counted in locals (stored once) up to the empty line, a limit, or the end of the input.
        var length = self.scan.length
        var lineBytes = self.scan.lineBytes
        var lastByte = self.scan.lastByte
        var lines = self.scan.lines
        let maxBlock = self.limits.maxHeaderBlockBytes
        let maxCount = self.limits.maxHeaderCount
        var end = HeadEnd.moreInput
        while i < n {
            let allowance = maxBlock - length
            guard allowance > 0 else {
                end = .blockTooLarge
                break
            }
            let window = min(n - i, allowance)
            guard let lf = input.firstIndex(of: ASCII.lf, in: i..<(i + window)) else {
                length += window
                lineBytes += window
                lastByte = input[i + window - 1]
                i += window
                continue
            }
            let lineLength = lineBytes + (lf - i)
            let previous = lf > i ? input[lf - 1] : lastByte
            length += lf - i + 1
            i = lf + 1
            lineBytes = 0
            lastByte = ASCII.lf
            if lineLength == 0 || (lineLength == 1 && previous == ASCII.cr) {
                end = .complete
                break
            }
            lines += 1
            if lines > maxCount {
                end = .tooManyLines
                break
            }
        }
        (self.scan.length, self.scan.lineBytes, self.scan.lastByte, self.scan.lines) = (length, lineBytes, lastByte, lines)
        switch end {
        case .moreInput:
            break
        case .complete:
            self.headComplete(input, segmentStart..<i, ts, &shared, emit)
        case .blockTooLarge:
            shared.counters.parseErrors.headerBlockTooLarge += 1
            self.commitBrokenHead(input, segmentStart..<i, .headerLimit, ts, &shared, emit)
            self.enterResync(&shared, lastByte: i > 0 ? input[i - 1] : 0)
        case .tooManyLines:
            shared.counters.parseErrors.tooManyHeaders += 1
            self.commitBrokenHead(input, segmentStart..<i, .headerLimit, ts, &shared, emit)
            self.enterResync(&shared, lastByte: ASCII.lf)
        }
        return .proceed
    }

    /// Where the field lines of a head stopped.
    private enum HeadEnd {
        case moreInput, complete, blockTooLarge, tooManyLines
    }

    /// A start line was recognised: the stream found a message, and (mid-stream) the roles are decided.
    mutating func startLineFound(_ kind: MessageKind, _ shared: inout ConversationState, _ emit: Emit) {
        if self.atStreamStart {
            self.atStreamStart = false
            if self.role == nil {
                self.role = kind
                shared.decideRoles(stream: self.stream, kind: kind, emit: emit)
            }
            shared.firstMessageFound(stream: self.stream)
        }
        if self.role == nil {  // the other stream decided while this one was mid-head
            self.role = kind
        }
        if kind == .request { shared.requestHeadInProgress = true }
    }

    /// The bytes at the head's start are not a start line: skip its first byte and look again from the next.
    mutating func startLineFailed(
        _ input: UnsafeRawBufferPointer, _ i: inout Int, _ segmentStart: Int, _ shared: inout ConversationState,
        _ emit: Emit
    ) -> HeadOutcome {
        if !self.scan.fromResync {
            shared.counters.parseErrors.invalidStartLine += 1
            shared.counters.resyncs += 1
            self.pendingUnparsed = true
        }
        self.state = .resync
        if !self.headBuffer.isEmpty {
            // Rescan what followed its first byte, with the byte that failed it, so the scan sees why it failed.
            let first = self.headBuffer[0]
            self.skipped(first, &shared, emit)
            var rest = Array(self.headBuffer[1...])
            rest.append(contentsOf: input[segmentStart..<i])
            self.headBuffer.removeAll(keepingCapacity: true)
            return .refeed(rest)
        }
        self.skipped(input[segmentStart], &shared, emit)
        i = segmentStart + 1
        return .proceed
    }

    mutating func skipped(_ b: UInt8, _ shared: inout ConversationState, _ emit: Emit) {
        shared.counters.bytesSkipped += 1
        self.lastByte = b
        if self.atStreamStart && b != ASCII.cr && b != ASCII.lf {
            shared.noteLeadingLoss(stream: self.stream, emit: emit)
        }
    }

    mutating func headComplete(
        _ input: UnsafeRawBufferPointer, _ range: Range<Int>, _ ts: Int64, _ shared: inout ConversationState,
        _ emit: Emit
    ) {
        let (head, parsed) = self.parseHead(input, range)
        if self.scan.isTrailer {
            self.current?.record.trailers = head
            self.current?.record.bodyWireBytes += self.scan.length
            self.current?.record.endTimestamp = ts
            if parsed.invalidLines > 0 {
                shared.counters.parseErrors.invalidHeaderLine += parsed.invalidLines
                self.current?.record.flags.insert(.unparsed)
            }
            self.finishMessage(&shared, emit)
            return
        }
        if parsed.kind == .request {
            self.requestHead(consume head, parsed, ts, &shared, emit)
        } else {
            self.responseHead(consume head, parsed, ts, &shared, emit)
        }
    }

    /// Parses the head from the buffered part and `range` of the input. The head is copied once: from the input,
    /// or (when it was split) taken whole from the buffer.
    mutating func parseHead(_ input: UnsafeRawBufferPointer?, _ range: Range<Int>) -> (HTTPHead, ParsedHead) {
        let bytes: [UInt8]
        if self.headBuffer.isEmpty, let input {
            bytes = Array(UnsafeRawBufferPointer(rebasing: input[range]))
        } else {
            if let input { self.headBuffer.append(contentsOf: input[range]) }
            bytes = self.headBuffer
            self.headBuffer = []
        }
        return HeadParser.parse(
            bytes, startLine: !self.scan.isTrailer, maxFields: self.limits.maxHeaderCount, expectedFields: self.scan.lines)
    }

    /// The head was cut by a gap, a limit or the end of the direction: report what it says, with `flags`.
    mutating func commitBrokenHead(
        _ input: UnsafeRawBufferPointer?, _ range: Range<Int>, _ flags: HTTPTransactionFlags, _ ts: Int64,
        _ shared: inout ConversationState, _ emit: Emit
    ) {
        var (head, parsed) = self.parseHead(input, range)
        if self.scan.isTrailer {
            self.current?.record.trailers = head
            self.current?.record.bodyWireBytes += self.scan.length
            self.current?.record.flags.formUnion(flags)
            self.finishMessage(&shared, emit)
            return
        }
        // Its body cannot be framed: it is reported without one, and the direction resynchronises after it.
        parsed.framing.transferCoding = .none
        parsed.framing.contentLength = nil
        parsed.framing.contentLengthInvalid = false
        parsed.framing.contentCoding = .none
        let kind = parsed.kind ?? self.scan.matcher.kind ?? self.role ?? .request
        if kind == .request {
            self.requestHead(head, parsed, ts, &shared, emit, brokenFlags: flags)
        } else {
            self.responseHead(head, parsed, ts, &shared, emit, brokenFlags: flags)
        }
    }

    /// The record of a message whose head was just read (the head moves into it), with `interim` responses before
    /// it and `flags` besides those of the head.
    mutating func newRecord(
        _ head: consuming HTTPHead, _ parsed: ParsedHead, _ ts: Int64, _ shared: inout ConversationState,
        interim: [Int] = [], flags: HTTPTransactionFlags = []
    ) -> MessageRecord {
        var flags = flags
        let invalidLines = parsed.invalidLines
        if self.pendingUnparsed {
            flags.insert(.unparsed)
            self.pendingUnparsed = false
        }
        if invalidLines > 0 {
            shared.counters.parseErrors.invalidHeaderLine += invalidLines
            flags.insert(.unparsed)
        }
        // Built whole: a record built and then changed is copied on its way out.
        return MessageRecord(
            head: consume head, startTimestamp: self.scan.startTimestamp, endTimestamp: ts, interim: interim,
            headBytes: self.scan.length, body: self.limits.bodyCaptureBytes > 0 ? [] : nil, flags: flags)
    }

    mutating func requestHead(
        _ head: consuming HTTPHead, _ parsed: ParsedHead, _ ts: Int64, _ shared: inout ConversationState,
        _ emit: Emit, brokenFlags: HTTPTransactionFlags? = nil
    ) {
        shared.counters.requests += 1
        let declared = parsed.framing
        let method = head.method
        let isHead = method.map { head.bytes(in: $0, equal: "HEAD") } ?? false
        let isConnect = method.map { head.bytes(in: $0, equal: "CONNECT") } ?? false
        let record = self.newRecord(consume head, parsed, ts, &shared, flags: brokenFlags ?? [])
        let info = RequestInfo(
            methodKnown: method != nil, isHead: isHead, isConnect: isConnect, upgrade: declared.upgrade)
        let ordinal = shared.requestHeadParsed(info, emit: emit)
        self.lastRequestOrdinal = ordinal
        self.current = Current(
            record: consume record, isRequest: true, ordinal: ordinal, info: info, decode: .off, captureLeft: 0)
        if brokenFlags != nil { return self.finishMessage(&shared, emit) }
        // A request's body is chunked, or Content-Length long, or absent (RFC 9112 §6.3 items 4-7).
        switch declared.transferCoding {
        case .chunked:
            self.current?.record.flags.insert(.chunked)
            self.startBody(declared.contentCoding)
            self.state = .chunkSize
        case .other:
            shared.counters.parseErrors.invalidTransferEncoding += 1
            self.framingError(&shared, emit)
        case .none:
            if declared.contentLengthInvalid {
                shared.counters.parseErrors.invalidContentLength += 1
                self.framingError(&shared, emit)
            } else if let length = declared.contentLength, length > 0 {
                self.startBody(declared.contentCoding)
                self.state = .body(remaining: length)
            } else {
                self.finishMessage(&shared, emit)
            }
        }
    }

    mutating func responseHead(
        _ head: consuming HTTPHead, _ parsed: ParsedHead, _ ts: Int64, _ shared: inout ConversationState,
        _ emit: Emit, brokenFlags: HTTPTransactionFlags? = nil
    ) {
        let status = head.statusCode ?? 0
        let declared = parsed.framing
        if status >= 100 && status < 200 && status != 101 {
            // Interim: not a transaction, noted on the final response that follows (RFC 9110 §15.2).
            shared.counters.interimResponses += 1
            self.pendingInterim.append(status)
            if let brokenFlags { self.pendingInterimFlags.formUnion(brokenFlags) }  // e.g. a gap cut it
            self.state = .idle
            return
        }
        shared.counters.responses += 1
        let record = self.newRecord(
            consume head, parsed, ts, &shared, interim: self.pendingInterim,
            flags: self.pendingInterimFlags.union(brokenFlags ?? []))
        self.pendingInterim = []
        self.pendingInterimFlags = []
        // Mid-stream, a response that starts before any request was seen answers one from before the capture.
        var ordinal: Int?
        var info: RequestInfo?
        if !(self.midstream && !shared.anyRequestStarted) {
            let answer = shared.responseHeadParsed(emit: emit)
            ordinal = answer.0
            info = answer.1
            if shared.holdOrdinal == ordinal { self.yieldRequested = true }
        }
        self.current = Current(
            record: consume record, isRequest: false, ordinal: ordinal, info: info, decode: .off, captureLeft: 0)
        if brokenFlags != nil { return self.finishMessage(&shared, emit) }
        // RFC 9112 §6.3: the request method and the status decide before any header does.
        if status == 101 || (info?.isConnect == true && status >= 200 && status < 300) {
            self.current?.record.flags.insert(.upgrade)
            shared.tunnelFrom = min(shared.tunnelFrom ?? Int.max, ordinal ?? shared.nextRequestOrdinal)
            self.finishMessage(&shared, emit)
            self.state = .tunnel
            return
        }
        if info?.isHead == true || status == 204 || status == 304 || status < 200 {
            return self.finishMessage(&shared, emit)
        }
        let framing: BodyFraming
        switch declared.transferCoding {
        case .chunked:
            self.current?.record.flags.insert(.chunked)
            framing = .chunked
        case .other:
            self.current?.record.flags.insert(.closeDelimited)
            framing = .close
        case .none:
            if declared.contentLengthInvalid {
                shared.counters.parseErrors.invalidContentLength += 1
                return self.framingError(&shared, emit)
            } else if let length = declared.contentLength {
                if length == 0 { return self.finishMessage(&shared, emit) }
                framing = .length(length)
            } else {
                self.current?.record.flags.insert(.closeDelimited)
                framing = .close
            }
        }
        self.startBody(declared.contentCoding)
        // Without its request's method this may be the answer to HEAD, whose headers describe a body never sent.
        self.state = info?.methodKnown == true ? framing.state : .probe(then: framing, matched: 0)
    }

    /// The body's length cannot be known: the message ends with its head and its body is skipped by resync.
    mutating func framingError(_ shared: inout ConversationState, _ emit: Emit) {
        self.current?.record.flags.insert(.unparsed)
        self.finishMessage(&shared, emit)
        self.enterResync(&shared, lastByte: ASCII.lf)
    }
}

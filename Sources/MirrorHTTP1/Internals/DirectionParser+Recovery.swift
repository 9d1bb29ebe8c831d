// vpcmirror: how a direction survives the wire: resynchronisation, gaps, FIN, role changes, Upgrade and CONNECT.

extension DirectionParser {
    // MARK: - Resynchronisation

    mutating func enterResync(_ shared: inout ConversationState, lastByte: UInt8) {
        self.state = .resync
        self.current = nil
        self.headBuffer.removeAll(keepingCapacity: true)
        self.lineBuffer.removeAll(keepingCapacity: true)
        self.lastByte = lastByte
        shared.counters.resyncs += 1
        if self.role == .request { shared.requestHeadInProgress = false }
    }

    /// Scans for the next plausible start line, counting the bytes passed over. Returns its position, or nil.
    ///
    /// Candidates: `H` for a status line anywhere (`HTTP/1.x SP 3DIGIT`), an upper-case letter for a request line
    /// where a method can begin: after LF any strict method, after anything else (or a gap) only a registered one
    /// and not after another method character. A candidate stands while its line matches ``StartLineMatcher``; one
    /// still undecided at the end of the input is kept as a head. The cost is bounded by the start line limit per
    /// candidate, and candidates fail within a few bytes in practice. Returns the position and whether only
    /// registered methods were allowed there.
    mutating func findCandidate(
        _ input: UnsafeRawBufferPointer, from start: Int, _ shared: inout ConversationState, _ emit: Emit
    ) -> (Int, Bool)? {
        let requests = self.role != .response
        let responses = self.role != .request
        let n = input.count
        let maxLine = self.limits.maxStartLineBytes
        var i = start
        var sawContent = false
        var found: (Int, Bool)?
        // The line the scan is in ends at `lineEnd` (its LF, or n). A candidate there stands only if no byte from
        // it to the line end is poison and the line ends within the start line limit: in a line, that is every
        // position from `viableFrom` on. Each line is looked at once for both, so a line that cannot hold a start
        // line (most of a binary body) is passed over whole.
        var lineEnd = -1
        var viableFrom = 0
        while i < n {
            if lineEnd < i {
                lineEnd = input.firstIndex(of: ASCII.lf, in: i..<n) ?? n
                let lastPoison = Self.lastPoison(input, in: i..<lineEnd) ?? (i - 1)
                viableFrom = max(lastPoison + 1, lineEnd - maxLine + 1)
            }
            // Only an upper-case letter (`H` for a status line) can start a candidate: skip to the next viable one,
            // as if the bytes in between had been looked at one by one.
            let from = max(i, viableFrom)
            var next = lineEnd
            if from < lineEnd {
                next = requests
                    ? input.firstUpper(from: from, before: lineEnd)
                    : (input.firstIndex(of: ASCII.upperH, in: from..<lineEnd) ?? lineEnd)
            }
            if next > i {
                if !sawContent { sawContent = Self.holdsContent(input, i..<next) }
                self.lastByte = input[next - 1]
                i = next
            }
            if i == lineEnd {
                guard i < n else { break }
                self.lastByte = ASCII.lf
                i += 1
                continue
            }
            let b = input[i]
            let requestStart = requests && !ASCII.isStrictMethodChar(self.lastByte)
            if (responses && b == ASCII.upperH) || requestStart {
                let knownOnly = self.lastByte != ASCII.lf
                var matcher = StartLineMatcher(
                    allowRequests: requests, allowResponses: responses, strictMethods: true,
                    knownMethodsOnly: knownOnly, maxLength: self.limits.maxStartLineBytes)
                var j = i
                var outcome = StartLineMatcher.Outcome.needMore
                while j < n && outcome == .needMore {
                    outcome = matcher.feed(input[j])
                    j += 1
                }
                if outcome == .needMore || outcome == .matched {
                    found = (i, knownOnly)
                    break
                }
            }
            sawContent = true  // an upper-case letter
            self.lastByte = b
            i += 1
        }
        shared.counters.bytesSkipped += i - start
        if sawContent && self.atStreamStart { shared.noteLeadingLoss(stream: self.stream, emit: emit) }
        return found
    }

    /// Whether `range` holds a byte other than CR and LF.
    static func holdsContent(_ input: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        for i in range where input[i] != ASCII.cr && input[i] != ASCII.lf { return true }
        return false
    }

    /// A byte no start line may hold: a control other than HTAB, CR and LF; or DEL.
    @inline(__always)
    static func isPoison(_ b: UInt8) -> Bool {
        (b < 0x20 && b != ASCII.tab && b != ASCII.cr && b != ASCII.lf) || b == 0x7F
    }

    /// The last poison byte in `range`, or nil.
    static func lastPoison(_ input: UnsafeRawBufferPointer, in range: Range<Int>) -> Int? {
        var j = range.upperBound
        if let base = input.baseAddress {
            // Eight bytes at a time, from the end: a word with no byte below 0x20 and no DEL (most of any text)
            // holds no poison; one with such a byte is looked at byte by byte.
            let ones: UInt64 = 0x0101_0101_0101_0101
            while j - 8 >= range.lowerBound {
                let x = base.loadUnaligned(fromByteOffset: j - 8, as: UInt64.self)
                let del = x ^ (ones &* 0x7F)
                let flagged = ((x &- ones &* 0x20) & ~x) | ((del &- ones) & ~del)
                if flagged & (ones &* 0x80) != 0 {
                    for k in stride(from: j - 1, through: j - 8, by: -1) where Self.isPoison(input[k]) { return k }
                }
                j -= 8
            }
        }
        while j > range.lowerBound {
            j -= 1
            if Self.isPoison(input[j]) { return j }
        }
        return nil
    }

    // MARK: - Gaps, end, roles

    /// `length` bytes of this direction were lost. See ``HTTP1Conversation`` for the policy.
    mutating func gap(
        _ length: Int, truncated: Bool, _ ts: Int64, _ shared: inout ConversationState, _ emit: Emit
    ) {
        if case .hold = self.state {
            self.holdEvents.append(.gap(length: length, truncated: truncated, timestamp: ts))
            return
        }
        // Undecided: the bytes so far are body (a gap cannot start the next response's status line here).
        self.settleProbe(ts, &shared, emit)
        let flags = self.gapFlag.union(truncated ? .truncated : [])
        switch self.state {
        case .idle:
            self.lostAtBoundary(flags, &shared, emit)
            self.enterResync(&shared, lastByte: 0)
        case .head:
            if self.scan.startLineDone || (!self.scan.fromResync && self.scan.matcher.kind != nil) {
                if !self.scan.startLineDone { self.startLineFound(self.scan.matcher.kind!, &shared, emit) }
                self.commitBrokenHead(nil, 0..<0, flags, ts, &shared, emit)
            } else {
                // Too little of it to tell what it was: its bytes are skipped, and the message lost.
                shared.counters.bytesSkipped += self.headBuffer.count
                if !self.scan.fromResync {
                    self.lostAtBoundary(flags, &shared, emit)
                } else if self.atStreamStart {
                    shared.noteLeadingLoss(stream: self.stream, emit: emit)
                }
            }
            self.enterResync(&shared, lastByte: 0)
        case .trailers:
            self.commitBrokenHead(nil, 0..<0, flags, ts, &shared, emit)
            self.enterResync(&shared, lastByte: 0)
        case .body(let remaining):
            // The length is known: the lost bytes are counted and the next message is found exactly.
            self.loseBody(min(length, remaining), flags)
            if length < remaining {
                self.state = .body(remaining: remaining - length)
                return
            }
            self.finishMessage(&shared, emit)
            if length > remaining {
                self.lostAtBoundary(flags, &shared, emit)
                self.enterResync(&shared, lastByte: 0)
            }
        case .chunkData(let remaining) where length <= remaining:
            self.loseBody(length, flags)
            self.state = length == remaining ? .chunkDataEnd(sawCR: false) : .chunkData(remaining: remaining - length)
        case .chunkData, .chunkSize, .chunkDataEnd:
            // The chunk framing is lost: the message ends here and the direction resynchronises.
            self.loseBody(0, flags)
            self.finishMessage(&shared, emit)
            self.enterResync(&shared, lastByte: 0)
        case .closeDelimited:
            // Nothing can follow a close-delimited body on this direction, so the gap is part of it.
            self.loseBody(length, flags)
        case .probe:
            break  // resolved above
        case .resync:
            if self.atStreamStart { shared.noteLeadingLoss(stream: self.stream, emit: emit) }
            self.lastByte = 0
        case .tunnel, .ended, .hold:
            break
        }
    }

    /// A gap where a message would start (or early in its head): that message is lost whole.
    mutating func lostAtBoundary(_ flags: HTTPTransactionFlags, _ shared: inout ConversationState, _ emit: Emit) {
        switch self.role {
        case .request?:
            shared.requestLost(flags, emit: emit)
        case .response?:
            // Mid-stream with no request waiting, the lost bytes answered a request from before the capture.
            if !self.midstream || shared.requestPending {
                shared.responseLost(flags.union(self.pendingInterimFlags), interim: self.pendingInterim, emit: emit)
                self.pendingInterim = []
                self.pendingInterimFlags = []
            }
        case nil:
            shared.noteLeadingLoss(stream: self.stream, emit: emit)
        }
    }

    /// Ends an undecided probe: the bytes held while probing are fed as the body they turned out to be.
    mutating func settleProbe(_ ts: Int64, _ shared: inout ConversationState, _ emit: Emit) {
        guard case .probe(let framing, _) = self.state else { return }
        self.state = framing.state
        let probed = self.lineBuffer
        self.lineBuffer.removeAll(keepingCapacity: true)
        self.feed(probed, ts, &shared, emit)
        self.drainPending(&shared, emit)
    }

    /// The direction ended (FIN): a close-delimited body is complete; anything else open is cut.
    mutating func end(_ ts: Int64, _ shared: inout ConversationState, _ emit: Emit) {
        self.settleProbe(ts, &shared, emit)
        switch self.state {
        case .hold:
            self.holdEvents.append(.end(timestamp: ts))
            return
        case .head:
            if self.scan.startLineDone || (!self.scan.fromResync && self.scan.matcher.kind != nil) {
                if !self.scan.startLineDone { self.startLineFound(self.scan.matcher.kind!, &shared, emit) }
                self.commitBrokenHead(nil, 0..<0, .incomplete, ts, &shared, emit)
            } else {
                shared.counters.bytesSkipped += self.headBuffer.count
            }
        case .trailers:
            self.commitBrokenHead(nil, 0..<0, .incomplete, ts, &shared, emit)
        case .body, .chunkSize, .chunkData, .chunkDataEnd:
            self.current?.record.flags.insert(.incomplete)
            self.finishMessage(&shared, emit)
        case .closeDelimited:
            self.finishMessage(&shared, emit)
        case .idle, .resync, .tunnel, .ended, .probe:
            break
        }
        self.current = nil
        self.headBuffer = []
        self.lineBuffer = []
        self.state = .ended
        if self.role == .request { shared.requestHeadInProgress = false }
    }

    /// The other stream decided the roles while this one had none.
    mutating func adoptRole(_ kind: MessageKind, _ shared: inout ConversationState, _ emit: Emit) {
        guard self.role == nil else { return }
        self.role = kind
        guard case .head = self.state, !self.scan.startLineDone else { return }
        if let candidate = self.scan.matcher.kind, candidate != kind {
            // The candidate being read is of the other kind: drop its first byte and look again.
            let first = self.headBuffer.first ?? 0
            let rest = Array(self.headBuffer.dropFirst())
            self.headBuffer.removeAll(keepingCapacity: true)
            self.state = .resync
            self.skipped(first, &shared, emit)
            let ts = self.scan.startTimestamp
            self.feed(rest, ts, &shared, emit)
        } else {
            self.scan.matcher.allowRequests = kind == .request
            self.scan.matcher.allowResponses = kind == .response
        }
    }

    // MARK: - Upgrade and CONNECT

    mutating func holdOrRelease(
        _ input: UnsafeRawBufferPointer, _ ts: Int64, _ shared: inout ConversationState, _ emit: Emit
    ) {
        guard !input.isEmpty else { return }
        if self.holdBytes.count + input.count <= self.limits.maxHeaderBlockBytes {
            self.holdBytes.append(contentsOf: input)
            self.holdEvents.append(.bytes(count: input.count, timestamp: ts))
            return
        }
        // Too much to keep without an answer: parse it (a tunnel's bytes then fail as garbage, at bounded cost).
        self.releaseHold(&shared, emit)
        self.feed(input, ts, &shared, emit)
    }

    /// The response did not switch protocols (or cannot be waited for): parse what was held.
    mutating func releaseHold(_ shared: inout ConversationState, _ emit: Emit) {
        guard case .hold = self.state else { return }
        self.state = .idle
        shared.holdOrdinal = nil
        let bytes = self.holdBytes
        let events = self.holdEvents
        self.holdBytes = []
        self.holdEvents = []
        var offset = 0
        bytes.withUnsafeBytes { raw in
            for event in events {
                switch event {
                case .bytes(let count, let ts):
                    self.feed(UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + count)]), ts, &shared, emit)
                    offset += count
                case .gap(let length, let truncated, let ts):
                    self.drainPending(&shared, emit)
                    self.gap(length, truncated: truncated, ts, &shared, emit)
                case .end(let ts):
                    self.drainPending(&shared, emit)
                    self.end(ts, &shared, emit)
                }
            }
        }
    }

    /// The connection switched protocols: what was held, and everything after, is tunnel.
    mutating func enterTunnel(_ shared: inout ConversationState) {
        let ended = self.holdEvents.contains { if case .end = $0 { return true } else { return false } }
        if case .hold = self.state {} else if case .ended = self.state { return }
        shared.holdOrdinal = nil
        shared.counters.tunnelBytes += self.holdBytes.count + self.pendingBytes.count
        self.pendingBytes = []
        self.holdBytes = []
        self.holdEvents = []
        self.current = nil
        self.headBuffer = []
        self.state = ended ? .ended : .tunnel
    }

    /// Applies a decision about Upgrade/CONNECT to this (client) direction. Returns true if anything changed.
    mutating func settleUpgrade(_ shared: inout ConversationState, _ emit: Emit) -> Bool {
        guard self.role == .request else { return false }
        if case .hold(let ordinal) = self.state {
            if let tunnel = shared.tunnelFrom, tunnel <= ordinal {
                self.enterTunnel(&shared)
                return true
            }
            if ordinal < shared.nextResponseOrdinal {
                self.releaseHold(&shared, emit)
                return true
            }
            return false
        }
        switch self.state {
        case .tunnel, .ended:
            return false
        default:
            // A switch answered a request this direction already passed (101 without Upgrade): tunnel from here.
            if let tunnel = shared.tunnelFrom, self.lastRequestOrdinal >= tunnel {
                self.enterTunnel(&shared)
                return true
            }
            return false
        }
    }
}

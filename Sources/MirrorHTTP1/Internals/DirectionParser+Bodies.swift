// vpcmirror: how a direction reads bodies: lengths, chunks, capture and decoding, and how a message ends.

extension DirectionParser {
    mutating func startBody(_ coding: ContentCoding) {
        self.current?.captureLeft = self.limits.bodyCaptureBytes
        guard self.limits.decodeContentEncoding else { return }
        switch coding {
        case .gzip:
            self.uniqueInflater().start(.gzipOrZlib)
            self.current?.decode = .active
        case .deflate:
            self.current?.decode = .sniff(nil)
        case .none, .other:
            break
        }
    }

    mutating func uniqueInflater() -> Inflater {
        if self.inflater == nil {
            self.inflater = Inflater()
        } else if !isKnownUniquelyReferenced(&self.inflater) {
            self.inflater = self.inflater!.copy()  // a copied conversation must not share the inflate state
        }
        return self.inflater!
    }

    mutating func consumeBody(_ input: UnsafeRawBufferPointer, _ range: Range<Int>, _ ts: Int64) {
        guard !range.isEmpty, self.current != nil else { return }
        self.current!.record.bodyBytes += range.count
        self.current!.record.bodyWireBytes += range.count
        self.current!.record.endTimestamp = ts
        if self.current!.captureLeft > 0 {
            let take = min(self.current!.captureLeft, range.count)
            self.current!.record.body?.append(contentsOf: input[range.lowerBound..<(range.lowerBound + take)])
            self.current!.captureLeft -= take
        }
        switch self.current!.decode {
        case .off, .failed, .limit, .stopped:
            return
        case .active, .sniff:
            self.inflate(UnsafeRawBufferPointer(rebasing: input[range]))
        }
    }

    mutating func inflate(_ bytes: UnsafeRawBufferPointer) {
        switch self.current!.decode {
        case .sniff(nil):
            guard bytes.count >= 2 else {
                self.current!.decode = .sniff(bytes[0])
                return
            }
            self.startDeflate(bytes[0], bytes[1])
            self.feedInflater(bytes)
        case .sniff(let first?):
            self.startDeflate(first, bytes[0])
            withUnsafeBytes(of: first) { self.feedInflater($0) }
            self.feedInflater(bytes)
        case .active:
            self.feedInflater(bytes)
        case .off, .failed, .limit, .stopped:
            return
        }
    }

    mutating func startDeflate(_ b0: UInt8, _ b1: UInt8) {
        self.uniqueInflater().start(Inflater.deflateFormat(b0, b1))
        self.current!.decode = .active
    }

    mutating func feedInflater(_ bytes: UnsafeRawBufferPointer) {
        guard case .active = self.current!.decode else { return }
        self.decoded(self.uniqueInflater().feed(bytes, limit: self.limits.maxDecodedBytes))
    }

    /// Inflates what the inflater gathered (before its counts are read).
    mutating func flushInflater() {
        guard case .active = self.current?.decode else { return }
        self.decoded(self.uniqueInflater().flush(limit: self.limits.maxDecodedBytes))
    }

    private mutating func decoded(_ status: Inflater.Status) {
        switch status {
        case .ok: break
        case .error: self.current!.decode = .failed
        case .limit: self.current!.decode = .limit
        }
    }

    /// `length` bytes of the body are lost: counted in its length, flagged, and the rest cannot be captured or decoded.
    mutating func loseBody(_ length: Int, _ flags: HTTPTransactionFlags) {
        guard self.current != nil else { return }
        self.current!.record.bodyBytes += length
        self.current!.record.bodyWireBytes += length
        self.current!.record.flags.formUnion(flags)
        self.current!.captureLeft = 0
        switch self.current!.decode {
        case .active, .sniff: self.current!.decode = .stopped
        case .off, .failed, .limit, .stopped: break
        }
    }

    /// Returns true when the state moved to trailers (so the caller knows where their bytes begin).
    mutating func scanChunkSize(
        _ input: UnsafeRawBufferPointer, _ i: inout Int, _ ts: Int64, _ shared: inout ConversationState,
        _ emit: Emit
    ) -> Bool {
        let n = input.count
        let allowance = self.limits.maxChunkSizeLineBytes - self.lineBuffer.count
        guard allowance > 0 else {
            shared.counters.parseErrors.chunkSizeLineTooLong += 1
            self.current?.record.flags.insert(.headerLimit)
            self.finishMessage(&shared, emit)
            self.enterResync(&shared, lastByte: 0)
            return false
        }
        let window = min(n - i, allowance)
        guard let lf = input.firstIndex(of: ASCII.lf, in: i..<(i + window)) else {
            self.lineBuffer.append(contentsOf: input[i..<(i + window)])
            self.current?.record.bodyWireBytes += window
            i += window
            return false
        }
        let size: Int?
        if self.lineBuffer.isEmpty {
            size = Self.chunkSize(UnsafeRawBufferPointer(rebasing: input[i..<lf]))
        } else {
            self.lineBuffer.append(contentsOf: input[i..<lf])
            size = self.lineBuffer.withUnsafeBytes { Self.chunkSize($0) }
            self.lineBuffer.removeAll(keepingCapacity: true)
        }
        self.current?.record.bodyWireBytes += lf - i + 1
        self.current?.record.endTimestamp = ts
        i = lf + 1
        guard let size else {
            shared.counters.parseErrors.invalidChunk += 1
            self.current?.record.flags.insert(.unparsed)
            self.finishMessage(&shared, emit)
            self.enterResync(&shared, lastByte: ASCII.lf)
            return false
        }
        if size == 0 {
            self.beginTrailers(ts)
            return true
        }
        self.state = .chunkData(remaining: size)
        return false
    }

    /// Whether `b` can be byte `k` of `HTTP/1.x SP 3DIGIT` (12 bytes).
    static func statusPrefixAccepts(_ b: UInt8, at k: Int) -> Bool {
        switch k {
        case 0..<7: return b == Self.httpSlash[k]
        case 8: return b == ASCII.space
        default: return ASCII.isDigit(b)
        }
    }

    static let statusPrefixLength = 12
    static let httpSlash: [UInt8] = Array("HTTP/1.".utf8)

    /// `chunk-size [BWS] [; chunk-ext] [CR]`, or nil (RFC 9112 §7.1).
    static func chunkSize(_ line: UnsafeRawBufferPointer) -> Int? {
        var end = line.count
        if end > 0 && line[end - 1] == ASCII.cr { end -= 1 }
        var i = 0
        var value = 0
        while i < end, let digit = ASCII.hexValue(line[i]) {
            guard value <= (Int.max - digit) / 16 else { return nil }
            value = value * 16 + digit
            i += 1
        }
        guard i > 0 else { return nil }
        while i < end && ASCII.isWhitespace(line[i]) { i += 1 }
        guard i == end || line[i] == ASCII.semicolon else { return nil }
        return value
    }

    // MARK: - Message end

    mutating func finishMessage(_ shared: inout ConversationState, _ emit: Emit) {
        self.state = .idle
        self.flushInflater()
        guard var current = self.current.take() else { return }  // moved out: its record is handed on, not copied
        Self.finishDecoding(&current, self.inflater, &shared)
        // Held only while a body is decoded: an idle connection keeps none of its 87 KiB.
        self.inflater = nil
        let (isRequest, ordinal, info) = (current.isRequest, current.ordinal, current.info)
        // Swapped out rather than projected from `current` (a projection copies the record, then frees `current`).
        var record = MessageRecord(head: HTTPHead(bytes: []), startTimestamp: 0, endTimestamp: 0)
        swap(&record, &current.record)
        if isRequest, let ordinal {
            shared.requestCompleted(ordinal, consume record, emit: emit)
            if let tunnel = shared.tunnelFrom, ordinal >= tunnel {
                self.state = .tunnel
            } else if let info, info.isConnect || info.upgrade, ordinal >= shared.nextResponseOrdinal {
                // Whether what follows is HTTP or a tunnel depends on the response: keep it until then.
                self.state = .hold(ordinal: ordinal)
                shared.holdOrdinal = ordinal
            }
        } else {
            shared.responseCompleted(ordinal, consume record, emit: emit)
        }
    }

    static func finishDecoding(_ current: inout Current, _ inflater: Inflater?, _ shared: inout ConversationState) {
        guard current.record.bodyBytes > 0 else { return }
        let cut = !current.record.flags.isDisjoint(with: [.requestGap, .responseGap, .incomplete])
        switch current.decode {
        case .off, .stopped:
            return
        case .active where inflater?.atStreamEnd == true:
            current.record.decodedBytes = inflater!.produced
        case .limit:
            shared.counters.decodeLimits += 1
            current.record.decodedBytes = inflater?.produced
            current.record.flags.insert(.decodeLimit)
        case .active, .sniff, .failed:
            // A stream that stopped before its end: an error, unless the message itself was cut.
            if case .failed = current.decode {} else if cut { return }
            shared.counters.decodeErrors += 1
            current.record.flags.insert(.decodeError)
        }
    }
}

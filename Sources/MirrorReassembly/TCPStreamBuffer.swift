// vpcmirror: one direction of a TCP connection: 64-bit offsets, the out-of-order buffer, holes and the FIN.

/// Where one direction stands, and the out-of-order bytes it holds.
///
/// Offsets count payload bytes from the start of the stream (0 is the byte after the SYN, or the first
/// byte seen when picked up midstream), in 64 bits so they never wrap. Everything before `nextOffset`
/// has been delivered, as data or as a gap. `segments` holds what arrived beyond it: sorted and not
/// overlapping (copies, as in Suricata's streaming buffer: `(offset, bytes)` pairs rather than pointers
/// into frames that are gone). Under `.first` every segment starts after `nextOffset`; under `.last`
/// in-order bytes wait there too, until the peer acknowledges them, because a later copy may still win.
struct TCPStreamBuffer {
    /// Buffered bytes, or a marker for bytes a segment announced but the capture cut off.
    struct Segment {
        var offset: UInt64
        var length: Int
        /// Empty for a truncation marker.
        var bytes: [UInt8]
        var isTruncated: Bool

        var end: UInt64 { self.offset + UInt64(self.length) }
        /// What the segment is charged against the caps: its bytes and its bookkeeping.
        var cost: Int { self.bytes.count + TCPReassembler.bufferedSegmentOverhead }

        static func marker(from start: UInt64, to end: UInt64) -> Segment {
            Segment(offset: start, length: Int(end - start), bytes: [], isTruncated: true)
        }
    }

    /// Who is told, and when.
    struct Output {
        var id: ConnectionID
        var direction: StreamDirection
        var timestamp: Int64
    }

    /// Why a hole was declared lost, for the counters.
    enum LossCause {
        case bufferLimit, memcap, acknowledged, close
    }

    private(set) var isInitialized = false
    /// The sequence number of offset 0.
    private(set) var baseSequence = TCPSequenceNumber(rawValue: 0)
    private(set) var nextOffset: UInt64 = 0
    private(set) var finOffset: UInt64? = nil
    private(set) var isEnded = false
    private var segments: [Segment] = []
    private(set) var bufferedCost = 0
    /// Before the first segment of this direction: the first acknowledgment the peer sent for it.
    private var acknowledgmentHint: TCPSequenceNumber? = nil
    /// The furthest offset the peer acknowledged beyond `nextOffset`, and the hole waiting to be declared.
    private var acknowledgedOffset: UInt64 = 0
    private var acknowledgedHoleTarget: UInt64 = 0
    private(set) var acknowledgedHoleDeadline: Int64 = .max

    // MARK: - Sequence numbers and offsets

    /// Starts the stream with offset 0 at `sequence` (the ISN + 1, after a SYN).
    mutating func start(at sequence: TCPSequenceNumber) {
        self.isInitialized = true
        self.baseSequence = sequence
        self.acknowledgmentHint = nil
    }

    enum HandshakeOutcome { case started, repeated, contradicted }

    /// Starts the stream from its SYN or SYN-ACK (`sequence` is the ISN + 1), unless it has started.
    mutating func start(handshakeAt sequence: TCPSequenceNumber) -> HandshakeOutcome {
        guard self.isInitialized else {
            self.start(at: sequence)
            return .started
        }
        return self.baseSequence == sequence ? .repeated : .contradicted
    }

    /// Starts a stream picked up midstream at its first segment, unless it has started. When the peer
    /// already acknowledged an earlier sequence number (within `maxDistance`), offset 0 is put there
    /// instead, so bytes that were reordered behind this segment are not lost before the stream's start.
    mutating func start(midstreamAt sequence: TCPSequenceNumber, maxDistance: Int) {
        guard !self.isInitialized else { return }
        if let hint = self.acknowledgmentHint, case let distance = sequence.distance(from: hint), distance > 0,
            Int(distance) <= maxDistance
        {
            self.start(at: hint)
        } else {
            self.start(at: sequence)
        }
    }

    /// The sequence number of `offset`.
    func sequence(atOffset offset: UInt64) -> TCPSequenceNumber {
        self.baseSequence.advanced(byOffset: offset)
    }

    /// The stream offset of `sequence`, taken within 2^31 of the next expected byte; negative before the start.
    func offset(of sequence: TCPSequenceNumber) -> Int64 {
        Int64(self.nextOffset) + Int64(sequence.distance(from: self.sequence(atOffset: self.nextOffset)))
    }

    // MARK: - Segments

    /// Takes `length` bytes at `sequence`, of which the first `payload.count` were captured.
    /// In order with nothing buffered, `payload` goes straight to the delegate: no copy, no allocation.
    /// The caller enforces the caps afterwards (`enforceLimits`).
    mutating func receive<D: ReassemblyDelegate>(
        at sequence: TCPSequenceNumber, length: Int, payload: UnsafeRawBufferPointer, policy: OverlapPolicy,
        output: Output, counters: inout ReassemblyCounters, delegate: inout D
    ) {
        var start = self.offset(of: sequence)
        var length = length
        var payload = payload
        func dropFirst(_ count: Int) {
            start += Int64(count)
            length -= count
            payload = UnsafeRawBufferPointer(rebasing: payload[min(count, payload.count)...])
        }
        // Nothing exists after the FIN: the sender said so.
        if let fin = self.finOffset, start + Int64(length) > Int64(fin) {
            let cut = Int(min(start + Int64(length) - Int64(fin), Int64(length)))
            counters.bytesAfterFIN += cut
            length -= cut
            payload = UnsafeRawBufferPointer(rebasing: payload[..<min(length, payload.count)])
            guard length > 0 else { return }
        }
        if start < 0 {
            let cut = Int(min(-start, Int64(length)))
            counters.bytesBeforeStreamStart += cut
            dropFirst(cut)
            guard length > 0 else { return }
        }
        let next = Int64(self.nextOffset)
        if start < next {
            let cut = Int(min(next - start, Int64(length)))
            counters.retransmittedSegments += 1
            counters.retransmittedBytes += cut
            dropFirst(cut)
            guard length > 0 else {
                counters.duplicateSegments += 1
                return
            }
        }
        if start == next && self.segments.isEmpty
            && (policy == .first || start + Int64(length) <= Int64(self.acknowledgedOffset))
        {
            // The fast path: in order, nothing buffered, nothing to wait for. Straight from the frame.
            self.deliver(payload, output: output, counters: &counters, delegate: &delegate)
            if payload.count < length {
                self.skip(to: self.nextOffset + UInt64(length - payload.count), reason: .truncated, cause: .close,
                          output: output, counters: &counters, delegate: &delegate)
            }
            self.checkEnd(output: output, delegate: &delegate)
            return
        }
        if policy == .first && start == next {
            // In order, with later bytes buffered: up to the first of them from the frame; beyond, the
            // buffered copy wins.
            let direct = Int(min(Int64(payload.count), Int64(self.segments[0].offset) - start))
            self.deliver(UnsafeRawBufferPointer(rebasing: payload[..<direct]), output: output, counters: &counters,
                         delegate: &delegate)
            dropFirst(direct)
            if length > 0 {
                _ = self.insert(
                    at: UInt64(start), length: length, payload: payload, policy: policy, counters: &counters)
            }
        } else {
            // Out of order, or held until acknowledged (`.last`): copy it.
            let added = self.insert(
                at: UInt64(start), length: length, payload: payload, policy: policy, counters: &counters)
            if !added { counters.duplicateSegments += 1 }
        }
        self.drain(upTo: self.releaseLimit(policy), output: output, counters: &counters, delegate: &delegate)
    }

    /// How far buffered bytes may be delivered: all the way under `.first`; under `.last`, only what the
    /// peer has acknowledged (its receiver took those, so no later copy can change them).
    private func releaseLimit(_ policy: OverlapPolicy) -> UInt64 {
        policy == .first ? .max : self.acknowledgedOffset
    }

    /// The direction's FIN, whose sequence number is the one after its last byte.
    mutating func receiveFIN<D: ReassemblyDelegate>(
        at sequence: TCPSequenceNumber, output: Output, counters: inout ReassemblyCounters, delegate: inout D
    ) {
        // The first FIN stands; a FIN cannot take back bytes already delivered.
        guard !self.isEnded, self.finOffset == nil else { return }
        let offset = self.offset(of: sequence)
        let fin = UInt64(max(offset, Int64(self.nextOffset)))
        self.finOffset = fin
        while let last = self.segments.last, last.end > fin {
            self.segments.removeLast()
            self.adjustCost(-last.cost, counters: &counters)
            if last.offset < fin {
                var kept = last
                kept.length = Int(fin - last.offset)
                if !kept.isTruncated { kept.bytes.removeLast(last.length - kept.length) }
                self.segments.append(kept)
                self.adjustCost(kept.cost, counters: &counters)
            }
            if !last.isTruncated { counters.bytesAfterFIN += Int(last.end - max(last.offset, fin)) }
        }
        self.acknowledgedOffset = min(self.acknowledgedOffset, fin)
        self.acknowledgedHoleTarget = min(self.acknowledgedHoleTarget, fin)
        self.checkEnd(output: output, delegate: &delegate)
    }

    // MARK: - Acknowledgments from the peer

    /// The peer acknowledged up to `acknowledgment`. Bytes acknowledged but not seen reached the receiver
    /// without passing the mirror: once `acknowledgedHoleDeadline` passes they are declared lost.
    mutating func acknowledge<D: ReassemblyDelegate>(
        _ acknowledgment: TCPSequenceNumber, timestamp: Int64, delay: Int64, policy: OverlapPolicy, output: Output,
        counters: inout ReassemblyCounters, delegate: inout D
    ) {
        guard self.isInitialized else {
            if self.acknowledgmentHint == nil { self.acknowledgmentHint = acknowledgment }
            return
        }
        guard !self.isEnded else { return }
        let distance = Int64(acknowledgment.distance(from: self.sequence(atOffset: self.nextOffset)))
        // More than the largest window (2^30) ahead is not an acknowledgment of this stream.
        guard distance > 0, distance <= 1 << 30 else { return }
        var target = self.nextOffset + UInt64(distance)
        if let fin = self.finOffset { target = min(target, fin) }  // the FIN's own number is acknowledged too
        guard target > self.nextOffset else { return }
        self.acknowledgedOffset = max(self.acknowledgedOffset, target)
        if self.acknowledgedHoleDeadline == .max {
            self.acknowledgedHoleTarget = target
            self.acknowledgedHoleDeadline = Self.adding(delay, to: timestamp)
        }
        if policy == .last {
            self.drain(upTo: self.acknowledgedOffset, output: output, counters: &counters, delegate: &delegate)
        }
    }

    /// Declares lost the holes acknowledged before the deadline, when `now` has reached it.
    mutating func declareAcknowledgedHoles<D: ReassemblyDelegate>(
        now: Int64, delay: Int64, policy: OverlapPolicy, output: Output, counters: inout ReassemblyCounters,
        delegate: inout D
    ) {
        guard now >= self.acknowledgedHoleDeadline else { return }
        let target = self.acknowledgedHoleTarget
        while self.nextOffset < target {
            let holeEnd = min(target, self.segments.first?.offset ?? target)
            if holeEnd > self.nextOffset {
                self.skip(to: holeEnd, reason: .lost, cause: .acknowledged, output: output, counters: &counters,
                          delegate: &delegate)
            }
            // Acknowledged bytes are released under either policy, so this always moves past the hole.
            self.drain(upTo: self.releaseLimit(policy), output: output, counters: &counters, delegate: &delegate)
        }
        if !self.isEnded && self.acknowledgedOffset > self.nextOffset {
            // Acknowledged later than the first hole: give it its own delay.
            self.acknowledgedHoleTarget = self.acknowledgedOffset
            self.acknowledgedHoleDeadline = Self.adding(delay, to: now)
        } else {
            self.acknowledgedHoleDeadline = .max
        }
        self.checkEnd(output: output, delegate: &delegate)
    }

    // MARK: - Caps and closing

    /// Skips holes, oldest first, until this direction is within its cap and all buffers within the memcap.
    /// Under `.last`, unacknowledged in-order bytes are delivered first, before any hole is skipped.
    mutating func enforceLimits<D: ReassemblyDelegate>(
        _ limits: ReassemblyLimits, output: Output, counters: inout ReassemblyCounters, delegate: inout D
    ) {
        guard !self.segments.isEmpty else { return }
        while self.bufferedCost > limits.maxBufferedBytesPerDirection {
            guard self.releaseOldest(cause: .bufferLimit, policy: limits.overlapPolicy, output: output,
                                     counters: &counters, delegate: &delegate) else { break }
        }
        // Freeing this direction entirely brings the total back to where it was before the segment that
        // crossed the memcap, so the memcap always holds after this loop.
        while counters.bufferedBytes > limits.memcapBytes {
            guard self.releaseOldest(cause: .memcap, policy: limits.overlapPolicy, output: output,
                                     counters: &counters, delegate: &delegate) else { break }
        }
    }

    /// Delivers the first buffered segment whatever it waits for: the hole before it becomes a gap.
    /// - Returns: false when nothing is buffered.
    private mutating func releaseOldest<D: ReassemblyDelegate>(
        cause: LossCause, policy: OverlapPolicy, output: Output, counters: inout ReassemblyCounters, delegate: inout D
    ) -> Bool {
        guard let first = self.segments.first else { return false }
        if first.offset > self.nextOffset {
            self.skip(to: first.offset, reason: .lost, cause: cause, output: output, counters: &counters,
                      delegate: &delegate)
        }
        self.drain(upTo: first.end, output: output, counters: &counters, delegate: &delegate)
        self.drain(upTo: self.releaseLimit(policy), output: output, counters: &counters, delegate: &delegate)
        return true
    }

    /// At close: every hole becomes a gap, buffered bytes are delivered, the acknowledged tail or the
    /// stretch up to a seen FIN becomes a gap, and the FIN is delivered.
    mutating func flush<D: ReassemblyDelegate>(
        output: Output, counters: inout ReassemblyCounters, delegate: inout D
    ) {
        while let first = self.segments.first {
            if first.offset > self.nextOffset {
                self.skip(to: first.offset, reason: .lost, cause: .close, output: output, counters: &counters,
                          delegate: &delegate)
            }
            self.drain(upTo: .max, output: output, counters: &counters, delegate: &delegate)
        }
        if !self.isEnded {
            let end = self.finOffset ?? self.acknowledgedOffset
            if end > self.nextOffset {
                self.skip(to: end, reason: .lost, cause: .close, output: output, counters: &counters,
                          delegate: &delegate)
            }
            self.checkEnd(output: output, delegate: &delegate)
        }
        self.releaseBuffers(counters: &counters)
    }

    /// Frees the buffers without delivering them (the connection is gone).
    mutating func releaseBuffers(counters: inout ReassemblyCounters) {
        self.adjustCost(-self.bufferedCost, counters: &counters)
        self.segments = []
        self.acknowledgedHoleDeadline = .max
    }

    // MARK: - Delivery

    private mutating func deliver<D: ReassemblyDelegate>(
        _ bytes: UnsafeRawBufferPointer, output: Output, counters: inout ReassemblyCounters, delegate: inout D
    ) {
        guard !bytes.isEmpty else { return }
        delegate.data(output.id, output.direction, offset: self.nextOffset, bytes: bytes, timestamp: output.timestamp)
        counters.bytesDelivered += bytes.count
        self.nextOffset += UInt64(bytes.count)
    }

    /// A gap from `nextOffset` to `end`.
    private mutating func skip<D: ReassemblyDelegate>(
        to end: UInt64, reason: GapReason, cause: LossCause, output: Output, counters: inout ReassemblyCounters,
        delegate: inout D
    ) {
        let length = end - self.nextOffset
        delegate.gap(output.id, output.direction, offset: self.nextOffset, length: length, reason: reason,
                     timestamp: output.timestamp)
        let bytes = Int(length)
        switch reason {
        case .truncated:
            counters.truncatedGaps += 1
            counters.truncatedBytes += bytes
        case .lost:
            counters.lostGaps += 1
            counters.lostBytes += bytes
            switch cause {
            case .bufferLimit: counters.lostBytesAtBufferLimit += bytes
            case .memcap: counters.lostBytesAtMemcap += bytes
            case .acknowledged: counters.lostBytesAcknowledged += bytes
            case .close: break
            }
        }
        self.nextOffset = end
    }

    /// Delivers the buffered segments that now follow on from `nextOffset`, up to `limit` (a segment that
    /// crosses it is delivered in part).
    private mutating func drain<D: ReassemblyDelegate>(
        upTo limit: UInt64, output: Output, counters: inout ReassemblyCounters, delegate: inout D
    ) {
        var count = 0
        var freed = 0
        while count < self.segments.count && self.segments[count].offset == self.nextOffset && self.nextOffset < limit {
            if self.segments[count].end > limit {
                self.deliverPart(count, upTo: limit, output: output, counters: &counters, delegate: &delegate)
                break
            }
            let length = self.segments[count].length
            self.report(count, first: length, output: output, counters: &counters, delegate: &delegate)
            freed += self.segments[count].cost
            self.nextOffset += UInt64(length)
            count += 1
        }
        // One removal for the whole run, so draining n segments costs O(n), not O(n²).
        if count > 0 {
            self.segments.removeFirst(count)
            self.adjustCost(-freed, counters: &counters)
        }
        self.checkEnd(output: output, delegate: &delegate)
    }

    /// Delivers `segments[index]` up to `limit` and keeps the rest of it buffered.
    private mutating func deliverPart<D: ReassemblyDelegate>(
        _ index: Int, upTo limit: UInt64, output: Output, counters: inout ReassemblyCounters, delegate: inout D
    ) {
        let count = Int(limit - self.nextOffset)
        self.report(index, first: count, output: output, counters: &counters, delegate: &delegate)
        if !self.segments[index].isTruncated {
            self.segments[index].bytes.removeFirst(count)
            self.adjustCost(-count, counters: &counters)
        }
        self.segments[index].offset = limit
        self.segments[index].length -= count
        self.nextOffset = limit
    }

    /// Tells the delegate of the first `count` bytes of `segments[index]`, which start at `nextOffset`: data, or a
    /// truncated gap when the capture cut them off. The caller moves on.
    private func report<D: ReassemblyDelegate>(
        _ index: Int, first count: Int, output: Output, counters: inout ReassemblyCounters, delegate: inout D
    ) {
        let offset = self.nextOffset
        if self.segments[index].isTruncated {
            delegate.gap(output.id, output.direction, offset: offset, length: UInt64(count), reason: .truncated,
                         timestamp: output.timestamp)
            counters.truncatedGaps += 1
            counters.truncatedBytes += count
        } else {
            self.segments[index].bytes.withUnsafeBytes { bytes in
                let part = UnsafeRawBufferPointer(rebasing: bytes[..<count])
                delegate.data(output.id, output.direction, offset: offset, bytes: part, timestamp: output.timestamp)
            }
            counters.bytesDelivered += count
        }
    }

    /// Delivers the FIN once everything before it is through, and forgets satisfied acknowledgments.
    private mutating func checkEnd<D: ReassemblyDelegate>(output: Output, delegate: inout D) {
        if self.nextOffset >= self.acknowledgedOffset { self.acknowledgedHoleDeadline = .max }
        if let fin = self.finOffset, !self.isEnded, self.nextOffset >= fin {
            self.isEnded = true
            self.acknowledgedHoleDeadline = .max
            delegate.ended(output.id, output.direction, timestamp: output.timestamp)
        }
    }

    // MARK: - The out-of-order buffer

    private mutating func adjustCost(_ delta: Int, counters: inout ReassemblyCounters) {
        self.bufferedCost += delta
        counters.bufferedBytes += delta
    }

    /// The index of the first buffered segment that ends after `offset` (ends are sorted, as segments do not overlap).
    private func firstIndex(endingAfter offset: UInt64) -> Int {
        var low = 0
        var high = self.segments.count
        while low < high {
            let middle = (low + high) / 2
            if self.segments[middle].end > offset { high = middle } else { low = middle + 1 }
        }
        return low
    }

    /// Buffers `length` bytes at `start` (the captured `payload` first, a truncation marker for the rest).
    /// - Returns: whether anything new was buffered.
    private mutating func insert(
        at start: UInt64, length: Int, payload: UnsafeRawBufferPointer, policy: OverlapPolicy,
        counters: inout ReassemblyCounters
    ) -> Bool {
        var added = false
        if !payload.isEmpty {
            added = self.insertData(at: start, payload, policy: policy, counters: &counters)
        }
        if payload.count < length {
            let markerStart = start + UInt64(payload.count)
            added = self.insertMarker(from: markerStart, to: start + UInt64(length), counters: &counters) || added
        }
        return added
    }

    /// Buffers a copy of `bytes` at `start`. Where buffered data overlaps, `policy` picks the copy (and
    /// differing bytes are counted); real bytes always replace truncation markers. Contiguous data in
    /// the rebuilt stretch is merged into one segment.
    private mutating func insertData(
        at start: UInt64, _ bytes: UnsafeRawBufferPointer, policy: OverlapPolicy, counters: inout ReassemblyCounters
    ) -> Bool {
        let end = start + UInt64(bytes.count)
        let first = self.firstIndex(endingAfter: start)
        var last = first
        while last < self.segments.count && self.segments[last].offset < end { last += 1 }
        if first == last {
            let segment = Segment(offset: start, length: bytes.count, bytes: Array(bytes), isTruncated: false)
            self.segments.insert(segment, at: first)
            self.adjustCost(segment.cost, counters: &counters)
            counters.copiedSegments += 1
            counters.copiedBytes += bytes.count
            return true
        }

        // Rebuild segments[first..<last] together with the new bytes.
        var replacement: [Segment] = []
        var run: [UInt8] = []
        var runStart: UInt64 = 0
        var runActive = false
        func appendData(_ offset: UInt64, _ piece: UnsafeRawBufferPointer) {
            guard !piece.isEmpty else { return }
            if runActive && runStart + UInt64(run.count) == offset {
                run.append(contentsOf: piece)
            } else {
                flushRun()
                runStart = offset
                run = Array(piece)
                runActive = true
            }
        }
        func flushRun() {
            guard runActive else { return }
            replacement.append(Segment(offset: runStart, length: run.count, bytes: run, isTruncated: false))
            run = []
            runActive = false
        }
        func newPiece(_ from: UInt64, _ to: UInt64) -> UnsafeRawBufferPointer {
            UnsafeRawBufferPointer(rebasing: bytes[Int(from - start)..<Int(to - start)])
        }

        var cursor = start
        var newBytes = 0
        var overlapping = 0
        var differing = 0
        var oldCost = 0
        for index in first..<last {
            let old = self.segments[index]
            oldCost += old.cost
            let low = max(old.offset, start)
            let high = min(old.end, end)
            old.bytes.withUnsafeBytes { oldBytes in
                func oldPiece(_ from: UInt64, _ to: UInt64) -> UnsafeRawBufferPointer {
                    UnsafeRawBufferPointer(rebasing: oldBytes[Int(from - old.offset)..<Int(to - old.offset)])
                }
                if old.offset < start {
                    if old.isTruncated {
                        flushRun()
                        replacement.append(.marker(from: old.offset, to: start))
                    } else {
                        appendData(old.offset, oldPiece(old.offset, start))
                    }
                }
                if low > cursor {
                    appendData(cursor, newPiece(cursor, low))
                    newBytes += Int(low - cursor)
                }
                if old.isTruncated {
                    appendData(low, newPiece(low, high))
                    newBytes += Int(high - low)
                } else {
                    let new = newPiece(low, high)
                    let kept = oldPiece(low, high)
                    overlapping += new.count
                    for i in 0..<new.count where new[i] != kept[i] { differing += 1 }
                    appendData(low, policy == .first ? kept : new)
                }
                cursor = high
                if old.end > end {
                    if old.isTruncated {
                        flushRun()
                        replacement.append(.marker(from: end, to: old.end))
                    } else {
                        appendData(end, oldPiece(end, old.end))
                    }
                }
            }
        }
        if cursor < end {
            appendData(cursor, newPiece(cursor, end))
            newBytes += Int(end - cursor)
        }
        flushRun()

        var newCost = 0
        for segment in replacement { newCost += segment.cost }
        self.segments.replaceSubrange(first..<last, with: replacement)
        self.adjustCost(newCost - oldCost, counters: &counters)
        if overlapping > 0 {
            counters.overlappingSegments += 1
            counters.overlappingBytes += overlapping
        }
        if differing > 0 {
            counters.conflictingSegments += 1
            counters.conflictingBytes += differing
        }
        if newBytes > 0 {
            counters.copiedSegments += 1
            counters.copiedBytes += newBytes
        }
        return newBytes > 0
    }

    /// Buffers truncation markers in the parts of `[start, end)` that nothing covers yet.
    private mutating func insertMarker(from start: UInt64, to end: UInt64, counters: inout ReassemblyCounters) -> Bool {
        let first = self.firstIndex(endingAfter: start)
        var last = first
        var replacement: [Segment] = []
        var cursor = start
        while last < self.segments.count && self.segments[last].offset < end {
            let segment = self.segments[last]
            if segment.offset > cursor { replacement.append(.marker(from: cursor, to: segment.offset)) }
            replacement.append(segment)
            cursor = max(cursor, segment.end)
            last += 1
        }
        if cursor < end { replacement.append(.marker(from: cursor, to: end)) }
        let markers = replacement.count - (last - first)
        guard markers > 0 else { return false }
        self.segments.replaceSubrange(first..<last, with: replacement)
        self.adjustCost(markers * TCPReassembler.bufferedSegmentOverhead, counters: &counters)
        return true
    }

    /// `timestamp + delay`, saturating instead of trapping on absurd timestamps.
    private static func adding(_ delay: Int64, to timestamp: Int64) -> Int64 {
        let (sum, overflow) = timestamp.addingReportingOverflow(max(0, delay))
        return overflow ? .max : sum
    }
}

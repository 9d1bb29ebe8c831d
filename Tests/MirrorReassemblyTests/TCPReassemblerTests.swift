// vpcmirror: the reassembler at every split point, on gaps and truncation, and through a connection's life.
import MirrorReassembly
import MirrorTestSupport
import MirrorWire
import Testing

private let clientISN: UInt32 = 1_000
private let serverISN: UInt32 = 5_000
private let i2r = StreamDirection.initiatorToResponder
private let r2i = StreamDirection.responderToInitiator
private let first = ConnectionID(rawValue: 1)

@Suite struct TCPSequenceNumberTests {
    @Test func distanceWrapsAround() {
        let high = TCPSequenceNumber(rawValue: 0xFFFF_FFF0)
        let low = TCPSequenceNumber(rawValue: 0x10)
        #expect(low.distance(from: high) == 0x20)
        #expect(high.distance(from: low) == -0x20)
        #expect(high.isBefore(low))
        #expect(!low.isBefore(high))
        #expect(high.advanced(by: 0x20) == low)
        #expect(high.advanced(byOffset: 0x1_0000_0020) == low)
    }

    @Test func keyIsTheSameBothWaysAndSplitsByVNIAndVLAN() {
        let a = IPAddress("10.0.0.1")!
        let b = IPAddress("10.0.0.2")!
        let forward = ConnectionKey(source: b, sourcePort: 80, destination: a, destinationPort: 40_000)
        let backward = ConnectionKey(source: a, sourcePort: 40_000, destination: b, destinationPort: 80)
        #expect(forward == backward)
        #expect(forward.lower == a && forward.lowerPort == 40_000)
        #expect(ConnectionKey(vni: 7, source: a, sourcePort: 1, destination: b, destinationPort: 2)
            != ConnectionKey(vni: 8, source: a, sourcePort: 1, destination: b, destinationPort: 2))
        #expect(ConnectionKey(outerVLAN: 6, source: a, sourcePort: 1, destination: b, destinationPort: 2)
            != ConnectionKey(source: a, sourcePort: 1, destination: b, destinationPort: 2))
    }
}

@Suite struct TCPReassemblerTests {
    // MARK: - Every split point

    static let splitStream = streamBytes(61)

    /// The client's stream cut into two segments at `split`, the second carrying the FIN, sent in several
    /// orders with duplicates; the server then closes. Output is the stream whatever the order.
    @Test(arguments: 1..<splitStream.count)
    func everySplitPoint(split: Int) {
        let stream = Self.splitStream
        let orders: [(name: String, order: [Int], outOfOrder: Bool, duplicates: Int)] = [
            ("in order", [0, 1], false, 0),
            ("reversed", [1, 0], true, 0),
            ("each twice", [0, 0, 1, 1], false, 2),
            ("interleaved twice", [0, 1, 0, 1], false, 2),
            ("reversed twice", [1, 0, 1, 0], true, 2),
            ("second first, twice", [1, 1, 0], true, 1),
        ]
        for (name, order, outOfOrder, duplicates) in orders {
            for policy in [OverlapPolicy.first, .last] {
                var limits = ReassemblyLimits()
                limits.overlapPolicy = policy
                var feeder = Feeder(limits: limits)
                feeder.handshake(clientISN: clientISN, serverISN: serverISN)
                let pieces = [(0, split), (split, stream.count)]
                for piece in order {
                    let (from, to) = pieces[piece]
                    feeder.send(
                        fromClient: true, flags: piece == 1 ? [.ack, .psh, .fin] : [.ack, .psh],
                        sequence: clientISN &+ 1 &+ UInt32(from), acknowledgment: serverISN &+ 1,
                        payload: Array(stream[from..<to]))
                }
                feeder.send(fromClient: false, flags: [.ack, .fin], sequence: serverISN &+ 1,
                            acknowledgment: clientISN &+ 2 &+ UInt32(stream.count))
                let recorder = feeder.recorder
                let counters = feeder.reassembler.counters
                let label = "split \(split), \(name), \(policy)"
                #expect(recorder.violations.isEmpty, "\(label): \(recorder.violations)")
                #expect(recorder.stream(i2r).bytes == stream, "\(label)")
                #expect(recorder.stream(i2r).gaps.isEmpty, "\(label)")
                #expect(recorder.stream(i2r).ended && recorder.stream(r2i).ended, "\(label)")
                #expect(recorder.events.last == .closed(first, .fin), "\(label)")
                #expect(counters.bytesDelivered == stream.count, "\(label)")
                #expect(counters.duplicateSegments == duplicates, "\(label)")
                // `.first` copies only what arrived out of order; `.last` holds everything until the server's ACK.
                let copied = policy == .last ? stream.count : (outOfOrder ? stream.count - split : 0)
                #expect(counters.copiedBytes == copied, "\(label)")
                #expect(counters.lostGaps == 0 && counters.truncatedGaps == 0 && counters.bufferedBytes == 0, "\(label)")
                #expect(counters.isBalanced, "\(label)")
                #expect(feeder.reassembler.connectionCount == 0 && feeder.reassembler.lingeringCount == 1, "\(label)")
            }
        }
    }

    /// Two overlapping segments at every split with conflicting bytes in the overlap: the policy decides.
    @Test(arguments: 1..<40)
    func everyOverlapSplit(split: Int) {
        let length = 40
        let original = streamBytes(length)
        let other = original.map { $0 ^ 0xFF }
        // A = [0, split + 5) original bytes; B = [split, length) other bytes, overlapping A on [split, split + 5).
        let aEnd = min(split + 5, length)
        for policy in [OverlapPolicy.first, .last] {
            for bFirst in [false, true] {
                var limits = ReassemblyLimits()
                limits.overlapPolicy = policy
                var feeder = Feeder(limits: limits)
                feeder.handshake(clientISN: clientISN, serverISN: serverISN)
                // A hole at [0, 1) keeps both buffered until the last segment fills it.
                let sendA = { (f: inout Feeder) in
                    f.send(fromClient: true, sequence: clientISN &+ 2, payload: Array(original[1..<aEnd]))
                }
                let sendB = { (f: inout Feeder) in
                    f.send(fromClient: true, sequence: clientISN &+ 1 &+ UInt32(split), payload: Array(other[split...]))
                }
                if bFirst { sendB(&feeder); sendA(&feeder) } else { sendA(&feeder); sendB(&feeder) }
                feeder.send(fromClient: true, sequence: clientISN &+ 1, payload: [original[0]])
                // Under `.last` the bytes wait for an acknowledgment: the server's ACK of all of them.
                feeder.send(fromClient: false, sequence: serverISN &+ 1, acknowledgment: clientISN &+ 1 &+ UInt32(length))
                var expected = original
                for i in split..<length {
                    let inA = i < aEnd
                    let aWins = !inA ? false : (policy == .first ? !bFirst : bFirst)
                    expected[i] = aWins ? original[i] : other[i]
                }
                let label = "split \(split), \(policy), B first \(bFirst)"
                #expect(feeder.recorder.violations.isEmpty, "\(label)")
                #expect(feeder.recorder.stream(i2r).bytes == expected, "\(label)")
                let overlap = aEnd - max(split, 1)
                #expect(feeder.reassembler.counters.overlappingBytes == overlap, "\(label)")
                #expect(feeder.reassembler.counters.conflictingBytes == overlap, "\(label)")
            }
        }
    }

    // MARK: - In order: no copies, straight from the frame

    @Test func inOrderStreamIsDeliveredFromTheFrameWithoutCopies() {
        var feeder = Feeder()
        feeder.handshake(clientISN: 0xFFFF_0000, serverISN: serverISN)
        var sequence: UInt32 = 0xFFFF_0001
        var expected: [UInt8] = []
        for i in 0..<2_000 {
            let payload = streamBytes(1 + i % 1_400, seed: UInt8(truncatingIfNeeded: i))
            feeder.send(fromClient: true, flags: [.ack, .psh], sequence: sequence, acknowledgment: serverISN &+ 1,
                        payload: payload)
            sequence &+= UInt32(payload.count)
            expected += payload
        }
        let counters = feeder.reassembler.counters
        #expect(feeder.recorder.violations.isEmpty)
        #expect(feeder.recorder.stream(i2r).bytes == expected)
        #expect(feeder.recorder.bytesOutsideFrame == 0)
        #expect(counters.copiedSegments == 0 && counters.copiedBytes == 0 && counters.bufferedBytes == 0)
        #expect(counters.bytesDelivered == expected.count)
    }

    // MARK: - Wrap-around

    @Test(arguments: [false, true])
    func streamCrossingSequenceZero(reversed: Bool) {
        let isn: UInt32 = 0xFFFF_FFF0
        let stream = streamBytes(100)
        var feeder = Feeder()
        feeder.handshake(clientISN: isn, serverISN: 0xFFFF_FFFF)
        var order = Array(stride(from: 0, to: 100, by: 10))
        if reversed { order.reverse() }
        for from in order {
            feeder.send(fromClient: true, sequence: isn &+ 1 &+ UInt32(from), payload: Array(stream[from..<from + 10]))
        }
        // The server's ISN is 0xFFFFFFFF: its first byte has sequence number 0.
        feeder.send(fromClient: false, sequence: 0, payload: Array(stream[0..<20]))
        #expect(feeder.recorder.violations.isEmpty)
        #expect(feeder.recorder.stream(i2r).bytes == stream)
        #expect(feeder.recorder.stream(r2i).bytes == Array(stream[0..<20]))
    }

    // MARK: - Gaps

    /// Ten segments, one never arrives: at close, exactly one gap where it was, and every other byte.
    @Test(arguments: 0..<10)
    func droppedSegmentIsOneGapAtClose(dropped: Int) {
        let stream = streamBytes(1_000)
        var feeder = Feeder()
        feeder.handshake(clientISN: clientISN, serverISN: serverISN)
        for piece in 0..<10 where piece != dropped {
            feeder.send(fromClient: true, flags: piece == 9 ? [.ack, .fin] : .ack,
                        sequence: clientISN &+ 1 &+ UInt32(piece * 100), payload: Array(stream[piece * 100..<piece * 100 + 100]))
        }
        #expect(feeder.recorder.stream(i2r).bytes == Array(stream[0..<dropped * 100]))
        feeder.closeAll()
        let record = feeder.recorder.stream(i2r)
        #expect(feeder.recorder.violations.isEmpty)
        #expect(record.bytes == Array(stream[0..<dropped * 100] + stream[dropped * 100 + 100..<1_000]))
        if dropped == 9 {
            // The last segment and its FIN never came: nothing says bytes were missing.
            #expect(record.gaps.isEmpty && !record.ended)
            return
        }
        #expect(record.gaps == [.init(offset: UInt64(dropped * 100), length: 100, reason: .lost)])
        #expect(record.ended)
        #expect(feeder.recorder.events.last == .closed(first, .shutdown))
        let counters = feeder.reassembler.counters
        #expect(counters.lostGaps == 1 && counters.lostBytes == 100 && counters.bufferedBytes == 0)
    }

    /// The FIN arrived but the segment before it did not: the peer acknowledges the FIN, so after the
    /// acknowledgment delay the hole is declared, the FIN delivered, and the connection closes.
    @Test func holeBeforeAcknowledgedFINIsDeclaredAfterTheDelay() {
        let stream = streamBytes(300)
        var feeder = Feeder()
        feeder.handshake(clientISN: clientISN, serverISN: serverISN)
        feeder.send(fromClient: true, sequence: clientISN &+ 1, payload: Array(stream[0..<100]))
        feeder.send(fromClient: true, flags: [.ack, .fin], sequence: clientISN &+ 201, payload: Array(stream[200..<300]))
        feeder.send(fromClient: false, flags: [.ack, .fin], sequence: serverISN &+ 1, acknowledgment: clientISN &+ 302)
        // Within the delay: the data may still be on its way (mirror reordering).
        #expect(feeder.recorder.stream(i2r).gaps.isEmpty)
        #expect(feeder.reassembler.connectionCount == 1)
        let delay = ReassemblyLimits().acknowledgedHoleDelayNanoseconds
        feeder.reassembler.expire(now: feeder.now + delay, delegate: &feeder.recorder)
        let record = feeder.recorder.stream(i2r)
        #expect(feeder.recorder.violations.isEmpty)
        #expect(record.gaps == [.init(offset: 100, length: 100, reason: .lost)])
        #expect(record.bytes == Array(stream[0..<100] + stream[200..<300]))
        #expect(record.ended)
        #expect(feeder.recorder.events.last == .closed(first, .fin))
        #expect(feeder.reassembler.counters.lostBytesAcknowledged == 100)
    }

    /// An ACK that overtakes the data it acknowledges (mirror reordering) does not cause a gap.
    @Test func acknowledgmentBeforeItsDataIsNotAGap() {
        var feeder = Feeder()
        feeder.handshake(clientISN: clientISN, serverISN: serverISN)
        feeder.send(fromClient: true, sequence: clientISN &+ 1, acknowledgment: serverISN &+ 101)
        feeder.send(fromClient: false, sequence: serverISN &+ 1, payload: streamBytes(100))
        feeder.reassembler.expire(now: feeder.now + 1_000_000_000, delegate: &feeder.recorder)
        #expect(feeder.recorder.stream(r2i).bytes == streamBytes(100))
        #expect(feeder.recorder.stream(r2i).gaps.isEmpty)
        #expect(feeder.reassembler.counters.lostGaps == 0)
    }

    /// Data the receiver acknowledged but the mirror never carried: a gap once the delay has passed, on the
    /// next segment of the connection, and the bytes after it follow at once.
    @Test func acknowledgedButUnseenBytesBecomeAGapOnTheNextSegment() {
        var feeder = Feeder()
        feeder.handshake(clientISN: clientISN, serverISN: serverISN)
        let response = streamBytes(300)
        feeder.send(fromClient: false, sequence: serverISN &+ 1, payload: Array(response[0..<100]))
        feeder.send(fromClient: false, sequence: serverISN &+ 201, payload: Array(response[200..<300]))
        feeder.send(fromClient: true, sequence: clientISN &+ 1, acknowledgment: serverISN &+ 201)
        #expect(feeder.recorder.stream(r2i).gaps.isEmpty)
        let delay = ReassemblyLimits().acknowledgedHoleDelayNanoseconds
        feeder.send(fromClient: true, sequence: clientISN &+ 1, acknowledgment: serverISN &+ 301,
                    at: feeder.now + delay)
        let record = feeder.recorder.stream(r2i)
        #expect(record.gaps == [.init(offset: 100, length: 100, reason: .lost)])
        #expect(record.bytes == Array(response[0..<100] + response[200..<300]))
        #expect(feeder.recorder.violations.isEmpty)
    }

    /// A small per-direction cap: the hole is skipped when buffered bytes exceed it, and the stream goes on.
    @Test func bufferCapSkipsTheHole() {
        var limits = ReassemblyLimits()
        let overhead = TCPReassembler.bufferedSegmentOverhead
        limits.maxBufferedBytesPerDirection = 5 * (100 + overhead)  // five buffered segments fit, a sixth does not
        let stream = streamBytes(2_000)
        var feeder = Feeder(limits: limits)
        feeder.handshake(clientISN: clientISN, serverISN: serverISN)
        for piece in 0..<20 where piece != 1 {
            feeder.send(fromClient: true, sequence: clientISN &+ 1 &+ UInt32(piece * 100),
                        payload: Array(stream[piece * 100..<piece * 100 + 100]))
            if piece == 6 {
                #expect(feeder.recorder.stream(i2r).gaps.isEmpty)
            }
        }
        let record = feeder.recorder.stream(i2r)
        #expect(feeder.recorder.violations.isEmpty)
        #expect(record.gaps == [.init(offset: 100, length: 100, reason: .lost)])
        #expect(record.bytes == Array(stream[0..<100] + stream[200...]))
        let counters = feeder.reassembler.counters
        #expect(counters.lostBytesAtBufferLimit == 100 && counters.bufferedBytes == 0)
    }

    /// The memcap covers all connections: the connection whose segment crosses it has its holes skipped.
    @Test func memcapSkipsHolesOfTheConnectionThatCrossesIt() {
        var limits = ReassemblyLimits()
        limits.memcapBytes = 3 * (100 + TCPReassembler.bufferedSegmentOverhead)
        var feeder = Feeder(limits: limits)
        feeder.handshake(clientISN: clientISN, serverISN: serverISN)
        // Connection 1 buffers two segments behind a hole.
        feeder.send(fromClient: true, sequence: clientISN &+ 101, payload: streamBytes(100))
        feeder.send(fromClient: true, sequence: clientISN &+ 201, payload: streamBytes(100))
        // Connection 2 (another client port) buffers two more: the second crosses the memcap.
        feeder.client.1 = 40_001
        feeder.handshake(clientISN: clientISN, serverISN: serverISN)
        feeder.send(fromClient: true, sequence: clientISN &+ 101, payload: streamBytes(100))
        #expect(feeder.reassembler.counters.lostBytesAtMemcap == 0)
        feeder.send(fromClient: true, sequence: clientISN &+ 201, payload: streamBytes(100))
        let second = ConnectionID(rawValue: 2)
        #expect(feeder.recorder.stream(i2r, of: second).gaps == [.init(offset: 0, length: 100, reason: .lost)])
        #expect(feeder.recorder.stream(i2r, of: second).bytes.count == 200)
        #expect(feeder.recorder.stream(i2r, of: first).bytes.isEmpty)
        let counters = feeder.reassembler.counters
        #expect(counters.lostBytesAtMemcap == 100)
        #expect(counters.bufferedBytes == 2 * (100 + TCPReassembler.bufferedSegmentOverhead))
        #expect(feeder.recorder.violations.isEmpty)
    }

    // MARK: - Truncation (PacketLength)

    @Test func truncatedSegmentIsDataThenATruncatedGap() {
        var feeder = Feeder()
        feeder.handshake(clientISN: clientISN, serverISN: serverISN)
        let stream = streamBytes(300)
        feeder.send(fromClient: true, sequence: clientISN &+ 1, payload: Array(stream[0..<100]), captured: 10)
        feeder.send(fromClient: true, sequence: clientISN &+ 101, payload: Array(stream[100..<200]))
        // Out of order, truncated, then its hole filled.
        feeder.send(fromClient: true, sequence: clientISN &+ 251, payload: Array(stream[250..<300]), captured: 0)
        feeder.send(fromClient: true, sequence: clientISN &+ 201, payload: Array(stream[200..<250]))
        let record = feeder.recorder.stream(i2r)
        #expect(feeder.recorder.violations.isEmpty)
        #expect(record.gaps == [
            .init(offset: 10, length: 90, reason: .truncated), .init(offset: 250, length: 50, reason: .truncated),
        ])
        #expect(record.bytes == Array(stream[0..<10] + stream[100..<250]))
        #expect(feeder.reassembler.counters.truncatedBytes == 140)
    }

    /// A retransmission carrying the bytes a truncated copy lacked wins over the truncation, whatever the policy.
    @Test(arguments: [OverlapPolicy.first, .last])
    func realBytesReplaceATruncationMarker(policy: OverlapPolicy) {
        var limits = ReassemblyLimits()
        limits.overlapPolicy = policy
        var feeder = Feeder(limits: limits)
        feeder.handshake(clientISN: clientISN, serverISN: serverISN)
        let stream = streamBytes(200)
        feeder.send(fromClient: true, sequence: clientISN &+ 101, payload: Array(stream[100..<200]), captured: 30)
        feeder.send(fromClient: true, sequence: clientISN &+ 101, payload: Array(stream[100..<200]))
        feeder.send(fromClient: true, sequence: clientISN &+ 1, payload: Array(stream[0..<100]))
        feeder.send(fromClient: false, sequence: serverISN &+ 1, acknowledgment: clientISN &+ 201)
        #expect(feeder.recorder.stream(i2r).bytes == stream)
        #expect(feeder.recorder.stream(i2r).gaps.isEmpty)
    }

    /// Under `.last`, in-order bytes wait for the receiver's ACK, so a later copy can still replace them;
    /// a cap forces them out when no ACK comes.
    @Test func lastPolicyHoldsBytesUntilAcknowledged() {
        var limits = ReassemblyLimits()
        limits.overlapPolicy = .last
        limits.maxBufferedBytesPerDirection = 2 * (10 + TCPReassembler.bufferedSegmentOverhead)
        var feeder = Feeder(limits: limits)
        feeder.handshake(clientISN: clientISN, serverISN: serverISN)
        feeder.send(fromClient: true, sequence: clientISN &+ 1, payload: Array("GOOD".utf8))
        #expect(feeder.recorder.stream(i2r).bytes.isEmpty)
        feeder.send(fromClient: true, sequence: clientISN &+ 1, payload: Array("EVIL".utf8))
        feeder.send(fromClient: false, sequence: serverISN &+ 1, acknowledgment: clientISN &+ 3)
        #expect(feeder.recorder.stream(i2r).bytes == Array("EV".utf8))
        feeder.send(fromClient: false, sequence: serverISN &+ 1, acknowledgment: clientISN &+ 5)
        #expect(feeder.recorder.stream(i2r).bytes == Array("EVIL".utf8))
        // Acknowledged already (the ACK overtook the data): straight through.
        feeder.send(fromClient: false, sequence: serverISN &+ 1, acknowledgment: clientISN &+ 7)
        feeder.send(fromClient: true, sequence: clientISN &+ 5, payload: [1, 2])
        #expect(feeder.recorder.stream(i2r).bytes == Array("EVIL".utf8) + [1, 2])
        // No ACK: the third 10-byte segment crosses the cap, and the oldest goes out unacknowledged.
        for i in 0..<3 {
            feeder.send(fromClient: true, sequence: clientISN &+ 7 &+ UInt32(10 * i), payload: streamBytes(10))
        }
        #expect(feeder.recorder.stream(i2r).bytes.count == 16)
        #expect(feeder.recorder.stream(i2r).gaps.isEmpty)
        #expect(feeder.recorder.violations.isEmpty)
    }

    @Test func ethernetPaddingIsNotPayload() {
        var feeder = Feeder()
        feeder.handshake(clientISN: clientISN, serverISN: serverISN)
        feeder.send(fromClient: true, sequence: clientISN &+ 1, payload: [1, 2], padding: 4)
        feeder.send(fromClient: true, sequence: clientISN &+ 3, payload: [3], padding: 5)
        #expect(feeder.recorder.stream(i2r).bytes == [1, 2, 3])
        #expect(feeder.recorder.stream(i2r).gaps.isEmpty)
    }

    // MARK: - Lifecycle

    @Test func handshakeDataAndFINs() {
        var feeder = Feeder()
        feeder.handshake(clientISN: clientISN, serverISN: serverISN)
        feeder.send(fromClient: true, flags: [.ack, .psh], sequence: clientISN &+ 1, acknowledgment: serverISN &+ 1,
                    payload: Array("GET / HTTP/1.1\r\n\r\n".utf8))
        feeder.send(fromClient: false, flags: [.ack, .psh, .fin], sequence: serverISN &+ 1,
                    acknowledgment: clientISN &+ 19, payload: Array("HTTP/1.1 200 OK\r\n\r\n".utf8))
        feeder.send(fromClient: true, flags: [.ack, .fin], sequence: clientISN &+ 19, acknowledgment: serverISN &+ 21)
        #expect(feeder.recorder.events == [
            .opened(first, initiatorPort: 40_000, midstream: false),
            .data(first, i2r, offset: 0, count: 18),
            .data(first, r2i, offset: 0, count: 19),
            .ended(first, r2i),
            .ended(first, i2r),
            .closed(first, .fin),
        ])
        // The last ACK, within the linger: counted, not a new connection.
        feeder.send(fromClient: false, flags: .ack, sequence: serverISN &+ 21, acknowledgment: clientISN &+ 20)
        #expect(feeder.reassembler.counters.segmentsAfterClose == 1)
        #expect(feeder.reassembler.counters.closedByFIN == 1)
        #expect(feeder.recorder.events.count == 6)
        // After the linger, a stray segment opens a midstream connection.
        let linger = ReassemblyLimits().closedLingerNanoseconds
        feeder.send(fromClient: false, flags: .ack, sequence: serverISN &+ 21, acknowledgment: clientISN &+ 20,
                    at: feeder.now + linger + 1)
        #expect(feeder.recorder.events.last == .opened(ConnectionID(rawValue: 2), initiatorPort: 80, midstream: true))
        let initiator = feeder.recorder.connections[first]!.initiator
        #expect(initiator.0 == feeder.client.0 && initiator.1 == feeder.client.1)
        #expect(feeder.reassembler.counters.isBalanced)
    }

    @Test func resetDeliversBufferedBytesWithTheirGapThenCloses() {
        var feeder = Feeder()
        feeder.handshake(clientISN: clientISN, serverISN: serverISN)
        feeder.send(fromClient: true, sequence: clientISN &+ 1, payload: [1, 2, 3])
        feeder.send(fromClient: true, sequence: clientISN &+ 6, payload: [6, 7])
        feeder.send(fromClient: false, flags: [.rst], sequence: serverISN &+ 1)
        #expect(Array(feeder.recorder.events.dropFirst()) == [
            .data(first, i2r, offset: 0, count: 3),
            .gap(first, i2r, offset: 3, length: 2, reason: .lost),
            .data(first, i2r, offset: 5, count: 2),
            .closed(first, .reset),
        ])
        // Segments after the RST are absorbed while the key lingers.
        feeder.send(fromClient: true, sequence: clientISN &+ 8, payload: [8])
        feeder.send(fromClient: true, flags: .rst, sequence: clientISN &+ 8)
        let counters = feeder.reassembler.counters
        #expect(counters.closedByReset == 1 && counters.segmentsAfterClose == 2 && counters.isBalanced)
        // A RST with no connection at all opens nothing.
        feeder.client.1 = 40_001
        feeder.send(fromClient: true, flags: .rst, sequence: 1)
        #expect(feeder.reassembler.counters.segmentsWithoutConnection == 1)
        #expect(feeder.reassembler.connectionCount == 0)
    }

    @Test func idleConnectionsExpire() {
        var feeder = Feeder()
        feeder.handshake(clientISN: clientISN, serverISN: serverISN)
        feeder.send(fromClient: true, sequence: clientISN &+ 3, payload: [3, 4])
        let last = feeder.now - 1_000
        let idle = ReassemblyLimits().idleTimeoutNanoseconds
        feeder.reassembler.expire(now: last + idle, delegate: &feeder.recorder)
        #expect(feeder.reassembler.connectionCount == 1)
        feeder.reassembler.expire(now: last + idle + 1, delegate: &feeder.recorder)
        #expect(feeder.reassembler.connectionCount == 0)
        #expect(Array(feeder.recorder.events.suffix(3)) == [
            .gap(first, i2r, offset: 0, length: 2, reason: .lost),
            .data(first, i2r, offset: 2, count: 2),
            .closed(first, .idle),
        ])
        #expect(feeder.reassembler.counters.closedIdle == 1)
    }

    /// A second capture whose timestamps run behind the first one's (files read one after another): its
    /// connections are not idle while their segments come, since idleness is measured on the clock (the latest
    /// time seen), and they go idle once the clock has moved on past the timeout.
    @Test func timeRunningBackwardsIsNotIdleness() {
        var feeder = Feeder()
        let idle = ReassemblyLimits().idleTimeoutNanoseconds
        feeder.now = 10 * idle
        feeder.handshake(clientISN: clientISN, serverISN: serverISN)
        feeder.client.1 = 40_001
        feeder.now = 1_000
        feeder.handshake(clientISN: clientISN, serverISN: serverISN)
        for i in 0..<3 {
            feeder.send(fromClient: true, sequence: clientISN &+ 1 &+ UInt32(i), payload: [UInt8(i)])
            feeder.reassembler.expire(now: 10 * idle, delegate: &feeder.recorder)
            #expect(feeder.reassembler.connectionCount == 2)
        }
        #expect(feeder.reassembler.counters.connectionsOpenedMidstream == 0)
        feeder.reassembler.expire(now: 11 * idle + 1_000_000, delegate: &feeder.recorder)
        #expect(feeder.reassembler.connectionCount == 0)
        #expect(feeder.reassembler.counters.closedIdle == 2)
    }

    /// `expire` and `closeAll` say which connection comes next and where it belongs among other reassemblers':
    /// the ordinal of the frame that last touched it (least recent first), or that opened it.
    @Test func sweepsGiveEachConnectionsPlace() {
        struct Orders: ReassemblyDelegate {
            var orders: [UInt64] = []
            mutating func opened(_ id: ConnectionID, key: ConnectionKey, initiator: (IPAddress, UInt16), responder: (IPAddress, UInt16), midstream: Bool, timestamp: Int64) {}
            mutating func data(_ id: ConnectionID, _ direction: StreamDirection, offset: UInt64, bytes: UnsafeRawBufferPointer, timestamp: Int64) {}
            mutating func gap(_ id: ConnectionID, _ direction: StreamDirection, offset: UInt64, length: UInt64, reason: GapReason, timestamp: Int64) {}
            mutating func ended(_ id: ConnectionID, _ direction: StreamDirection, timestamp: Int64) {}
            mutating func closed(_ id: ConnectionID, reason: CloseReason, timestamp: Int64) {}
            mutating func sweeping(_ id: ConnectionID, order: UInt64) { self.orders.append(order) }
        }
        var reassembler = TCPReassembler()
        var orders = Orders()
        let builder = PacketBuilder()
        // Ordinals 10, 20, 30 open three connections; 40 touches the first again.
        for (ordinal, port) in [(10, 1), (20, 2), (30, 3), (40, 1)] as [(UInt64, UInt16)] {
            let frame = builder.tcp(
                source: IPAddress("10.0.0.1")!, sourcePort: 40_000 + port, destination: IPAddress("10.0.0.2")!,
                destinationPort: 80, flags: .syn, sequenceNumber: 7)
            frame.withUnsafeBytes { bytes in
                let summary = try! PacketSummary(decoding: bytes, linkType: .ethernet)
                reassembler.process(
                    summary, frame: bytes, key: ConnectionKey(summary), timestamp: Int64(ordinal), ordinal: ordinal,
                    clock: Int64(ordinal), delegate: &orders)
            }
        }
        reassembler.expire(now: 50, delegate: &orders)
        #expect(orders.orders == [20, 30, 40])
        orders.orders = []
        reassembler.closeAll(timestamp: 60, delegate: &orders)
        #expect(orders.orders == [10, 20, 30])
    }

    @Test func closeAllFlushesEveryConnectionInOpeningOrder() {
        var feeder = Feeder()
        for port in [40_005, 40_002, 40_009] as [UInt16] {
            feeder.client.1 = port
            feeder.handshake(clientISN: clientISN, serverISN: serverISN)
            feeder.send(fromClient: false, sequence: serverISN &+ 11, payload: [1])
        }
        feeder.closeAll()
        let closes = feeder.recorder.events.filter { if case .closed = $0 { true } else { false } }
        #expect(closes == (1...3).map { .closed(ConnectionID(rawValue: $0), .shutdown) })
        for id in 1...3 {
            #expect(feeder.recorder.stream(r2i, of: ConnectionID(rawValue: UInt64(id))).gaps
                == [.init(offset: 0, length: 10, reason: .lost)])
        }
        #expect(feeder.reassembler.connectionCount == 0 && feeder.reassembler.counters.bufferedBytes == 0)
        #expect(feeder.recorder.violations.isEmpty)
    }

    @Test func midstreamPickupStartsAtTheFirstSegment() {
        var feeder = Feeder()
        feeder.send(fromClient: false, sequence: 777, acknowledgment: 99, payload: [1, 2, 3])
        feeder.send(fromClient: true, sequence: 99, acknowledgment: 780, payload: [9])
        feeder.send(fromClient: false, sequence: 780, payload: [4])
        #expect(feeder.recorder.events.first == .opened(first, initiatorPort: 80, midstream: true))
        #expect(feeder.recorder.stream(i2r).bytes == [1, 2, 3, 4])  // the server sent first, so it initiates
        #expect(feeder.recorder.stream(r2i).bytes == [9])
        #expect(feeder.reassembler.counters.connectionsOpenedMidstream == 1)
    }

    /// Midstream, when the peer's acknowledgment shows where the stream was, reordered bytes before the
    /// first segment seen are not lost.
    @Test func midstreamPickupUsesThePeersAcknowledgment() {
        var feeder = Feeder()
        feeder.send(fromClient: true, sequence: 99, acknowledgment: 700)
        feeder.send(fromClient: false, sequence: 710, payload: Array(10..<20))
        feeder.send(fromClient: false, sequence: 700, payload: Array(0..<10))
        #expect(feeder.recorder.stream(r2i).bytes == Array(0..<20))
        #expect(feeder.reassembler.counters.bytesBeforeStreamStart == 0)
    }

    /// The SYN-ACK captured before the SYN: the SYN-ACK's sender is the responder, offsets start at the ISNs.
    @Test func synAckBeforeSyn() {
        var feeder = Feeder()
        feeder.send(fromClient: false, flags: [.syn, .ack], sequence: serverISN, acknowledgment: clientISN &+ 1)
        feeder.send(fromClient: true, flags: .syn, sequence: clientISN)
        feeder.send(fromClient: true, sequence: clientISN &+ 1, acknowledgment: serverISN &+ 1, payload: [1, 2])
        feeder.send(fromClient: false, sequence: serverISN &+ 1, acknowledgment: clientISN &+ 3, payload: [3])
        #expect(feeder.recorder.events == [
            .opened(first, initiatorPort: 40_000, midstream: false),
            .data(first, i2r, offset: 0, count: 2),
            .data(first, r2i, offset: 0, count: 1),
        ])
        #expect(feeder.reassembler.counters.repeatedHandshakeSegments == 1)
    }

    @Test func retransmittedSynIsTheSameConnection() {
        var feeder = Feeder()
        feeder.send(fromClient: true, flags: .syn, sequence: clientISN)
        feeder.send(fromClient: true, flags: .syn, sequence: clientISN)
        feeder.send(fromClient: false, flags: [.syn, .ack], sequence: serverISN, acknowledgment: clientISN &+ 1)
        feeder.send(fromClient: false, flags: [.syn, .ack], sequence: serverISN, acknowledgment: clientISN &+ 1)
        #expect(feeder.reassembler.counters.connectionsOpened == 1)
        #expect(feeder.reassembler.counters.repeatedHandshakeSegments == 2)
    }

    /// A new SYN on a key that is closed (lingering) or live with another ISN is a new connection.
    @Test func newSynReusesTheKey() {
        var feeder = Feeder()
        feeder.handshake(clientISN: clientISN, serverISN: serverISN)
        feeder.send(fromClient: true, flags: .rst, sequence: clientISN &+ 1)
        feeder.send(fromClient: true, flags: .syn, sequence: clientISN)  // the old SYN again: absorbed
        #expect(feeder.reassembler.counters.connectionsOpened == 1)
        feeder.handshake(clientISN: 90_000, serverISN: 95_000)
        #expect(feeder.reassembler.counters.connectionsOpened == 2)
        feeder.send(fromClient: true, sequence: 90_001, payload: [1])
        // Live, and a SYN with a third ISN: the port pair is reused without a close we saw.
        feeder.handshake(clientISN: 123_456, serverISN: 654_321)
        feeder.send(fromClient: true, sequence: 123_457, payload: [2])
        let second = ConnectionID(rawValue: 2)
        let third = ConnectionID(rawValue: 3)
        #expect(feeder.recorder.connections[second]?.closeReason == .reused)
        #expect(feeder.recorder.stream(i2r, of: second).bytes == [1])
        #expect(feeder.recorder.stream(i2r, of: third).bytes == [2])
        #expect(feeder.recorder.events.contains(.opened(third, initiatorPort: 40_000, midstream: false)))
        #expect(feeder.reassembler.counters.closedReused == 1)
        #expect(feeder.recorder.violations.isEmpty)
    }

    @Test func ipv6Connection() {
        var feeder = Feeder()
        feeder.client = (IPAddress("2001:db8::1")!, 40_000)
        feeder.server = (IPAddress("2001:db8::2")!, 80)
        feeder.handshake(clientISN: clientISN, serverISN: serverISN)
        feeder.send(fromClient: true, sequence: clientISN &+ 4, payload: [4, 5])
        feeder.send(fromClient: true, sequence: clientISN &+ 1, payload: [1, 2, 3])
        #expect(feeder.recorder.stream(i2r).bytes == [1, 2, 3, 4, 5])
        let key = feeder.recorder.connections[first]!.key
        #expect(key.lower == feeder.client.0 && key.upper == feeder.server.0)
    }

    /// The same 5-tuple in two VNIs is two connections.
    @Test func vniSeparatesConnections() {
        var feeder = Feeder()
        for vni: UInt32 in [4242, 4711] {
            feeder.vni = vni
            feeder.handshake(clientISN: clientISN, serverISN: serverISN)
            feeder.send(fromClient: true, sequence: clientISN &+ 1, payload: [UInt8(vni & 0xFF)])
        }
        #expect(feeder.reassembler.connectionCount == 2)
        #expect(feeder.recorder.stream(i2r, of: first).bytes == [UInt8(4242 & 0xFF)])
        #expect(feeder.recorder.stream(i2r, of: ConnectionID(rawValue: 2)).bytes == [UInt8(4711 & 0xFF)])
    }

    /// A full table: lingering keys go first, then the least recently seen live connection is evicted.
    @Test func fullTableEvictsTheLeastRecentlySeen() {
        var limits = ReassemblyLimits()
        limits.maxConnections = 2
        var feeder = Feeder(limits: limits)
        func connect(_ port: UInt16, _ feeder: inout Feeder) {
            feeder.client.1 = port
            feeder.handshake(clientISN: clientISN, serverISN: serverISN)
        }
        connect(1, &feeder)
        connect(2, &feeder)
        connect(1, &feeder)  // touches connection 1 (its SYN repeats)
        feeder.client.1 = 1
        feeder.send(fromClient: true, sequence: clientISN &+ 2, payload: [7])  // buffered behind a hole
        connect(3, &feeder)
        #expect(feeder.recorder.connections[ConnectionID(rawValue: 2)]?.closeReason == .evicted)
        connect(4, &feeder)
        #expect(feeder.recorder.connections[first]?.closeReason == .evicted)
        #expect(feeder.recorder.stream(i2r, of: first).gaps == [.init(offset: 0, length: 1, reason: .lost)])
        #expect(feeder.recorder.stream(i2r, of: first).bytes == [7])
        // Connection 3 resets and lingers; a new connection takes its place before any live one is evicted.
        feeder.client.1 = 3
        feeder.send(fromClient: true, flags: .rst, sequence: clientISN &+ 1)
        connect(5, &feeder)
        #expect(feeder.reassembler.counters.lingeringDropped == 1)
        #expect(feeder.reassembler.counters.closedEvicted == 2)
        #expect(feeder.reassembler.connectionCount == 2)
        #expect(feeder.recorder.violations.isEmpty)
    }

    @Test func segmentsThatAreNotWholeTCPAreCounted() {
        var feeder = Feeder()
        let udp = feeder.builder.udp(source: feeder.client.0, sourcePort: 1, destination: feeder.server.0, destinationPort: 2)
        udp.withUnsafeBytes { bytes in
            let summary = try! PacketSummary(decoding: bytes, linkType: .ethernet)
            feeder.reassembler.process(summary, frame: bytes, key: ConnectionKey(summary), timestamp: 0, delegate: &feeder.recorder)
        }
        let tcp = feeder.frame(fromClient: true, flags: .syn, sequence: 1)
        tcp.withUnsafeBytes { bytes in
            let summary = try! PacketSummary(decoding: bytes, linkType: .ethernet)
            let wrongKey = ConnectionKey(source: IPAddress("192.0.2.1")!, sourcePort: 1, destination: feeder.server.0, destinationPort: 80)
            feeder.reassembler.process(summary, frame: bytes, key: wrongKey, timestamp: 0, delegate: &feeder.recorder)
            // A summary that claims more header than the frame has.
            var bad = summary
            bad.transportOffset = bytes.count - 10
            feeder.reassembler.process(bad, frame: bytes, key: ConnectionKey(summary), timestamp: 0, delegate: &feeder.recorder)
        }
        #expect(feeder.reassembler.counters.invalidSegments == 3)
        #expect(feeder.reassembler.counters.isBalanced)
        #expect(feeder.recorder.events.isEmpty)
    }
}

@Suite struct ReassemblyCountersTests {
    /// `add` sums every counter: none is left out of `all`.
    @Test func addCoversEveryCounter() {
        var one = ReassemblyCounters()
        for (i, path) in ReassemblyCounters.all.enumerated() { one[keyPath: path] = i + 1 }
        var two = one
        two.add(one)
        let fields = Mirror(reflecting: one).children.compactMap { $0.value as? Int }
        let doubled = Mirror(reflecting: two).children.compactMap { $0.value as? Int }
        #expect(fields.count == Mirror(reflecting: one).children.count, "every stored property is an Int counter")
        #expect(ReassemblyCounters.all.count == fields.count)
        #expect(Set(fields).count == fields.count, "each key path names a different counter")
        #expect(doubled == fields.map { $0 * 2 })
    }
}

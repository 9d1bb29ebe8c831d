// vpcmirror: hundreds of seeded random segmentations, orders, duplicates, overlaps and losses, against a byte model.
import MirrorReassembly
import MirrorTestSupport
import MirrorWire
import Testing

/// One segment as sent: a direction, a byte range of its stream, and which copy of the bytes it carries.
private struct PlannedSegment {
    var fromClient: Bool
    var from: Int
    var to: Int
    var fin: Bool
    /// 0 carries the stream's bytes; other versions carry different bytes for the same offsets.
    var version: UInt8
    /// Bytes captured (nil: all).
    var captured: Int? = nil
    /// A pure ACK instead: the sender acknowledges the peer's stream up to this offset (and its FIN).
    var acknowledges: Int? = nil
    var acknowledgesFIN = false
}

/// The random plan for one connection, both directions.
private struct Plan {
    var streams: [Bool: [UInt8]]
    var isns: [Bool: UInt32]
    var segments: [PlannedSegment]

    func bytes(of segment: PlannedSegment) -> [UInt8] {
        let base = self.streams[segment.fromClient]!
        return (segment.from..<segment.to).map { base[$0] &+ segment.version &* 61 }
    }

    static func make(
        _ rng: inout SeededGenerator, differingCopies: Bool, duplicates: Bool = true, drops: Bool = false
    ) -> Plan {
        var streams: [Bool: [UInt8]] = [:]
        var isns: [Bool: UInt32] = [:]
        var segments: [PlannedSegment] = []
        for fromClient in [true, false] {
            let length = Int.random(in: 0...(Bool.random(using: &rng) ? 300 : 3_000), using: &rng)
            streams[fromClient] = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            // A quarter of the streams cross sequence number 0 early on.
            isns[fromClient] = Int.random(in: 0..<4, using: &rng) == 0
                ? UInt32.max - UInt32.random(in: 0..<512, using: &rng) : UInt32.random(in: 0...UInt32.max, using: &rng)
            let small = Bool.random(using: &rng)
            var position = 0
            var pieces: [PlannedSegment] = []
            repeat {
                let size = Int.random(in: 1...(small ? 8 : 300), using: &rng)
                let end = min(length, position + size)
                pieces.append(PlannedSegment(fromClient: fromClient, from: position, to: end, fin: end == length, version: 0))
                position = end
            } while position < length
            if drops {
                // Lose some segments for good (not the FIN: the close then shows every hole).
                pieces = pieces.filter { $0.fin || Int.random(in: 0..<8, using: &rng) != 0 }
            }
            var extra: [PlannedSegment] = []
            if duplicates {
                for piece in pieces where Int.random(in: 0..<5, using: &rng) == 0 {
                    var copy = piece
                    if differingCopies { copy.version = UInt8.random(in: 1...3, using: &rng) }
                    extra.append(copy)
                }
                // Retransmissions cut at other boundaries, overlapping the original segments.
                for _ in 0..<Int.random(in: 0...(length / 100 + 1), using: &rng) where length > 0 {
                    let from = Int.random(in: 0..<length, using: &rng)
                    let to = min(length, from + Int.random(in: 1...400, using: &rng))
                    let version = differingCopies ? UInt8.random(in: 0...3, using: &rng) : 0
                    extra.append(PlannedSegment(fromClient: fromClient, from: from, to: to, fin: to == length, version: version))
                }
            }
            segments += pieces + extra
        }
        // Either a bounded displacement (NLB/GWLB-like reordering) or a full shuffle.
        if Bool.random(using: &rng) {
            let window = Double(Int.random(in: 1...20, using: &rng))
            let keyed = segments.enumerated().map { (Double($0.offset) + Double.random(in: 0..<window, using: &rng), $0.element) }
            segments = keyed.sorted { $0.0 < $1.0 }.map(\.1)
        } else {
            segments.shuffle(using: &rng)
        }
        // ACKs from each receiver now and then, for what it holds contiguously at that point, as a receiver
        // would; and at the end, when nothing was lost, ACKs of everything and the FINs.
        var withAcks: [PlannedSegment] = []
        var covered: [Bool: [Bool]] = [true: [Bool](repeating: false, count: streams[true]!.count),
                                       false: [Bool](repeating: false, count: streams[false]!.count)]
        var frontier: [Bool: Int] = [true: 0, false: 0]
        for segment in segments {
            withAcks.append(segment)
            let direction = segment.fromClient
            for offset in segment.from..<segment.from + (segment.captured ?? segment.to - segment.from) {
                covered[direction]![offset] = true
            }
            while frontier[direction]! < covered[direction]!.count && covered[direction]![frontier[direction]!] {
                frontier[direction]! += 1
            }
            if Int.random(in: 0..<3, using: &rng) == 0 {
                withAcks.append(PlannedSegment(
                    fromClient: !direction, from: 0, to: 0, fin: false, version: 0, acknowledges: frontier[direction]!))
            }
        }
        if !drops {
            for direction in [true, false] {
                withAcks.append(PlannedSegment(
                    fromClient: !direction, from: 0, to: 0, fin: false, version: 0,
                    acknowledges: streams[direction]!.count, acknowledgesFIN: true))
            }
        }
        return Plan(streams: streams, isns: isns, segments: withAcks)
    }

    /// The handshake and then every planned segment, in plan order.
    func run(limits: ReassemblyLimits, closeAll: Bool = false) -> Feeder {
        var feeder = Feeder(limits: limits)
        feeder.recorder.recordsEvents = false
        let client = self.isns[true]!
        let server = self.isns[false]!
        feeder.handshake(clientISN: client, serverISN: server)
        for segment in self.segments {
            let isn = self.isns[segment.fromClient]!
            let peer = self.isns[!segment.fromClient]!
            if let acknowledged = segment.acknowledges {
                let acknowledgment = peer &+ 1 &+ UInt32(acknowledged) &+ (segment.acknowledgesFIN ? 1 : 0)
                feeder.send(fromClient: segment.fromClient, sequence: isn &+ 1, acknowledgment: acknowledgment)
                continue
            }
            var flags: PacketBuilder.TCPFlags = .ack
            if segment.fin { flags.insert(.fin) }
            let payload = self.bytes(of: segment)
            feeder.send(
                fromClient: segment.fromClient, flags: flags, sequence: isn &+ 1 &+ UInt32(segment.from),
                acknowledgment: peer &+ 1, payload: payload, captured: segment.captured)
        }
        if closeAll { feeder.closeAll() }
        return feeder
    }

    /// What a receiver keeps under `policy`: `.first` keeps the first copy of each byte; `.last` the latest
    /// copy before the receiver acknowledged the byte. Bytes are modelled one by one, independently of the
    /// reassembler's segment bookkeeping.
    func expectedStream(fromClient: Bool, policy: OverlapPolicy) -> [UInt8] {
        let length = self.streams[fromClient]!.count
        var value = [UInt8](repeating: 0, count: length)
        var covered = [Bool](repeating: false, count: length)
        var acknowledged = 0
        for segment in self.segments {
            if let offset = segment.acknowledges {
                if segment.fromClient != fromClient { acknowledged = max(acknowledged, offset) }
                continue
            }
            guard segment.fromClient == fromClient else { continue }
            let bytes = self.bytes(of: segment)
            for offset in max(segment.from, acknowledged)..<max(segment.to, acknowledged) {
                if policy == .last || !covered[offset] {
                    value[offset] = bytes[offset - segment.from]
                    covered[offset] = true
                }
            }
        }
        return value
    }
}

private let i2r = StreamDirection.initiatorToResponder
private let r2i = StreamDirection.responderToInitiator
private let first = ConnectionID(rawValue: 1)

@Suite struct RandomizedReassemblyTests {
    /// Random segmentation, order, duplicates and overlapping retransmissions of the same bytes: both
    /// streams come out exactly, FINs included, with no gap.
    @Test(arguments: 0..<10)
    func sameBytesReassembleExactly(batch: UInt64) {
        for seed in batch * 40..<batch * 40 + 40 {
            var rng = SeededGenerator(seed: seed)
            let plan = Plan.make(&rng, differingCopies: false)
            var limits = ReassemblyLimits()
            limits.overlapPolicy = seed % 2 == 0 ? .first : .last
            let feeder = plan.run(limits: limits)
            let recorder = feeder.recorder
            let counters = feeder.reassembler.counters
            #expect(recorder.violations.isEmpty, "seed \(seed): \(recorder.violations.prefix(3))")
            #expect(recorder.stream(i2r).bytes == plan.streams[true]!, "seed \(seed)")
            #expect(recorder.stream(r2i).bytes == plan.streams[false]!, "seed \(seed)")
            #expect(recorder.stream(i2r).gaps.isEmpty && recorder.stream(r2i).gaps.isEmpty, "seed \(seed)")
            #expect(recorder.connections[first]?.closeReason == .fin, "seed \(seed)")
            #expect(counters.conflictingBytes == 0, "seed \(seed)")
            #expect(counters.bytesDelivered == plan.streams[true]!.count + plan.streams[false]!.count, "seed \(seed)")
            #expect(counters.bufferedBytes == 0 && counters.connectionsOpened == 1 && counters.isBalanced, "seed \(seed)")
        }
    }

    /// Copies that disagree: the output follows the policy byte for byte, as the independent model says.
    @Test(arguments: 0..<10)
    func differingCopiesFollowThePolicy(batch: UInt64) {
        for seed in batch * 40..<batch * 40 + 40 {
            var rng = SeededGenerator(seed: 10_000 + seed)
            let plan = Plan.make(&rng, differingCopies: true)
            for policy in [OverlapPolicy.first, .last] {
                var limits = ReassemblyLimits()
                limits.overlapPolicy = policy
                let feeder = plan.run(limits: limits)
                let recorder = feeder.recorder
                #expect(recorder.violations.isEmpty, "seed \(seed) \(policy): \(recorder.violations.prefix(3))")
                #expect(recorder.stream(i2r).bytes == plan.expectedStream(fromClient: true, policy: policy),
                        "seed \(seed) \(policy)")
                #expect(recorder.stream(r2i).bytes == plan.expectedStream(fromClient: false, policy: policy),
                        "seed \(seed) \(policy)")
                #expect(recorder.connections[first]?.closeReason == .fin, "seed \(seed) \(policy)")
            }
        }
    }

    /// Lost segments, small caps, truncated copies: every delivered byte is right, every offset is
    /// delivered or inside a gap, and offsets no segment ever carried are inside a lost gap.
    @Test(arguments: 0..<10)
    func lossAndSmallCapsNeverMisplaceBytes(batch: UInt64) {
        for seed in batch * 30..<batch * 30 + 30 {
            var rng = SeededGenerator(seed: 20_000 + seed)
            var plan = Plan.make(&rng, differingCopies: false, drops: true)
            for index in plan.segments.indices where Int.random(in: 0..<10, using: &rng) == 0 {
                let length = plan.segments[index].to - plan.segments[index].from
                plan.segments[index].captured = Int.random(in: 0...length, using: &rng)
            }
            var limits = ReassemblyLimits()
            limits.maxBufferedBytesPerDirection = Int.random(in: 0...4_000, using: &rng)
            limits.memcapBytes = Int.random(in: 0...6_000, using: &rng)
            limits.overlapPolicy = Bool.random(using: &rng) ? .first : .last
            let feeder = plan.run(limits: limits, closeAll: true)
            let recorder = feeder.recorder
            #expect(recorder.violations.isEmpty, "seed \(seed): \(recorder.violations.prefix(3))")
            for fromClient in [true, false] {
                let stream = plan.streams[fromClient]!
                let record = recorder.stream(fromClient ? i2r : r2i)
                #expect(record.nextOffset == UInt64(stream.count) && record.ended, "seed \(seed)")
                // Which offsets some segment carried (captured), and which were only announced.
                var carried = [Bool](repeating: false, count: stream.count)
                for segment in plan.segments where segment.fromClient == fromClient {
                    let capturedEnd = segment.from + (segment.captured ?? (segment.to - segment.from))
                    for offset in segment.from..<capturedEnd { carried[offset] = true }
                }
                var position = 0
                var consumed = 0
                var correct = true
                for gap in record.gaps {
                    let before = Int(gap.offset) - position
                    correct = correct
                        && Array(record.bytes[consumed..<consumed + before]) == Array(stream[position..<Int(gap.offset)])
                    consumed += before
                    position = Int(gap.offset + gap.length)
                }
                correct = correct && Array(record.bytes[consumed...]) == Array(stream[position...])
                #expect(correct, "seed \(seed): delivered bytes differ from the stream")
                var inGap = [Bool](repeating: false, count: stream.count)
                for gap in record.gaps {
                    for offset in Int(gap.offset)..<Int(gap.offset + gap.length) { inGap[offset] = true }
                }
                #expect((0..<stream.count).allSatisfy { carried[$0] || inGap[$0] },
                        "seed \(seed): bytes never seen but not in a gap")
            }
            let counters = feeder.reassembler.counters
            #expect(counters.bufferedBytes == 0 && counters.isBalanced, "seed \(seed)")
        }
    }
}

/// Many connections at once, opened, written to, closed and opened again on the same keys in a random order: each
/// segment must reach its own connection (the key table is probed, grown and shifted back on removal all along).
/// With `train` above 1, a key takes up to that many steps in a row, as segments come in trains (the table keeps
/// the last key it found: a connection closed and opened again within a train must not find the old slot).
@Suite struct ConnectionTableTests {
    @Test(arguments: [(0, 1), (1, 1), (2, 1), (3, 1), (4, 6), (5, 6)] as [(UInt64, Int)])
    func everySegmentFindsItsConnection(batch: UInt64, train: Int) {
        var rng = SeededGenerator(seed: 0x7AB1E + batch)
        var feeder = Feeder()
        var limits = ReassemblyLimits()
        limits.closedLingerNanoseconds = 0
        feeder.reassembler = TCPReassembler(limits: limits)
        // Ports on a small range of addresses, so keys share their first words and collide in any hash.
        let keys = (0..<300).map { k in
            (IPAddress("10.0.\(k % 3).\(1 + k % 7)")!, UInt16(20_000 + k), IPAddress("10.9.0.\(1 + k % 2)")!)
        }
        var open: [Int: (client: UInt32, server: UInt32, sent: Int, generation: Int)] = [:]
        var expected: [Int: [UInt8]] = [:]  // by generation: what its client sent
        var generations: [Int: Int] = [:]   // generation → key
        var generation = 0
        var k = 0
        var trainLeft = 0
        for _ in 0..<6000 {
            if trainLeft == 0 {
                k = Int(rng.next() % UInt64(keys.count))
                trainLeft = 1 + Int(rng.next() % UInt64(train))
            }
            trainLeft -= 1
            feeder.client = (keys[k].0, keys[k].1)
            feeder.server = (keys[k].2, 80)
            if var state = open[k] {
                if rng.next() % 8 == 0 {
                    feeder.send(fromClient: true, flags: [.fin, .ack], sequence: state.client &+ UInt32(state.sent))
                    feeder.send(fromClient: false, flags: [.fin, .ack], sequence: state.server, acknowledgment: state.client &+ UInt32(state.sent) &+ 1)
                    open[k] = nil
                } else {
                    let payload = streamBytes(1 + Int(rng.next() % 40), seed: UInt8(truncatingIfNeeded: state.generation))
                    feeder.send(fromClient: true, sequence: state.client &+ UInt32(state.sent), payload: payload)
                    expected[state.generation, default: []] += payload
                    state.sent += payload.count
                    open[k] = state
                }
            } else {
                let client = UInt32(truncatingIfNeeded: rng.next())
                let server = UInt32(truncatingIfNeeded: rng.next())
                feeder.handshake(clientISN: client, serverISN: server)
                generation += 1
                generations[generation] = k
                open[k] = (client &+ 1, server &+ 1, 0, generation)
            }
        }
        feeder.closeAll()
        #expect(feeder.recorder.violations.isEmpty, "\(feeder.recorder.violations.prefix(3))")
        #expect(feeder.recorder.connections.count == generation)
        // Connections open in order, so generation n is connection id n.
        for (g, k) in generations {
            let record = feeder.recorder.connections[ConnectionID(rawValue: UInt64(g))]
            #expect(record?.initiator.1 == keys[k].1, "generation \(g)")
            #expect(feeder.recorder.stream(.initiatorToResponder, of: ConnectionID(rawValue: UInt64(g))).bytes == expected[g] ?? [],
                    "generation \(g)")
        }
    }
}

// vpcmirror fuzz target: TCP reassembly of segment sequences described by the input, checked against its call contract.
// Built by scripts/fuzz.sh with -sanitize=fuzzer,address, with Sources/MirrorWire and Sources/MirrorReassembly.
//
// Input: one configuration byte, then 6-byte segment records (and their payload bytes when the configuration says so):
//   config: bit 0 overlap policy (.last when set), bits 1-2 per-direction cap, bits 3-4 memcap, bit 5 table of 2,
//           bit 6 payload from the input (else each byte is its sequence number's low byte), bit 7 ISNs near 2^32
//   record: [0] bit 0 connection (of 3), bit 1 sent by the server, bits 2-5 SYN/ACK/FIN/RST, bit 6 truncated,
//               bit 7 call expire(now:) after it
//           [1...2] signed sequence delta from where the direction's next byte would be
//           [3] payload length; [4] signed acknowledgment delta from the peer's next byte; [5] signed time step (ms)

/// Checks the delegate contract: `opened` once and first, offsets that follow on exactly, nothing after
/// `ended` or `closed`, and with generated payloads, every byte where its sequence number puts it.
struct FuzzReassemblyChecker: ReassemblyDelegate {
    struct Stream {
        var next: UInt64 = 0
        var ended = false
        /// The value the next byte must have, when payloads are generated from sequence numbers.
        var expectedByte: UInt8? = nil
    }

    var checksContent: Bool
    var open: [ConnectionID: (Stream, Stream)] = [:]
    var closedIDs: Set<ConnectionID> = []
    var highestID: UInt64 = 0
    var bytesDelivered = 0

    mutating func opened(
        _ id: ConnectionID, key: ConnectionKey, initiator: (IPAddress, UInt16), responder: (IPAddress, UInt16),
        midstream: Bool, timestamp: Int64
    ) {
        precondition(self.open[id] == nil && !self.closedIDs.contains(id), "opened twice")
        precondition(id.rawValue > self.highestID, "ids must grow")
        self.highestID = id.rawValue
        self.open[id] = (Stream(), Stream())
    }

    private mutating func advance(
        _ id: ConnectionID, _ direction: StreamDirection, offset: UInt64, length: UInt64
    ) -> Stream {
        precondition(length > 0, "empty data or gap")
        guard var pair = self.open[id] else { preconditionFailure("output for a connection not open") }
        var stream = direction == .initiatorToResponder ? pair.0 : pair.1
        precondition(!stream.ended, "output after ended")
        precondition(offset == stream.next, "offset \(offset), expected \(stream.next): overlap or hole")
        let before = stream
        stream.next = offset + length
        if direction == .initiatorToResponder { pair.0 = stream } else { pair.1 = stream }
        self.open[id] = pair
        return before
    }

    private mutating func setExpected(_ id: ConnectionID, _ direction: StreamDirection, _ value: UInt8?) {
        if direction == .initiatorToResponder {
            self.open[id]!.0.expectedByte = value
        } else {
            self.open[id]!.1.expectedByte = value
        }
    }

    mutating func data(
        _ id: ConnectionID, _ direction: StreamDirection, offset: UInt64, bytes: UnsafeRawBufferPointer, timestamp: Int64
    ) {
        let before = self.advance(id, direction, offset: offset, length: UInt64(bytes.count))
        self.bytesDelivered += bytes.count
        guard self.checksContent else { return }
        var expected = before.expectedByte ?? bytes[0]
        for byte in bytes {
            precondition(byte == expected, "byte out of place")
            expected &+= 1
        }
        self.setExpected(id, direction, expected)
    }

    mutating func gap(
        _ id: ConnectionID, _ direction: StreamDirection, offset: UInt64, length: UInt64, reason: GapReason,
        timestamp: Int64
    ) {
        let before = self.advance(id, direction, offset: offset, length: length)
        if let expected = before.expectedByte {
            self.setExpected(id, direction, expected &+ UInt8(truncatingIfNeeded: length))
        }
    }

    mutating func ended(_ id: ConnectionID, _ direction: StreamDirection, timestamp: Int64) {
        guard var pair = self.open[id] else { preconditionFailure("ended for a connection not open") }
        if direction == .initiatorToResponder {
            precondition(!pair.0.ended, "ended twice")
            pair.0.ended = true
        } else {
            precondition(!pair.1.ended, "ended twice")
            pair.1.ended = true
        }
        self.open[id] = pair
    }

    mutating func closed(_ id: ConnectionID, reason: CloseReason, timestamp: Int64) {
        guard self.open.removeValue(forKey: id) != nil else { preconditionFailure("closed a connection not open") }
        self.closedIDs.insert(id)
    }
}

/// Where each direction of each fuzzed connection is: its next sequence number.
struct FuzzEndpointState {
    var nextSequence: [UInt32]
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzReassembly(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let config = data[0]
    var limits = ReassemblyLimits()
    limits.overlapPolicy = config & 1 != 0 ? .last : .first
    limits.maxBufferedBytesPerDirection = [0, 100, 1_000, 1 << 20][Int(config >> 1 & 3)]
    limits.memcapBytes = [300, 3_000, 30_000, 128 << 20][Int(config >> 3 & 3)]
    limits.maxConnections = config & 0x20 != 0 ? 2 : 100
    limits.idleTimeoutNanoseconds = 1_000_000_000
    limits.closedLingerNanoseconds = 500_000_000
    limits.acknowledgedHoleDelayNanoseconds = 10_000_000
    let payloadFromInput = config & 0x40 != 0
    var reassembler = TCPReassembler(limits: limits)
    var checker = FuzzReassemblyChecker(checksContent: !payloadFromInput)

    // Three connections; index 2 * connection + (server ? 1 : 0).
    let isnBase: UInt32 = config & 0x80 != 0 ? 0xFFFF_FF00 : 1_000
    var state = FuzzEndpointState(nextSequence: (0..<6).map { isnBase &+ UInt32($0) &* 0x100 })
    let client = IPAddress(ipv4: 0x0A00_0001)
    let server = IPAddress(ipv4: 0x0A00_0002)
    var frame = [UInt8](repeating: 0, count: 40 + 255)
    var time: Int64 = 1_000_000_000
    var position = 1
    var records = 0
    while position + 6 <= size && records < 4_096 {
        records += 1
        let control = data[position]
        let sequenceDelta = Int16(bitPattern: UInt16(data[position + 1]) << 8 | UInt16(data[position + 2]))
        let length = Int(data[position + 3])
        let acknowledgmentDelta = Int8(bitPattern: data[position + 4])
        let timeStep = Int8(bitPattern: data[position + 5])
        position += 6
        let connection = Int(control & 1) + (records % 5 == 0 ? 1 : 0)  // now and then a third connection
        let fromServer = control & 2 != 0
        let me = 2 * connection + (fromServer ? 1 : 0)
        let peer = 2 * connection + (fromServer ? 0 : 1)
        var flags: UInt8 = 0
        if control & 0x04 != 0 { flags |= 0x02 }  // SYN
        if control & 0x08 != 0 { flags |= 0x10 }  // ACK
        if control & 0x10 != 0 { flags |= 0x01 }  // FIN
        if control & 0x20 != 0 { flags |= 0x04 }  // RST
        let sequence = state.nextSequence[me] &+ UInt32(bitPattern: Int32(sequenceDelta))
        let acknowledgment = state.nextSequence[peer] &+ UInt32(bitPattern: Int32(acknowledgmentDelta))

        // The payload: from the input, or each byte the low byte of its own sequence number.
        let payloadStart = flags & 0x02 != 0 ? sequence &+ 1 : sequence
        for i in 0..<length {
            if payloadFromInput {
                frame[40 + i] = position + i < size ? data[position + i] : 0
            } else {
                frame[40 + i] = UInt8(truncatingIfNeeded: payloadStart &+ UInt32(i))
            }
        }
        if payloadFromInput { position += length }
        // Minimal IPv4 and TCP headers: the reassembler reads sequence and acknowledgment from the frame.
        let port: UInt16 = 40_000 + UInt16(connection)
        for (offset, value) in [(24, sequence), (28, acknowledgment)] {
            frame[offset] = UInt8(truncatingIfNeeded: value >> 24)
            frame[offset + 1] = UInt8(truncatingIfNeeded: value >> 16)
            frame[offset + 2] = UInt8(truncatingIfNeeded: value >> 8)
            frame[offset + 3] = UInt8(truncatingIfNeeded: value)
        }
        var summary = PacketSummary()
        summary.linkType = .raw
        summary.ipVersion = 4
        summary.source = fromServer ? server : client
        summary.destination = fromServer ? client : server
        summary.ipHeaderLength = 20
        summary.ipPacketLength = 40 + length
        summary.transportProtocol = .tcp
        summary.transportOffset = 20
        summary.hasPorts = true
        summary.sourcePort = fromServer ? 80 : port
        summary.destinationPort = fromServer ? port : 80
        summary.tcpFlags = flags
        summary.tcpHeaderLength = 20
        let captured = control & 0x40 != 0 ? 40 + length / 2 : 40 + length
        summary.capturedLength = captured
        let key = ConnectionKey(
            source: summary.source, sourcePort: summary.sourcePort,
            destination: summary.destination, destinationPort: summary.destinationPort)
        time += Int64(timeStep) * 1_000_000
        frame.withUnsafeBytes { bytes in
            reassembler.process(
                summary, frame: UnsafeRawBufferPointer(rebasing: bytes[0..<captured]), key: key, timestamp: time,
                delegate: &checker)
        }
        // The sender's next byte moves on when this segment reaches beyond it.
        let end = payloadStart &+ UInt32(length) &+ (flags & 0x01 != 0 ? 1 : 0)
        if TCPSequenceNumber(rawValue: end).distance(from: TCPSequenceNumber(rawValue: state.nextSequence[me])) > 0 {
            state.nextSequence[me] = end
        }
        if control & 0x80 != 0 {
            reassembler.expire(now: time, delegate: &checker)
        }
        let counters = reassembler.counters
        precondition(counters.isBalanced, "segment outcomes do not add up")
        precondition(counters.bufferedBytes >= 0 && counters.bufferedBytes <= limits.memcapBytes, "memcap exceeded")
        precondition(
            reassembler.connectionCount + reassembler.lingeringCount <= limits.maxConnections, "table over its cap")
    }
    reassembler.closeAll(timestamp: time, delegate: &checker)
    let counters = reassembler.counters
    precondition(checker.open.isEmpty, "connections left open after closeAll")
    precondition(reassembler.connectionCount == 0 && counters.bufferedBytes == 0, "state left after closeAll")
    precondition(counters.bytesDelivered == checker.bytesDelivered, "bytesDelivered disagrees with the data calls")
    precondition(counters.connectionsOpened == checker.closedIDs.count, "opened and closed differ")
    precondition(counters.connectionsClosed == checker.closedIDs.count, "close counters disagree")
    return 0
}

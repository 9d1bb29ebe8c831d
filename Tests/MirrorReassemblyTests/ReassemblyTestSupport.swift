// vpcmirror: reassembler test helpers: a recording delegate that checks the call contract, and a segment feeder.
import MirrorReassembly
import MirrorTestSupport
import MirrorWire
import Testing

/// One delegate call, as recorded.
enum Event: Hashable, CustomStringConvertible {
    case opened(ConnectionID, initiatorPort: UInt16, midstream: Bool)
    case data(ConnectionID, StreamDirection, offset: UInt64, count: Int)
    case gap(ConnectionID, StreamDirection, offset: UInt64, length: UInt64, reason: GapReason)
    case ended(ConnectionID, StreamDirection)
    case closed(ConnectionID, CloseReason)

    var description: String {
        switch self {
        case .opened(let id, let port, let midstream): "opened(\(id), initiator port \(port), midstream \(midstream))"
        case .data(let id, let d, let offset, let count): "data(\(id), \(d), \(offset), \(count))"
        case .gap(let id, let d, let offset, let length, let reason): "gap(\(id), \(d), \(offset), \(length), \(reason))"
        case .ended(let id, let d): "ended(\(id), \(d))"
        case .closed(let id, let reason): "closed(\(id), \(reason))"
        }
    }
}

/// What one direction of one connection delivered.
struct StreamRecord: Hashable {
    /// Delivered bytes, concatenated (gaps left out).
    var bytes: [UInt8] = []
    var gaps: [Gap] = []
    var nextOffset: UInt64 = 0
    var ended = false

    struct Gap: Hashable, CustomStringConvertible {
        var offset: UInt64
        var length: UInt64
        var reason: GapReason
        var description: String { "gap(\(self.offset), \(self.length), \(self.reason))" }
    }

    /// The stream with each gap filled by `fill` bytes.
    func filled(with fill: UInt8) -> [UInt8] {
        var out: [UInt8] = []
        var consumed = 0
        var position: UInt64 = 0
        for gap in self.gaps {
            let before = Int(gap.offset - position)
            out += self.bytes[consumed..<consumed + before]
            consumed += before
            out += [UInt8](repeating: fill, count: Int(gap.length))
            position = gap.offset + gap.length
        }
        out += self.bytes[consumed...]
        return out
    }
}

/// Records every call and checks the delegate contract as it goes: `opened` first and once, offsets
/// that follow on exactly, nothing after `ended` or `closed`, `closed` once.
struct Recorder: ReassemblyDelegate {
    struct ConnectionRecord {
        var key: ConnectionKey
        var initiator: (IPAddress, UInt16)
        var responder: (IPAddress, UInt16)
        var midstream: Bool
        var streams: [StreamDirection: StreamRecord] = [:]
        var closeReason: CloseReason? = nil
    }

    var events: [Event] = []
    var connections: [ConnectionID: ConnectionRecord] = [:]
    var violations: [String] = []
    /// Whether to keep `events` (the randomized tests only need the streams).
    var recordsEvents = true
    /// When set, data must point inside this buffer: the in-order path delivers from the frame.
    var frameBounds: UnsafeRawBufferPointer? = nil
    var bytesOutsideFrame = 0

    mutating func opened(
        _ id: ConnectionID, key: ConnectionKey, initiator: (IPAddress, UInt16), responder: (IPAddress, UInt16),
        midstream: Bool, timestamp: Int64
    ) {
        if self.connections[id] != nil { self.violations.append("\(id) opened twice") }
        self.connections[id] = ConnectionRecord(key: key, initiator: initiator, responder: responder, midstream: midstream)
        if self.recordsEvents { self.events.append(.opened(id, initiatorPort: initiator.1, midstream: midstream)) }
    }

    private mutating func check(_ id: ConnectionID, _ direction: StreamDirection, offset: UInt64, _ what: String) -> Bool {
        guard let connection = self.connections[id] else {
            self.violations.append("\(what) for unknown \(id)")
            return false
        }
        if connection.closeReason != nil { self.violations.append("\(what) after close of \(id)") }
        let stream = connection.streams[direction] ?? StreamRecord()
        if stream.ended { self.violations.append("\(what) after end of \(id) \(direction)") }
        if stream.nextOffset != offset {
            self.violations.append("\(what) of \(id) \(direction) at \(offset), expected \(stream.nextOffset)")
        }
        return true
    }

    mutating func data(
        _ id: ConnectionID, _ direction: StreamDirection, offset: UInt64, bytes: UnsafeRawBufferPointer, timestamp: Int64
    ) {
        guard self.check(id, direction, offset: offset, "data") else { return }
        if bytes.isEmpty { self.violations.append("empty data for \(id)") }
        if let frame = self.frameBounds {
            let start = UInt(bitPattern: bytes.baseAddress)
            let low = UInt(bitPattern: frame.baseAddress)
            if start < low || start + UInt(bytes.count) > low + UInt(frame.count) { self.bytesOutsideFrame += bytes.count }
        }
        self.connections[id]!.streams[direction, default: StreamRecord()].bytes += bytes
        self.connections[id]!.streams[direction, default: StreamRecord()].nextOffset = offset + UInt64(bytes.count)
        if self.recordsEvents { self.events.append(.data(id, direction, offset: offset, count: bytes.count)) }
    }

    mutating func gap(
        _ id: ConnectionID, _ direction: StreamDirection, offset: UInt64, length: UInt64, reason: GapReason,
        timestamp: Int64
    ) {
        guard self.check(id, direction, offset: offset, "gap") else { return }
        if length == 0 { self.violations.append("empty gap for \(id)") }
        self.connections[id]!.streams[direction, default: StreamRecord()].gaps.append(
            .init(offset: offset, length: length, reason: reason))
        self.connections[id]!.streams[direction, default: StreamRecord()].nextOffset = offset + length
        if self.recordsEvents { self.events.append(.gap(id, direction, offset: offset, length: length, reason: reason)) }
    }

    mutating func ended(_ id: ConnectionID, _ direction: StreamDirection, timestamp: Int64) {
        guard let connection = self.connections[id] else { return self.violations.append("ended for unknown \(id)") }
        if connection.closeReason != nil { self.violations.append("ended after close of \(id)") }
        if connection.streams[direction]?.ended == true { self.violations.append("ended twice: \(id) \(direction)") }
        self.connections[id]!.streams[direction, default: StreamRecord()].ended = true
        if self.recordsEvents { self.events.append(.ended(id, direction)) }
    }

    mutating func closed(_ id: ConnectionID, reason: CloseReason, timestamp: Int64) {
        guard let connection = self.connections[id] else { return self.violations.append("closed for unknown \(id)") }
        if connection.closeReason != nil { self.violations.append("\(id) closed twice") }
        self.connections[id]!.closeReason = reason
        if self.recordsEvents { self.events.append(.closed(id, reason)) }
    }

    /// The only connection's stream in `direction` (empty when it delivered nothing).
    func stream(_ direction: StreamDirection, of id: ConnectionID = ConnectionID(rawValue: 1)) -> StreamRecord {
        self.connections[id]?.streams[direction] ?? StreamRecord()
    }
}

/// Builds real Ethernet/IPv4/TCP frames between a client and a server and feeds them to a reassembler.
struct Feeder {
    var reassembler: TCPReassembler
    var recorder = Recorder()
    var builder = PacketBuilder()
    var client = (IPAddress("10.0.0.1")!, UInt16(40_000))
    var server = (IPAddress("10.0.0.2")!, UInt16(80))
    var vni: UInt32 = 0
    var now: Int64 = 1_000_000_000

    init(limits: ReassemblyLimits = .init()) {
        self.reassembler = TCPReassembler(limits: limits)
    }

    /// The frame of one segment; `captured` cuts the payload (the IP length still announces all of it).
    func frame(
        fromClient: Bool, flags: PacketBuilder.TCPFlags, sequence: UInt32, acknowledgment: UInt32 = 0,
        payload: [UInt8] = [], captured: Int? = nil, padding: Int = 0
    ) -> [UInt8] {
        let (source, destination) = fromClient ? (self.client, self.server) : (self.server, self.client)
        var frame = self.builder.tcp(
            source: source.0, sourcePort: source.1, destination: destination.0, destinationPort: destination.1,
            flags: flags, sequenceNumber: sequence, acknowledgmentNumber: acknowledgment, payload: payload)
        if let captured { frame.removeLast(payload.count - captured) }
        frame += [UInt8](repeating: 0xEE, count: padding)
        return frame
    }

    /// Decodes `frame` and hands it to the reassembler at `time` (default: the current time, which advances by 1 µs).
    mutating func feed(_ frame: [UInt8], at time: Int64? = nil) {
        let timestamp = time ?? self.now
        if time == nil { self.now += 1_000 }
        frame.withUnsafeBytes { bytes in
            guard let summary = try? PacketSummary(decoding: bytes, linkType: .ethernet) else {
                Issue.record("test frame does not decode")
                return
            }
            self.recorder.frameBounds = bytes
            self.reassembler.process(
                summary, frame: bytes, key: ConnectionKey(summary, vni: self.vni), timestamp: timestamp,
                delegate: &self.recorder)
            self.recorder.frameBounds = nil
        }
    }

    mutating func send(
        fromClient: Bool, flags: PacketBuilder.TCPFlags = .ack, sequence: UInt32, acknowledgment: UInt32 = 0,
        payload: [UInt8] = [], captured: Int? = nil, padding: Int = 0, at time: Int64? = nil
    ) {
        let frame = self.frame(
            fromClient: fromClient, flags: flags, sequence: sequence, acknowledgment: acknowledgment, payload: payload,
            captured: captured, padding: padding)
        self.feed(frame, at: time)
    }

    /// SYN, SYN-ACK and ACK with initial sequence numbers `clientISN` and `serverISN`.
    mutating func handshake(clientISN: UInt32, serverISN: UInt32) {
        self.send(fromClient: true, flags: .syn, sequence: clientISN)
        self.send(fromClient: false, flags: [.syn, .ack], sequence: serverISN, acknowledgment: clientISN &+ 1)
        self.send(fromClient: true, flags: .ack, sequence: clientISN &+ 1, acknowledgment: serverISN &+ 1)
    }

    mutating func closeAll() {
        self.reassembler.closeAll(timestamp: self.now, delegate: &self.recorder)
    }
}


/// `count` bytes that differ from position to position, so a misplaced byte shows.
func streamBytes(_ count: Int, seed: UInt8 = 0) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 8 &+ Int(seed)) }
}

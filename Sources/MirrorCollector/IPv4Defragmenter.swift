// vpcmirror: bounded IPv4 fragment reassembly, for VXLAN datagrams fragmented on their way and for inner packets.
public import MirrorWire

/// Reassembles IPv4 datagrams from fragments (RFC 791), within fixed bounds and on packet time.
///
/// Up to `maxDatagrams` datagrams are held at once (the oldest is dropped when a new one arrives), each at most
/// 65,535 bytes, for at most `timeoutNanoseconds` of packet time. Overlapping fragments: the first copy wins
/// (as in our TCP reassembly). What is dropped is counted. Only fragments allocate; whole packets pass untouched.
public struct IPv4Defragmenter: Sendable {
    public struct Counters: Hashable, Sendable {
        public var fragments = 0
        public var reassembled = 0
        /// Datagrams given up: timed out, pushed out by newer ones, or impossible (over 65,535 bytes, conflicting ends).
        public var timedOut = 0
        public var evicted = 0
        public var invalid = 0
        public init() {}
    }

    struct Pending: Sendable {
        var source: IPAddress
        var destination: IPAddress
        var identification: UInt32
        var transportProtocol: UInt8
        var firstSeen: Int64
        /// The first fragment's IP header (options included), once seen.
        var header: [UInt8]?
        /// Payload bytes by offset; `have` marks which are filled.
        var payload: [UInt8]
        var have: [Bool]
        var totalLength: Int?
    }

    public var maxDatagrams: Int
    public var timeoutNanoseconds: Int64
    public private(set) var counters = Counters()
    var pending: [Pending] = []

    public init(maxDatagrams: Int = 256, timeoutNanoseconds: Int64 = 30_000_000_000) {
        self.maxDatagrams = maxDatagrams
        self.timeoutNanoseconds = timeoutNanoseconds
    }

    /// Takes one IPv4 fragment (`summary.fragment != .none`, `packet` starting at the IP header).
    /// - Returns: the whole datagram (IP header with MF and offset cleared, lengths and checksum fixed, then the
    ///   payload) when this fragment completed it; otherwise nil.
    public mutating func add(_ summary: PacketSummary, packet: UnsafeRawBufferPointer, timestamp: Int64) -> [UInt8]? {
        self.counters.fragments += 1
        self.expire(now: timestamp)
        let headerLength = summary.ipHeaderLength
        let flags = packet.loadBigEndian(at: 6, as: UInt16.self)
        let offset = Int(flags & 0x1FFF) * 8
        let more = flags & 0x2000 != 0
        let available = min(packet.count, summary.ipPacketLength) - headerLength
        guard available >= 0, offset + available <= 65_535 - headerLength else {
            self.counters.invalid += 1
            return nil
        }
        var index = self.pending.firstIndex {
            $0.identification == summary.fragmentIdentification && $0.source == summary.source
                && $0.destination == summary.destination && $0.transportProtocol == summary.transportProtocol.rawValue
        }
        if index == nil {
            if self.pending.count >= self.maxDatagrams {
                self.pending.removeFirst()
                self.counters.evicted += 1
            }
            self.pending.append(Pending(
                source: summary.source, destination: summary.destination, identification: summary.fragmentIdentification,
                transportProtocol: summary.transportProtocol.rawValue, firstSeen: timestamp, header: nil, payload: [], have: [],
                totalLength: nil))
            index = self.pending.count - 1
        }
        let i = index!
        if offset == 0 { self.pending[i].header = Array(packet[0..<headerLength]) }
        if !more {
            let total = offset + available
            if let known = self.pending[i].totalLength, known != total {
                self.pending.remove(at: i)
                self.counters.invalid += 1
                return nil
            }
            self.pending[i].totalLength = total
        }
        let end = offset + available
        if self.pending[i].payload.count < end {
            self.pending[i].payload += [UInt8](repeating: 0, count: end - self.pending[i].payload.count)
            self.pending[i].have += [Bool](repeating: false, count: end - self.pending[i].have.count)
        }
        for k in 0..<available where !self.pending[i].have[offset + k] {
            self.pending[i].payload[offset + k] = packet[headerLength + k]
            self.pending[i].have[offset + k] = true
        }
        guard let total = self.pending[i].totalLength, var header = self.pending[i].header,
            self.pending[i].payload.count == total, !self.pending[i].have.contains(false)
        else { return nil }
        let datagram = self.pending.remove(at: i)
        self.counters.reassembled += 1
        let length = header.count + total
        header[2] = UInt8(length >> 8)
        header[3] = UInt8(length & 0xFF)
        header[6] &= 0x40  // keep DF, clear MF and the offset
        header[7] = 0
        header[10] = 0
        header[11] = 0
        let checksum = header.withUnsafeBytes { InternetChecksum.finish(InternetChecksum.add($0, to: 0)) }
        header[10] = UInt8(checksum >> 8)
        header[11] = UInt8(checksum & 0xFF)
        return header + datagram.payload
    }

    /// Gives up datagrams older than the timeout.
    public mutating func expire(now: Int64) {
        let before = self.pending.count
        // Times come from the capture, which may jump anywhere: an age past Int64 is old when time went forward.
        self.pending.removeAll {
            let (age, overflow) = now.subtractingReportingOverflow($0.firstSeen)
            return overflow ? now > $0.firstSeen : age > self.timeoutNanoseconds
        }
        self.counters.timedOut += before - self.pending.count
    }

    /// Datagrams still incomplete.
    public var pendingCount: Int { self.pending.count }
}

// vpcmirror: one captured frame in, one or more VXLAN payloads out, written straight into the send queue.
public import MirrorWire

/// Memory the encapsulator writes datagrams into: the sender's queue, or a test buffer.
public protocol DatagramSink {
    /// Room for a datagram of up to `byteCount` bytes, or `nil` when there is none (the datagram is dropped).
    mutating func reserve(_ byteCount: Int) -> UnsafeMutableRawBufferPointer?
    /// Publishes the datagram last reserved, keeping its first `byteCount` bytes.
    mutating func commit(_ byteCount: Int)
}

/// What happened to one frame.
public struct EncapsulationResult: Hashable, Sendable {
    /// Datagrams committed to the sink.
    public var datagrams = 0
    /// Datagrams the sink had no room for.
    public var dropped = 0
    /// The frame (or one of its segments) was cut at the session's PacketLength.
    public var truncated = false
    /// The frame was a TCP super-frame split into MTU-sized segments.
    public var segmented = false
    /// The frame's TCP/UDP checksum was left for the NIC to finish, and was finished here
    /// (`completesPartialChecksums`).
    public var checksumCompleted = false
    public init() {}
}

/// Builds VXLAN payloads (header + inner Ethernet frame) the way AWS sends them:
/// the inner frame is the frame as it crossed the interface, cut at PacketLength.
///
/// Frames of other link types get a synthesized Ethernet II header (the interface's MAC on its side).
/// TCP super-frames from segmentation offload (an IP packet longer than `mtu`) are split into the segments the
/// wire would have carried, with fresh IPv4 and TCP checksums; other frames are never altered, except for
/// partial checksums when `completesPartialChecksums` is set.
public struct VXLANEncapsulator: Sendable {
    /// The source interface MTU: the largest IP packet the wire carries. AWS's default is 9001.
    public var mtu: Int
    /// Finish TCP/UDP checksums the kernel left for the NIC. Frames captured live on the host that sends them
    /// (or across a veth) carry only the pseudo-header sum in the checksum field (CHECKSUM_PARTIAL); the wire, and
    /// so AWS's mirror, carries the full checksum, and receivers such as Zeek and Suricata drop frames without
    /// it. Only that exact pattern is replaced, so a checksum that was wrong on the wire stays wrong.
    public var completesPartialChecksums = false

    public init(mtu: Int = 9001) {
        self.mtu = mtu
    }

    /// Encapsulates one frame.
    /// - Parameters:
    ///   - frame: the captured bytes, decoded into `summary`.
    ///   - vni: the session's VXLAN network identifier.
    ///   - packetLength: bytes of the inner frame to keep (`nil`: all).
    ///   - interfaceMAC: the mirrored interface's MAC, for synthesized headers.
    ///   - direction: egress when the interface sent the frame.
    @inlinable
    public func encapsulate<Sink: DatagramSink>(
        frame: UnsafeRawBufferPointer,
        summary: PacketSummary,
        vni: UInt32,
        packetLength: Int?,
        interfaceMAC: MACAddress?,
        isEgress: Bool,
        into sink: inout Sink
    ) -> EncapsulationResult {
        var result = EncapsulationResult()
        let linkHeaderLength = summary.hasEthernetHeader ? summary.networkOffset : 14
        let limit = packetLength ?? Int.max
        let ipCaptured = summary.capturedIPLength

        if self.needsSegmentation(summary) {
            self.segment(frame: frame, summary: summary, vni: vni, limit: limit, linkHeaderLength: linkHeaderLength,
                         interfaceMAC: interfaceMAC, isEgress: isEgress, into: &sink, result: &result)
            return result
        }

        let innerLength = linkHeaderLength + ipCaptured
        let kept = Swift.min(innerLength, limit)
        guard let out = sink.reserve(VXLANHeader.byteCount + innerLength) else {
            result.dropped = 1
            return result
        }
        out.writeVXLANHeader(vni: vni)
        let inner = UnsafeMutableRawBufferPointer(rebasing: out[VXLANHeader.byteCount...])
        self.writeLinkHeader(frame: frame, summary: summary, interfaceMAC: interfaceMAC, isEgress: isEgress, into: inner)
        // The one copy of the packet: from the capture buffer into the send queue, cut at PacketLength.
        let copyLength = Swift.max(0, kept - linkHeaderLength)
        if copyLength > 0 {
            inner.baseAddress!.advanced(by: linkHeaderLength)
                .copyMemory(from: frame.baseAddress!.advanced(by: summary.networkOffset), byteCount: copyLength)
        }
        result.truncated = kept < innerLength
        if self.completesPartialChecksums && !result.truncated {
            result.checksumCompleted = Self.completePartialChecksum(
                UnsafeMutableRawBufferPointer(rebasing: inner[linkHeaderLength..<kept]), summary: summary)
        }
        sink.commit(VXLANHeader.byteCount + kept)
        result.datagrams = 1
        return result
    }

    /// Replaces a CHECKSUM_PARTIAL TCP/UDP checksum in `packet` (the IP packet, whole) with the full one.
    /// - Returns: whether it did.
    @inlinable
    static func completePartialChecksum(_ packet: UnsafeMutableRawBufferPointer, summary s: PacketSummary) -> Bool {
        guard s.fragment == .none, s.capturedIPLength >= s.ipPacketLength, packet.count >= s.ipPacketLength else { return false }
        let field: Int
        switch s.transportProtocol {
        case .tcp: field = 16
        case .udp: field = 6
        default: return false
        }
        let transport = s.ipHeaderLength
        let length = s.ipPacketLength - transport
        guard length >= field + 2 else { return false }
        let pseudo = InternetChecksum.pseudoHeaderSum(
            source: s.source, destination: s.destination, protocol: s.transportProtocol, length: length)
        // The kernel leaves the folded pseudo-header sum, not complemented, for the NIC to finish.
        let stored: UInt16 = UnsafeRawBufferPointer(packet).loadBigEndian(at: transport + field, as: UInt16.self)
        guard stored == ~InternetChecksum.finish(pseudo) else { return false }
        packet.storeBigEndian(UInt16(0), at: transport + field)
        let sum = InternetChecksum.add(UnsafeRawBufferPointer(rebasing: packet[transport..<(transport + length)]), to: pseudo)
        var checksum = InternetChecksum.finish(sum)
        // UDP sends a computed 0 as 0xFFFF (0 means "no checksum").
        if checksum == 0 && s.transportProtocol == .udp { checksum = 0xFFFF }
        packet.storeBigEndian(checksum, at: transport + field)
        return true
    }

    /// A TCP packet longer than the MTU, whole in the capture, not a fragment: an offload super-frame.
    @inlinable
    public func needsSegmentation(_ s: PacketSummary) -> Bool {
        s.transportProtocol == .tcp && s.fragment == .none && s.ipPacketLength > self.mtu
            && s.capturedIPLength >= s.ipPacketLength
            && s.ipHeaderLength + s.tcpHeaderLength < self.mtu
            && s.transportOffset + s.tcpHeaderLength <= s.capturedLength
    }

    @inlinable
    func writeLinkHeader(
        frame: UnsafeRawBufferPointer, summary: PacketSummary, interfaceMAC: MACAddress?, isEgress: Bool,
        into inner: UnsafeMutableRawBufferPointer
    ) {
        if summary.hasEthernetHeader {
            inner.baseAddress!.copyMemory(from: frame.baseAddress!, byteCount: summary.networkOffset)
            return
        }
        // Synthesized Ethernet II: the interface's MAC on its own side; the peer's when the link recorded it.
        let own = interfaceMAC ?? summary.sourceMAC ?? .zero
        let source: MACAddress
        let destination: MACAddress
        if isEgress {
            source = own
            destination = .zero
        } else {
            source = summary.sourceMAC ?? .zero
            destination = interfaceMAC ?? .zero
        }
        inner.storeBigEndian(UInt16(truncatingIfNeeded: destination.rawValue >> 32), at: 0)
        inner.storeBigEndian(UInt32(truncatingIfNeeded: destination.rawValue), at: 2)
        inner.storeBigEndian(UInt16(truncatingIfNeeded: source.rawValue >> 32), at: 6)
        inner.storeBigEndian(UInt32(truncatingIfNeeded: source.rawValue), at: 8)
        inner.storeBigEndian(summary.ipVersion == 6 ? EtherType.ipv6.rawValue : EtherType.ipv4.rawValue, at: 12)
    }

    /// Splits a TCP super-frame into MTU-sized segments (as TSO/GSO would on the wire), each its own datagram.
    @inlinable
    func segment<Sink: DatagramSink>(
        frame: UnsafeRawBufferPointer, summary s: PacketSummary, vni: UInt32, limit: Int, linkHeaderLength: Int,
        interfaceMAC: MACAddress?, isEgress: Bool, into sink: inout Sink, result: inout EncapsulationResult
    ) {
        result.segmented = true
        let ipHeaderLength = s.ipHeaderLength
        let tcpHeaderLength = s.tcpHeaderLength
        let headersLength = ipHeaderLength + tcpHeaderLength
        let maximumSegmentSize = self.mtu - headersLength
        let payloadStart = s.transportOffset + tcpHeaderLength
        let payloadLength = s.networkOffset + s.ipPacketLength - payloadStart
        let sequence = frame.loadBigEndian(at: s.transportOffset + 4, as: UInt32.self)
        let identification = s.ipVersion == 4 ? frame.loadBigEndian(at: s.networkOffset + 4, as: UInt16.self) : 0
        let flags = s.tcpFlags
        var sent = 0
        var index = 0
        while sent < payloadLength || (payloadLength == 0 && index == 0) {
            let chunk = Swift.min(maximumSegmentSize, payloadLength - sent)
            let isFirst = index == 0
            let isLast = sent + chunk >= payloadLength
            let ipLength = headersLength + chunk
            let innerLength = linkHeaderLength + ipLength
            guard let out = sink.reserve(VXLANHeader.byteCount + innerLength) else {
                result.dropped += 1
                sent += chunk
                index += 1
                continue
            }
            out.writeVXLANHeader(vni: vni)
            let inner = UnsafeMutableRawBufferPointer(rebasing: out[VXLANHeader.byteCount...])
            self.writeLinkHeader(frame: frame, summary: s, interfaceMAC: interfaceMAC, isEgress: isEgress, into: inner)
            let base = inner.baseAddress!
            let ip = linkHeaderLength
            let tcp = ip + ipHeaderLength
            base.advanced(by: ip).copyMemory(from: frame.baseAddress!.advanced(by: s.networkOffset), byteCount: headersLength)
            base.advanced(by: tcp + tcpHeaderLength)
                .copyMemory(from: frame.baseAddress!.advanced(by: payloadStart + sent), byteCount: chunk)

            if s.ipVersion == 4 {
                inner.storeBigEndian(UInt16(ipLength), at: ip + 2)
                inner.storeBigEndian(identification &+ UInt16(truncatingIfNeeded: index), at: ip + 4)
                inner.storeBigEndian(UInt16(0), at: ip + 10)
                let header = UnsafeRawBufferPointer(rebasing: inner[ip..<(ip + ipHeaderLength)])
                inner.storeBigEndian(InternetChecksum.finish(InternetChecksum.add(header, to: 0)), at: ip + 10)
            } else {
                inner.storeBigEndian(UInt16(ipLength - 40), at: ip + 4)
            }
            inner.storeBigEndian(sequence &+ UInt32(truncatingIfNeeded: sent), at: tcp + 4)
            var segmentFlags = flags
            if !isLast { segmentFlags &= ~(0x01 | 0x08) }  // FIN and PSH only on the last segment
            if !isFirst { segmentFlags &= ~0x80 }          // CWR only on the first
            inner[tcp + 13] = segmentFlags
            inner.storeBigEndian(UInt16(0), at: tcp + 16)
            var sum = InternetChecksum.pseudoHeaderSum(
                source: s.source, destination: s.destination, protocol: .tcp, length: tcpHeaderLength + chunk)
            sum = InternetChecksum.add(UnsafeRawBufferPointer(rebasing: inner[tcp..<(tcp + tcpHeaderLength + chunk)]), to: sum)
            inner.storeBigEndian(InternetChecksum.finish(sum), at: tcp + 16)

            let kept = Swift.min(innerLength, limit)
            if kept < innerLength { result.truncated = true }
            sink.commit(VXLANHeader.byteCount + kept)
            result.datagrams += 1
            sent += chunk
            index += 1
        }
    }
}

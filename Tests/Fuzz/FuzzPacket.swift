// vpcmirror fuzz target: the frame decoder, then the encapsulator on whatever decodes (segmentation included).
// Built by scripts/fuzz.sh with -sanitize=fuzzer,address; the first byte picks the link type, the second the MTU.

let fuzzLinkTypes: [LinkType] = [.ethernet, .linuxSLL, .linuxSLL2, .null, .loop, .raw, .ipv4, .ipv6, LinkType(rawValue: 147)]

struct FuzzSink: DatagramSink {
    var buffer: UnsafeMutableRawBufferPointer
    var reserved = 0
    mutating func reserve(_ byteCount: Int) -> UnsafeMutableRawBufferPointer? {
        guard byteCount <= self.buffer.count else { return nil }
        self.reserved = byteCount
        return UnsafeMutableRawBufferPointer(rebasing: self.buffer[0..<byteCount])
    }
    mutating func commit(_ byteCount: Int) { precondition(byteCount <= self.reserved) }
}

let fuzzBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 17, alignment: 8)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPacket(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let linkType = fuzzLinkTypes[Int(data[0]) % fuzzLinkTypes.count]
    let mtu = 68 + Int(data[1]) * 36
    let frame = UnsafeRawBufferPointer(start: data + 2, count: size - 2)
    guard let summary = try? PacketSummary(decoding: frame, linkType: linkType) else { return 0 }
    precondition(summary.networkOffset <= frame.count && summary.capturedLength == frame.count)
    _ = FlowHash.hash(summary, seed: 1)
    guard summary.isIP else { return 0 }
    var sink = FuzzSink(buffer: fuzzBuffer)
    _ = VXLANEncapsulator(mtu: mtu).encapsulate(
        frame: frame, summary: summary, vni: 7, packetLength: data[1] & 1 == 0 ? nil : Int(data[1]),
        interfaceMAC: nil, isEgress: data[1] & 2 == 0, into: &sink)
    return 0
}

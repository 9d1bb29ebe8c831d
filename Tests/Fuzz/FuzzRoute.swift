// vpcmirror fuzz target: the router's quick look at a frame (FastRoute) against the full decoding. Wherever the quick
// look answers, the decapsulator and the frame decoder must find the same TCP connection, counted the same way.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRoute(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let frame = UnsafeRawBufferPointer(start: data, count: size)
    guard let fast = FastRoute.of(frame, linkType: .ethernet, vxlanPorts: Decapsulator().ports) else { return 0 }
    var d = Decapsulator()
    var key: ConnectionKey? = nil
    d.decapsulate(frame, linkType: .ethernet, timestamp: 0) { f in
        guard let s = try? PacketSummary(decoding: f.bytes, linkType: f.linkType),
            s.transportProtocol == .tcp, s.hasPorts, s.fragment == .none
        else { return }
        key = ConnectionKey(
            vni: f.vni ?? Conversations.noVNI, outerVLAN: s.vlanCount > 0 ? s.outerVLAN : 0,
            innerVLAN: s.vlanCount > 1 ? s.innerVLAN : 0, source: s.source, sourcePort: s.sourcePort,
            destination: s.destination, destinationPort: s.destinationPort)
    }
    precondition(key == fast.key, "the quick look found another connection than the full decoding")
    precondition(d.counters.frames == 1 && d.counters.malformed.isEmpty)
    precondition(fast.vxlan ? d.counters.vxlan == 1 : d.counters.plain == 1)
    precondition(d.counters.vxlanReservedBitsSet == (fast.vxlanReservedBitsSet ? 1 : 0))
    return 0
}

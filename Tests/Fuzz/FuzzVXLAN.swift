// vpcmirror fuzz target: the VXLAN header decoder.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVXLAN(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    if let h = try? VXLANHeader(decoding: UnsafeRawBufferPointer(start: data, count: size)) {
        precondition(h.vni <= 0xFF_FFFF)
    }
    return 0
}

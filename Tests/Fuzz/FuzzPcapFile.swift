// vpcmirror fuzz target: the pure-Swift pcap/pcapng reader the tests rely on.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPcapFile(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = try? PcapFile(bytes: Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

// vpcmirror fuzz target: the JSON parser and the sessions-file validator.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = try? JSONParser.parse(bytes)
    do {
        let c = try SessionsFile.parse(bytes, fileName: "fuzz.json")
        _ = TrafficMirrorEngine(configuration: c)  // a valid file must compile into an engine
    } catch {
        precondition(!error.problems.isEmpty)
    }
    return 0
}

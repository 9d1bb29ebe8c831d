// vpcmirror fuzz target: the HTTP/1 conversation parser, both directions, cut at random, with gaps and ends.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP1(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let input = UnsafeRawBufferPointer(start: data, count: size)
    // Byte 0: where the rest splits into client and server bytes. Byte 1: mode bits and the seed of the cuts.
    let rest = UnsafeRawBufferPointer(rebasing: input[2...])
    let cut = Int(input[0]) * rest.count / 255
    let streams = [UnsafeRawBufferPointer(rebasing: rest[..<cut]), UnsafeRawBufferPointer(rebasing: rest[cut...])]
    let mode = input[1]
    var limits = HTTP1Limits()
    if mode & 0x02 != 0 {  // small limits, so inputs of a few KiB reach them
        limits.maxStartLineBytes = 64
        limits.maxHeaderBlockBytes = 256
        limits.maxHeaderCount = 8
        limits.maxChunkSizeLineBytes = 16
        limits.maxPendingRequests = 4
        limits.bodyCaptureBytes = 8
        limits.maxDecodedBytes = 4096
    }
    let bound = 2 * (2 * max(limits.maxStartLineBytes, limits.maxHeaderBlockBytes) + limits.maxChunkSizeLineBytes)
    var conversation = HTTP1Conversation(limits: limits, midstream: mode & 0x01 != 0)
    var emitted = 0
    var state = UInt64(mode) &* 0x9E37_79B9_7F4A_7C15 | 1
    func next(_ n: Int) -> Int {  // xorshift: deterministic for a given input
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return Int(state % UInt64(max(n, 1)))
    }
    var offsets = [0, 0]
    var timestamp: Int64 = 0
    while offsets[0] < streams[0].count || offsets[1] < streams[1].count {
        let s = offsets[0] == streams[0].count ? 1 : offsets[1] == streams[1].count ? 0 : next(2)
        let direction: HTTPStreamDirection = s == 0 ? .clientToServer : .serverToClient
        let n = min(1 + next(mode & 0x04 != 0 ? 8 : 700), streams[s].count - offsets[s])
        timestamp += 1
        if mode & 0x08 != 0 && next(10) == 0 {
            // The piece is lost instead of delivered (sometimes as truncation).
            conversation.gap(length: UInt64(n), from: direction, truncated: next(2) == 0, timestamp: timestamp) { _ in
                emitted += 1
            }
        } else {
            conversation.receive(UnsafeRawBufferPointer(rebasing: streams[s][offsets[s]..<(offsets[s] + n)]),
                                 from: direction, timestamp: timestamp) { _ in emitted += 1 }
        }
        offsets[s] += n
        precondition(conversation.bufferedByteCount <= bound)
        precondition(conversation.pendingExchangeCount <= max(1, limits.maxPendingRequests))
        if offsets[s] == streams[s].count && mode & 0x10 != 0 {
            conversation.end(from: direction, timestamp: timestamp) { _ in emitted += 1 }
        }
    }
    conversation.close(timestamp: timestamp + 1) { _ in emitted += 1 }
    precondition(emitted == conversation.counters.transactions)
    return 0
}

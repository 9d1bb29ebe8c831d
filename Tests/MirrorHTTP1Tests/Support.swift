// vpcmirror: conversation scripts and the feeders that replay them whole, split and byte by byte.
import CZlib
import Foundation
import MirrorHTTP1
import MirrorTestSupport
import Testing

/// One thing that happens on a connection, in capture order.
enum Event: Sendable {
    case data(HTTPStreamDirection, [UInt8])
    case gap(HTTPStreamDirection, Int, truncated: Bool)
    case end(HTTPStreamDirection)

    static func c(_ s: String) -> Event { .data(.clientToServer, Array(s.utf8)) }
    static func s(_ s: String) -> Event { .data(.serverToClient, Array(s.utf8)) }
    static func c(_ b: [UInt8]) -> Event { .data(.clientToServer, b) }
    static func s(_ b: [UInt8]) -> Event { .data(.serverToClient, b) }
    static let endC = Event.end(.clientToServer)
    static let endS = Event.end(.serverToClient)
}

/// What a test checks of each transaction (the full transactions are compared between feeding modes).
struct Expected: Sendable, CustomStringConvertible {
    var method: String?
    var target: String?
    var status: Int?
    var requestBody: Int?
    var responseBody: Int?
    var flags: HTTPTransactionFlags = []
    var interim: [Int] = []
    var decoded: Int?

    init(_ method: String?, _ target: String?, _ status: Int?, requestBody: Int? = 0, responseBody: Int? = 0,
         flags: HTTPTransactionFlags = [], interim: [Int] = [], decoded: Int? = nil) {
        self.method = method
        self.target = target
        self.status = status
        self.requestBody = requestBody
        self.responseBody = responseBody
        self.flags = flags
        self.interim = interim
        self.decoded = decoded
    }

    func matches(_ t: HTTPTransaction) -> Bool {
        t.method == self.method && t.requestTarget == self.target && t.statusCode == self.status
            && t.requestBodyBytes == self.requestBody && t.responseBodyBytes == self.responseBody
            && t.flags == self.flags && t.interimStatusCodes == self.interim
            && t.responseBodyDecodedBytes == self.decoded
    }

    var description: String {
        "\(self.method ?? "-") \(self.target ?? "-") -> \(self.status.map(String.init) ?? "-") "
            + "req=\(self.requestBody.map(String.init) ?? "-") resp=\(self.responseBody.map(String.init) ?? "-") "
            + "decoded=\(self.decoded.map(String.init) ?? "-") interim=\(self.interim) \(self.flags)"
    }
}

/// A named conversation and what it must produce.
struct Script: Sendable, CustomTestStringConvertible {
    var name: String
    var events: [Event]
    var expected: [Expected]
    var midstream = false
    var limits = HTTP1Limits()

    var testDescription: String { self.name }

    func stream(_ d: HTTPStreamDirection) -> [UInt8] {
        self.events.flatMap { if case .data(d, let b) = $0 { return b } else { return [] } }
    }
}

struct Outcome {
    var transactions: [HTTPTransaction] = []
    var counters = HTTP1Counters()
    var rolesSwapped = false
    var maxBuffered = 0
}

/// Feeds `events`, cutting each data event into the pieces `cuts` gives (offsets inside the event), then closes.
func run(_ script: Script, cuts: (_ index: Int, _ direction: HTTPStreamDirection, _ offsetInStream: Int, _ count: Int) -> [Int] = { _, _, _, _ in [] }) -> Outcome {
    var conversation = HTTP1Conversation(limits: script.limits, midstream: script.midstream)
    var out = Outcome()
    var offsets: [HTTPStreamDirection: Int] = [.clientToServer: 0, .serverToClient: 0]
    for (index, event) in script.events.enumerated() {
        let ts = Int64(index + 1) * 1_000
        switch event {
        case .data(let d, let bytes):
            var pieces = cuts(index, d, offsets[d]!, bytes.count).filter { $0 > 0 && $0 < bytes.count }.sorted()
            pieces.append(bytes.count)
            var start = 0
            for end in pieces where end > start {
                bytes[start..<end].withUnsafeBytes { raw in
                    conversation.receive(raw, from: d, timestamp: ts) { out.transactions.append($0) }
                }
                out.maxBuffered = max(out.maxBuffered, conversation.bufferedByteCount)
                start = end
            }
            offsets[d]! += bytes.count
        case .gap(let d, let n, let truncated):
            conversation.gap(length: UInt64(n), from: d, truncated: truncated, timestamp: ts) { out.transactions.append($0) }
            offsets[d]! += n
        case .end(let d):
            conversation.end(from: d, timestamp: ts) { out.transactions.append($0) }
        }
    }
    conversation.close(timestamp: Int64(script.events.count + 1) * 1_000) { out.transactions.append($0) }
    out.counters = conversation.counters
    out.rolesSwapped = conversation.rolesSwapped
    return out
}

/// Feeds each direction's data in one call (client first), without timestamps mattering.
func runWholeDirections(_ script: Script) -> Outcome {
    var conversation = HTTP1Conversation(limits: script.limits, midstream: script.midstream)
    var out = Outcome()
    for d in [HTTPStreamDirection.clientToServer, .serverToClient] {
        script.stream(d).withUnsafeBytes { raw in
            conversation.receive(raw, from: d, timestamp: 1) { out.transactions.append($0) }
        }
    }
    for case .end(let d) in script.events { conversation.end(from: d, timestamp: 1) { out.transactions.append($0) } }
    conversation.close(timestamp: 1) { out.transactions.append($0) }
    out.counters = conversation.counters
    return out
}

func checkExpected(_ out: Outcome, _ script: Script, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(out.transactions.count == script.expected.count, "\(script.name): \(out.transactions)", sourceLocation: sourceLocation)
    for (t, e) in zip(out.transactions, script.expected) {
        #expect(e.matches(t), "\(script.name): got \(t), expected \(e)", sourceLocation: sourceLocation)
    }
}

/// Transactions with the timestamps cleared, for feeding modes that give every byte the same time.
func timeless(_ ts: [HTTPTransaction]) -> [HTTPTransaction] {
    ts.map {
        var t = $0
        if t.requestTimestamp != nil { t.requestTimestamp = 0 }
        if t.responseEndTimestamp != nil { t.responseEndTimestamp = 0 }
        return t
    }
}

// MARK: - Bodies

enum Zlib {
    /// Compresses with zlib's deflate: `windowBits` 31 = gzip, 15 = zlib, -15 = raw deflate.
    static func compress(_ input: [UInt8], windowBits: Int32) -> [UInt8] {
        var stream = z_stream()
        precondition(deflateInit2_(&stream, 6, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
                                   Int32(MemoryLayout<z_stream>.size)) == Z_OK)
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(input.count))) + 64)
        var input = input
        let produced = input.withUnsafeMutableBytes { inRaw in
            output.withUnsafeMutableBytes { outRaw in
                stream.next_in = inRaw.baseAddress?.assumingMemoryBound(to: Bytef.self)
                stream.avail_in = uInt(inRaw.count)
                stream.next_out = outRaw.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(outRaw.count)
                precondition(deflate(&stream, Z_FINISH) == Z_STREAM_END)
                return outRaw.count - Int(stream.avail_out)
            }
        }
        return Array(output[..<produced])
    }
}


/// Some text that compresses well and is not all one byte.
func sampleText(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
    var rng = SeededGenerator(seed: seed)
    let words = ["alpha ", "beta ", "gamma ", "delta ", "\n", "epsilon ", "zeta ", "eta "].map { Array($0.utf8) }
    var out: [UInt8] = []
    while out.count < count { out += words[Int(rng.next() % UInt64(words.count))] }
    return Array(out[..<count])
}

func chunked(_ body: [UInt8], sizes: [Int], extensions: Bool = false, trailers: String = "") -> [UInt8] {
    var out: [UInt8] = []
    var offset = 0
    var k = 0
    while offset < body.count {
        let n = min(sizes[k % sizes.count], body.count - offset)
        out += Array(String(n, radix: 16).utf8) + (extensions ? Array(";ext=\(k);q=\"x\"".utf8) : []) + [13, 10]
        out += body[offset..<(offset + n)] + [13, 10]
        offset += n
        k += 1
    }
    out += Array("0\(extensions ? ";last" : "")\r\n\(trailers)\r\n".utf8)
    return out
}

// vpcmirror: helpers for MirrorCaptureTests: temporary files, reading whole captures, building pcapng.
import Foundation
import MirrorCapture
import MirrorTestSupport
import MirrorWire
import Testing

/// A fresh directory under the system temporary directory, removed when the value goes away.
struct TemporaryDirectory: ~Copyable {
    let url: URL

    init() throws {
        self.url = FileManager.default.temporaryDirectory
            .appendingPathComponent("vpcmirror-capture-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.url, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: self.url)
    }

    /// Writes `bytes` to a file in the directory and returns its path.
    func write(_ bytes: [UInt8], named name: String) throws -> String {
        let file = self.url.appendingPathComponent(name)
        try Data(bytes).write(to: file)
        return file.path
    }

    func path(_ name: String) -> String {
        self.url.appendingPathComponent(name).path
    }
}

/// Every frame of a capture read through `CaptureFileReader` (libpcap, or its pure-Swift fallback for
/// pcapng files libpcap refuses), copied out of the reader's buffer.
struct LibpcapCapture {
    var linkType: LinkType
    var snapshotLength: Int
    var frames: [PcapRecord]
    /// The reader switched to its pure-Swift fallback.
    var usedFallback = false
}

func readWithLibpcap(_ path: String) throws(CaptureError) -> LibpcapCapture {
    var reader = try CaptureFileReader(path: path)
    var frames: [PcapRecord] = []
    while let frame = try reader.next(PcapRecord.init(copying:)) {
        frames.append(frame)
    }
    #expect(reader.framesRead == frames.count)
    // One more call after the end keeps returning nil.
    #expect(try reader.next { _ in true } == nil)
    return LibpcapCapture(
        linkType: reader.linkType, snapshotLength: reader.snapshotLength, frames: frames,
        usedFallback: reader.usesPureSwiftFallback)
}

/// Reads frames until the reader throws, and returns the frames read and the error.
func readUntilError(_ path: String) -> (frames: [PcapRecord], error: CaptureError?) {
    var frames: [PcapRecord] = []
    do {
        var reader = try CaptureFileReader(path: path)
        while let frame = try reader.next(PcapRecord.init(copying:)) {
            frames.append(frame)
        }
        return (frames, nil)
    } catch {
        return (frames, error)
    }
}

extension PcapRecord {
    /// A copy of a frame; the reader does not report pcapng interface IDs, so the index is 0.
    init(copying frame: CapturedFrame) {
        self.init(
            linkType: frame.linkType,
            timestampNanoseconds: frame.timestampNanoseconds,
            bytes: Array(frame.bytes),
            originalLength: frame.originalLength
        )
    }

    /// The same frame, ignoring the interface index (which libpcap does not report).
    func sameFrame(as other: PcapRecord) -> Bool {
        self.bytes == other.bytes && self.originalLength == other.originalLength
            && self.timestampNanoseconds == other.timestampNanoseconds
            && sameLinkType(libpcap: self.linkType, file: other.linkType)
    }
}

/// libpcap reports DLT values, the file holds LINKTYPE values; they differ only for raw IP among the
/// types we support (LINKTYPE_RAW 101 is DLT_RAW 12, or 14 on some BSDs).
func sameLinkType(libpcap: LinkType, file: LinkType) -> Bool {
    libpcap == file || (file == .raw && (libpcap == .rawDLT12 || libpcap == .rawDLT14))
}

/// True when tshark can be used; records a failure when tools are required and tshark is missing.
/// Tests call it after `.enabled(if: ToolRunner.shouldRunTests(needing: "tshark"))`.
func tsharkIsAvailable(sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
    if Tshark.path != nil { return true }
    Issue.record("VPCMIRROR_REQUIRE_TOOLS=1, but tshark is not installed (scripts/install-deps.sh)", sourceLocation: sourceLocation)
    return false
}

/// Builds pcapng files block by block, in either byte order, for tests of both readers.
struct PcapngBytes {
    var isBigEndian: Bool
    private(set) var bytes: [UInt8] = []

    init(isBigEndian: Bool = false) {
        self.isBigEndian = isBigEndian
    }

    mutating func sectionHeader(major: UInt16 = 1, minor: UInt16 = 0) {
        var body: [UInt8] = []
        self.put(UInt32(0x1A2B_3C4D), into: &body)
        self.put(major, into: &body)
        self.put(minor, into: &body)
        self.put(UInt64.max, into: &body)  // section length not given
        self.block(type: 0x0A0D_0D0A, body: body)
    }

    /// An IDB with `if_tsresol` and `if_tsoffset` when given, and an `if_name` option to step over.
    mutating func interface(
        linkType: LinkType = .ethernet,
        snapshotLength: UInt32 = 262_144,
        timestampResolution: UInt8? = nil,
        timestampOffsetSeconds: Int64? = nil
    ) {
        var body: [UInt8] = []
        self.put(UInt16(truncatingIfNeeded: linkType.rawValue), into: &body)
        self.put(UInt16(0), into: &body)
        self.put(snapshotLength, into: &body)
        self.option(code: 2, value: Array("eth0".utf8), into: &body)
        if let timestampResolution { self.option(code: 9, value: [timestampResolution], into: &body) }
        if let timestampOffsetSeconds {
            var value: [UInt8] = []
            self.put(UInt64(bitPattern: timestampOffsetSeconds), into: &value)
            self.option(code: 14, value: value, into: &body)
        }
        self.option(code: 0, value: [], into: &body)
        self.block(type: 1, body: body)
    }

    mutating func enhancedPacket(interface: UInt32 = 0, ticks: UInt64, frame: [UInt8], originalLength: Int? = nil) {
        var body: [UInt8] = []
        self.put(interface, into: &body)
        self.put(UInt32(ticks >> 32), into: &body)
        self.put(UInt32(ticks & 0xFFFF_FFFF), into: &body)
        self.put(UInt32(frame.count), into: &body)
        self.put(UInt32(originalLength ?? frame.count), into: &body)
        body += Self.padded(frame)
        self.option(code: 1, value: Array("a comment".utf8), into: &body)
        self.option(code: 0, value: [], into: &body)
        self.block(type: 6, body: body)
    }

    mutating func simplePacket(frame: [UInt8]) {
        var body: [UInt8] = []
        self.put(UInt32(frame.count), into: &body)
        body += Self.padded(frame)
        self.block(type: 3, body: body)
    }

    /// The obsolete Packet Block (type 2): 16-bit interface ID and drop count.
    mutating func obsoletePacket(interface: UInt16 = 0, ticks: UInt64, frame: [UInt8]) {
        var body: [UInt8] = []
        self.put(interface, into: &body)
        self.put(UInt16(0), into: &body)
        self.put(UInt32(ticks >> 32), into: &body)
        self.put(UInt32(ticks & 0xFFFF_FFFF), into: &body)
        self.put(UInt32(frame.count), into: &body)
        self.put(UInt32(frame.count), into: &body)
        body += Self.padded(frame)
        self.block(type: 2, body: body)
    }

    /// Any block: type, total length, the body padded to 4 bytes, total length.
    mutating func block(type: UInt32, body: [UInt8]) {
        let padded = Self.padded(body)
        let total = UInt32(12 + padded.count)
        var block: [UInt8] = []
        self.put(type, into: &block)
        self.put(total, into: &block)
        block += padded
        self.put(total, into: &block)
        self.bytes += block
    }

    private func option(code: UInt16, value: [UInt8], into body: inout [UInt8]) {
        self.put(code, into: &body)
        self.put(UInt16(value.count), into: &body)
        body += Self.padded(value)
    }

    private func put<T: FixedWidthInteger>(_ value: T, into bytes: inout [UInt8]) {
        let ordered = self.isBigEndian ? value.bigEndian : value.littleEndian
        withUnsafeBytes(of: ordered) { bytes += $0 }
    }

    private static func padded(_ bytes: [UInt8]) -> [UInt8] {
        bytes + [UInt8](repeating: 0, count: (4 - bytes.count % 4) % 4)
    }
}

/// A few distinct frames with increasing timestamps, for writing test captures.
func sampleFrames(count: Int, linkType: LinkType = .ethernet, startNanoseconds: Int64 = 1_700_000_000_123_456_789) -> [PcapRecord] {
    let builder = PacketBuilder()
    let client = IPAddress("10.0.0.1")!
    let server = IPAddress("10.0.0.2")!
    return (0..<count).map { index in
        let frame = builder.udp(
            source: client, sourcePort: 40_000 + UInt16(index), destination: server, destinationPort: 53,
            payload: Array(repeating: UInt8(truncatingIfNeeded: index), count: 10 + index * 7)
        )
        return PcapRecord(
            linkType: linkType,
            timestampNanoseconds: startNanoseconds + Int64(index) * 1_000_001_001,
            bytes: frame
        )
    }
}

// vpcmirror: CaptureFileReader (libpcap) against the pure-Swift reader and tshark, on every fixture and on bad files.
import Foundation
import MirrorCapture
import MirrorTestSupport
import MirrorWire
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct CaptureFileReaderTests {
    /// Fixtures libpcap 1.10 refuses part-way, which the reader reads through its pure-Swift fallback.
    static let readThroughFallback: Set<String> = [
        // 126 IDBs merged from many captures, with several snapshot lengths and link types; libpcap
        // requires every IDB to match the first.
        "ldap-126-interfaces.pcapng"
    ]

    // MARK: - Every fixture

    @Test("the fixtures are all there", .tags(.fixtures))
    func fixturesPresent() {
        #expect(Fixtures.all.count == 40)
    }

    @Test("libpcap and the pure-Swift reader return the same frames", .tags(.fixtures), arguments: Fixtures.all)
    func readersAgree(fixture: String) throws {
        let path = Fixtures.path(fixture)
        let pure = try PcapFile(path: path)
        #expect(!pure.records.isEmpty)
        let capture = try readWithLibpcap(path)
        Self.expectSameFrames(libpcap: capture, pure: pure)
        // libpcap stays the path for every file it reads (a later libpcap may read the others too).
        if !Self.readThroughFallback.contains(fixture) {
            #expect(!capture.usedFallback)
        }
    }

    static func expectSameFrames(libpcap: LibpcapCapture, pure: PcapFile) {
        #expect(libpcap.frames.count == pure.records.count)
        #expect(sameLinkType(libpcap: libpcap.linkType, file: pure.linkType), "\(libpcap.linkType) vs \(pure.linkType)")
        let firstDifference = zip(libpcap.frames, pure.records).enumerated().first { !$1.0.sameFrame(as: $1.1) }?.offset
        #expect(firstDifference == nil, "first differing frame (zero-based)")
        if let index = firstDifference {
            let (a, b) = (libpcap.frames[index], pure.records[index])
            Issue.record("libpcap: \(a.bytes.count) bytes, len \(a.originalLength), \(a.timestampNanoseconds) ns, \(a.linkType); pure: \(b.bytes.count) bytes, len \(b.originalLength), \(b.timestampNanoseconds) ns, \(b.linkType)")
        }
    }

    @Test(
        "tshark counts the same frames, with the same lengths and timestamps",
        .tags(.fixtures, .tools),
        .enabled(if: ToolRunner.shouldRunTests(needing: "tshark"), "tshark is not installed (VPCMIRROR_REQUIRE_TOOLS=1 fails instead)"),
        arguments: Fixtures.all
    )
    func tsharkAgrees(fixture: String) throws {
        guard tsharkIsAvailable() else { return }
        let path = Fixtures.path(fixture)
        let pure = try PcapFile(path: path)
        let rows = try Tshark.fields(
            file: path,
            fields: ["frame.time_epoch", "frame.len", "frame.cap_len", "frame.interface_id"]
        )
        #expect(rows.count == pure.records.count)
        var reader = try CaptureFileReader(path: path)
        while try reader.next({ _ in () }) != nil {}
        #expect(reader.framesRead == rows.count)
        for (index, (row, record)) in zip(rows, pure.records).enumerated() {
            guard row.count == 4 else {
                Issue.record("frame \(index + 1): tshark printed \(row)")
                break
            }
            let same = Self.nanoseconds(epoch: row[0]) == record.timestampNanoseconds
                && Int(row[1]) == record.originalLength && Int(row[2]) == record.bytes.count
                && (pure.format == .pcap || Int(row[3]) == record.interfaceIndex)
            if !same {
                Issue.record("frame \(index + 1): tshark says \(row), the pure reader \(record.timestampNanoseconds) ns, len \(record.originalLength), caplen \(record.bytes.count), interface \(record.interfaceIndex)")
                break
            }
        }
    }

    /// `1362692526.869344000` → ns; tshark prints nine fraction digits.
    static func nanoseconds(epoch: String) -> Int64? {
        let parts = epoch.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[1].count == 9, let seconds = Int64(parts[0]), let fraction = Int64(parts[1]) else {
            return nil
        }
        return seconds * 1_000_000_000 + fraction
    }

    // MARK: - Formats written by hand

    @Test(
        "µs and ns pcap in both byte orders come back in ns",
        arguments: [PcapWriter.TimestampResolution.microseconds, .nanoseconds],
        [PcapWriter.ByteOrder.littleEndian, .bigEndian]
    )
    func writtenPcap(resolution: PcapWriter.TimestampResolution, byteOrder: PcapWriter.ByteOrder) throws {
        let directory = try TemporaryDirectory()
        let records = sampleFrames(count: 5)
        let path = try directory.write(
            PcapWriter.encode(records, resolution: resolution, byteOrder: byteOrder),
            named: "written.pcap"
        )
        let capture = try readWithLibpcap(path)
        #expect(capture.linkType == .ethernet)
        #expect(capture.snapshotLength == 262_144)
        let expected = records.map { record in
            var record = record
            // A µs file keeps whole microseconds.
            if resolution == .microseconds { record.timestampNanoseconds -= record.timestampNanoseconds % 1_000 }
            return record
        }
        #expect(capture.frames == expected)
        #expect(try PcapFile(path: path).records == expected)
    }

    @Test("an empty but valid pcap gives zero frames")
    func emptyPcap() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write(PcapWriter(linkType: .linuxSLL, snapshotLength: 1500).bytes, named: "empty.pcap")
        let capture = try readWithLibpcap(path)
        #expect(capture.frames.isEmpty)
        #expect(capture.linkType == .linuxSLL)
        #expect(capture.snapshotLength == 1500)
    }

    @Test("an empty but valid pcapng gives zero frames")
    func emptyPcapng() throws {
        let directory = try TemporaryDirectory()
        var file = PcapngBytes()
        file.sectionHeader()
        file.interface(linkType: .null)
        let path = try directory.write(file.bytes, named: "empty.pcapng")
        let capture = try readWithLibpcap(path)
        #expect(capture.frames.isEmpty)
        #expect(capture.linkType == .null)
    }

    @Test("pcapng variants: byte order, if_tsresol, if_tsoffset, SPB, obsolete PB, unknown blocks", arguments: [false, true])
    func pcapngVariants(bigEndian: Bool) throws {
        let frames = sampleFrames(count: 4).map(\.bytes)
        var file = PcapngBytes(isBigEndian: bigEndian)
        file.sectionHeader()
        file.block(type: 0x0000_0BAD, body: [1, 2, 3, 4, 5])  // custom block: skipped
        file.interface(snapshotLength: 0, timestampResolution: 9, timestampOffsetSeconds: 1_000)
        file.interface(snapshotLength: 0, timestampResolution: 0x80 | 20)  // 2^-20 s ticks
        file.interface(snapshotLength: 0, timestampResolution: 3)  // ms ticks
        file.enhancedPacket(interface: 0, ticks: 1_700_000_000_123_456_789, frame: frames[0])
        file.enhancedPacket(interface: 1, ticks: 1_700_000_000 << 20 | 0x8_0001, frame: frames[1], originalLength: 1_000)
        file.block(type: 5, body: [UInt8](repeating: 0, count: 12))  // interface statistics: skipped
        file.obsoletePacket(interface: 2, ticks: 1_700_000_000_123, frame: frames[2])
        file.simplePacket(frame: frames[3])
        let directory = try TemporaryDirectory()
        let path = try directory.write(file.bytes, named: "variants.pcapng")

        let pure = try PcapFile(path: path)
        #expect(pure.format == .pcapng)
        #expect(pure.isBigEndian == bigEndian)
        #expect(pure.interfaces.map(\.timestampTicksPerSecond) == [1_000_000_000, 1 << 20, 1_000])
        #expect(pure.records.map(\.interfaceIndex) == [0, 1, 2, 0])
        #expect(pure.records.map(\.timestampNanoseconds) == [
            1_700_001_000_123_456_789,  // ns ticks plus if_tsoffset 1000 s
            1_700_000_000_500_000_953,  // 0x80001 / 2^20 s = 0.500000953… s, rounded down
            1_700_000_000_123_000_000,  // ms ticks
            1_000_000_000_000,  // an SPB has no timestamp: 0 plus interface 0's offset
        ])
        #expect(pure.records.map(\.bytes) == frames)
        #expect(pure.records[1].originalLength == 1_000)

        let capture = try readWithLibpcap(path)
        Self.expectSameFrames(libpcap: capture, pure: pure)
    }

    // MARK: - Bad files

    @Test("a missing file is fileNotFound")
    func missingFile() throws {
        let directory = try TemporaryDirectory()
        for path in [directory.path("absent.pcap"), directory.path("no-such-directory/absent.pcap")] {
            let error = #expect(throws: CaptureError(code: .fileNotFound, path: path)) {
                _ = try CaptureFileReader(path: path)
            }
            #expect(error?.description.hasPrefix("\(path): file not found") == true)
        }
    }

    @Test("an unreadable file is permissionDenied", .enabled(if: getuid() != 0, "root reads every file"))
    func unreadableFile() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write(PcapWriter().bytes, named: "secret.pcap")
        try FileManager.default.setAttributes([.posixPermissions: 0o000], ofItemAtPath: path)
        #expect(throws: CaptureError(code: .permissionDenied, path: path)) {
            _ = try CaptureFileReader(path: path)
        }
    }

    @Test("a directory is readFailed")
    func directory() throws {
        let directory = try TemporaryDirectory()
        let error = #expect(throws: CaptureError(code: .readFailed, path: directory.url.path)) {
            _ = try CaptureFileReader(path: directory.url.path)
        }
        #expect(error?.detail.isEmpty == false)
    }

    @Test("text, and files too short for a magic number, are notACapture", arguments: [
        Array("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n".utf8), [], [0xD4, 0xC3],
        // pcapng's block type alone is also a line ending in a text file.
        [0x0A, 0x0D, 0x0D, 0x0A, 0x41, 0x42],
    ])
    func notACapture(bytes: [UInt8]) throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write(bytes, named: "not-a-capture.pcap")
        let error = #expect(throws: CaptureError(code: .notACapture, path: path)) {
            _ = try CaptureFileReader(path: path)
        }
        #expect(error?.frameIndex == nil)
        #expect(throws: PcapFileError.self) { try PcapFile(path: path) }
    }

    @Test("a link type we cannot decode is refused when the file is opened")
    func unsupportedLinkType() throws {
        let directory = try TemporaryDirectory()
        let user0 = LinkType(rawValue: 147)
        #expect(!user0.isSupported)
        let path = try directory.write(PcapWriter.encode(sampleFrames(count: 2), linkType: user0), named: "user0.pcap")
        let error = #expect(throws: CaptureError(code: .unsupportedLinkType, path: path)) {
            _ = try CaptureFileReader(path: path)
        }
        #expect(error?.detail.contains("147") == true)
        // libpcap may add its name for the DLT in parentheses.
        #expect(error?.description.hasPrefix("\(path): unsupported link type: DLT 147") == true)
        // The pure reader only reads; it leaves link types to its callers.
        #expect(try PcapFile(path: path).linkType == user0)
    }

    // MARK: - Cut files

    /// Where a pcap cut at a given length fails: `nil` frame index for the file header.
    struct PcapCut: CustomTestStringConvertible, Sendable {
        var name: String
        var length: @Sendable (_ recordOffsets: [Int]) -> Int
        var code: CaptureError.Code
        var frameIndex: Int?
        var testDescription: String { self.name }
    }

    static let pcapCuts: [PcapCut] = [
        PcapCut(name: "inside the global header", length: { _ in 10 }, code: .truncated, frameIndex: nil),
        PcapCut(name: "one byte short of the global header", length: { _ in 23 }, code: .truncated, frameIndex: nil),
        PcapCut(name: "inside record 0's header", length: { $0[0] + 8 }, code: .truncated, frameIndex: 0),
        PcapCut(name: "inside record 0's data", length: { $0[0] + 16 + 1 }, code: .truncated, frameIndex: 0),
        PcapCut(name: "inside record 5's header", length: { $0[5] + 15 }, code: .truncated, frameIndex: 5),
        PcapCut(name: "inside record 5's data", length: { $0[5] + 16 + 20 }, code: .truncated, frameIndex: 5),
        PcapCut(name: "one byte short of the last record", length: { $0[$0.count - 1] - 1 }, code: .truncated, frameIndex: 13),
    ]

    @Test("a pcap cut short is truncated at the right frame and offset", arguments: Self.pcapCuts)
    func cutPcap(cut: PcapCut) throws {
        let whole = try [UInt8](Data(contentsOf: Fixtures.url("http11-get-simple.pcap")))
        let full = try PcapFile(bytes: whole)
        #expect(full.records.count == 14)
        // Offsets of every record, and the end of the file.
        var offsets = [24]
        for record in full.records { offsets.append(offsets[offsets.count - 1] + 16 + record.bytes.count) }
        let length = cut.length(offsets)

        let directory = try TemporaryDirectory()
        let path = try directory.write(Array(whole[..<length]), named: "cut.pcap")
        let (frames, error) = readUntilError(path)
        let failure = try #require(error)
        #expect(failure.code == cut.code)
        #expect(failure.frameIndex == cut.frameIndex)
        #expect(frames == Array(full.records.prefix(cut.frameIndex ?? 0)))
        if let index = cut.frameIndex {
            #expect(failure.byteOffset == offsets[index])
            #expect(failure.description.hasPrefix("\(path): truncated at frame \(index) (byte offset \(offsets[index])): tried to read"))
        } else {
            #expect(failure.description.hasPrefix("\(path): truncated: in the file header"))
        }
        // The pure reader stops at the same record.
        let pureError = #expect(throws: PcapFileError.self) { try PcapFile(bytes: Array(whole[..<length])) }
        #expect(pureError?.code == .truncated)
        #expect(pureError?.recordIndex == cut.frameIndex)
    }

    @Test("a pcap cut at a record boundary is a shorter capture, not an error")
    func cutPcapAtBoundary() throws {
        let whole = try [UInt8](Data(contentsOf: Fixtures.url("http11-get-simple.pcap")))
        let full = try PcapFile(bytes: whole)
        let length = 24 + full.records.prefix(3).reduce(0) { $0 + 16 + $1.bytes.count }
        let directory = try TemporaryDirectory()
        let path = try directory.write(Array(whole[..<length]), named: "three.pcap")
        #expect(try readWithLibpcap(path).frames == Array(full.records.prefix(3)))
    }

    @Test("records longer than the snapshot length are cut to it, and later offsets stay right")
    func longerThanSnapshot() throws {
        let records = sampleFrames(count: 6)  // 52, 59, 66, 73, 80 and 87 bytes
        var writer = PcapWriter(snapshotLength: 64)
        writer.append(contentsOf: records)
        let directory = try TemporaryDirectory()
        let whole = try directory.write(writer.bytes, named: "snap64.pcap")
        let capture = try readWithLibpcap(whole)
        #expect(capture.snapshotLength == 64)
        #expect(capture.frames.map(\.bytes) == records.map { Array($0.bytes.prefix(64)) })
        #expect(capture.frames.map(\.originalLength) == records.map(\.originalLength))

        var offsets = [24]
        for record in records { offsets.append(offsets[offsets.count - 1] + 16 + record.bytes.count) }
        for index in [1, 3, 5] {
            let path = try directory.write(Array(writer.bytes[..<(offsets[index] + 20)]), named: "cut-\(index).pcap")
            let failure = try #require(readUntilError(path).error)
            #expect(failure.frameIndex == index)
            #expect(failure.byteOffset == offsets[index])
        }
    }

    @Test("a pcapng cut short fails at the frame the pure reader fails at")
    func cutPcapng() throws {
        let whole = try [UInt8](Data(contentsOf: Fixtures.url("http-irc-srcport-missing-syn.pcapng")))
        let full = try PcapFile(bytes: whole)
        // Block offsets, walking the little-endian total lengths.
        var blocks: [Int] = []
        var offset = 0
        while offset < whole.count {
            blocks.append(offset)
            offset += Int(whole[offset + 4]) | Int(whole[offset + 5]) << 8 | Int(whole[offset + 6]) << 16 | Int(whole[offset + 7]) << 24
        }
        #expect(blocks.count == 2 + full.records.count)  // SHB, IDB, one EPB per frame
        let packetBlocks = Array(blocks.dropFirst(2))
        let directory = try TemporaryDirectory()

        // Inside the SHB or the first IDB, libpcap fails while opening.
        for length in [11, 12, 20, blocks[1] + 4, blocks[1] + 10] {
            let path = try directory.write(Array(whole[..<length]), named: "cut-\(length).pcapng")
            let (_, error) = readUntilError(path)
            let failure = try #require(error, "cut at \(length)")
            #expect([.notACapture, .truncated].contains(failure.code), "cut at \(length): \(failure)")
            #expect(failure.frameIndex == nil, "cut at \(length)")
        }
        // Inside a packet block: its header, its data, its trailer.
        for index in [0, 6, full.records.count - 1] {
            let block = packetBlocks[index]
            let end = index + 1 < packetBlocks.count ? packetBlocks[index + 1] : whole.count
            for length in [block + 4, block + 8 + 10, block + 30, end - 2] {
                let path = try directory.write(Array(whole[..<length]), named: "cut-\(length).pcapng")
                let (frames, error) = readUntilError(path)
                let failure = try #require(error, "cut at \(length)")
                #expect(failure.code == .truncated, "cut at \(length): \(failure)")
                #expect(failure.frameIndex == index, "cut at \(length)")
                #expect(failure.byteOffset == block, "cut at \(length)")
                #expect(frames.count == index)
                let pureError = #expect(throws: PcapFileError.self) { try PcapFile(bytes: Array(whole[..<length])) }
                #expect(pureError?.recordIndex == index)
                #expect(pureError?.byteOffset == block)
            }
        }
    }

    @Test("after an error every later read throws it again")
    func errorIsSticky() throws {
        let whole = try [UInt8](Data(contentsOf: Fixtures.url("http11-get-simple.pcap")))
        let directory = try TemporaryDirectory()
        // Frame 0 is 78 bytes at offset 24; cut 20 bytes into frame 1's data.
        let path = try directory.write(Array(whole[..<(24 + 16 + 78 + 16 + 20)]), named: "cut.pcap")
        var reader = try CaptureFileReader(path: path)
        #expect(try reader.next { $0.bytes.count } == 78)
        let first = #expect(throws: CaptureError.self) { try reader.next { _ in () } }
        let second = #expect(throws: CaptureError.self) { try reader.next { _ in () } }
        #expect(first?.frameIndex == 1)
        #expect(second?.frameIndex == 1)
        #expect(reader.framesRead == 1)
    }

    @Test("frames point into libpcap's buffer and carry the file's link type")
    func frameFields() throws {
        var reader = try CaptureFileReader(path: Fixtures.path("http-large-body-2600k-sll2.pcap"))
        #expect(reader.linkType == .linuxSLL2)
        var largest = 0
        while let size = try reader.next({ frame -> Int in
            #expect(frame.linkType == .linuxSLL2)
            #expect(frame.bytes.count <= frame.originalLength)
            return frame.bytes.count
        }) {
            largest = max(largest, size)
        }
        #expect(largest == 65_232)
        #expect(reader.framesRead == 159)
    }

    @Test("nanosecond files keep their nanoseconds")
    func nanosecondFixture() throws {
        var reader = try CaptureFileReader(path: Fixtures.path("pcap-nanosec-http-to-ssh-port.pcap"))
        // Stored as seconds 1770126425 and 732560000 ns: read as µs, it would be 732 s later.
        #expect(try reader.next { $0.timestampNanoseconds } == 1_770_126_425_732_560_000)
        let pure = try PcapFile(path: Fixtures.path("pcap-nanosec-http-to-ssh-port.pcap"))
        #expect(pure.interfaces[0].timestampTicksPerSecond == 1_000_000_000)
        #expect(pure.records[0].timestampNanoseconds == 1_770_126_425_732_560_000)
    }
}

extension Tag {
    @Tag static var fixtures: Self
    @Tag static var tools: Self
}

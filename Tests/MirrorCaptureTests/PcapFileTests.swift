// vpcmirror: the pure-Swift pcap/pcapng reader: round trips, every truncation length, malformed input, fuzzing.
import Foundation
import MirrorTestSupport
import MirrorWire
import Testing

@Suite struct PcapFileTests {
    // MARK: - Round trips

    @Test(
        "PcapWriter output reads back",
        arguments: [PcapWriter.TimestampResolution.microseconds, .nanoseconds],
        [PcapWriter.ByteOrder.littleEndian, .bigEndian]
    )
    func roundTrip(resolution: PcapWriter.TimestampResolution, byteOrder: PcapWriter.ByteOrder) throws {
        var records = sampleFrames(count: 6, linkType: .linuxSLL2)
        records[2].originalLength = records[2].bytes.count + 100  // a cut frame
        records[3].bytes = []  // an empty one
        records[3].originalLength = 0
        let bytes = PcapWriter.encode(records, linkType: .linuxSLL2, resolution: resolution, byteOrder: byteOrder)
        let file = try PcapFile(bytes: bytes)
        #expect(file.format == .pcap)
        #expect(file.isBigEndian == (byteOrder == .bigEndian))
        #expect(file.linkType == .linuxSLL2)
        #expect(file.snapshotLength == 262_144)
        #expect(file.interfaces[0].timestampTicksPerSecond == (resolution == .microseconds ? 1_000_000 : 1_000_000_000))
        let expected = records.map { record in
            var record = record
            if resolution == .microseconds { record.timestampNanoseconds -= record.timestampNanoseconds % 1_000 }
            return record
        }
        #expect(file.records == expected)
    }

    @Test("a header-only pcap has no records")
    func headerOnly() throws {
        let file = try PcapFile(bytes: PcapWriter(linkType: .raw).bytes)
        #expect(file.records.isEmpty)
        #expect(file.linkType == .raw)
    }

    @Test("the big-endian fixture is read as big-endian")
    func bigEndianFixture() throws {
        let file = try PcapFile(path: Fixtures.path("pcap-bigendian-pptp-gre.pcap"))
        #expect(file.isBigEndian)
        #expect(file.records.count == 23)
        #expect(file.snapshotLength == 65_535)
    }

    @Test("pcapng fixtures: interfaces and their resolutions")
    func pcapngFixtures() throws {
        let merged = try PcapFile(path: Fixtures.path("ldap-126-interfaces.pcapng"))
        #expect(merged.format == .pcapng)
        #expect(merged.interfaces.count == 126)
        #expect(Set(merged.interfaces.map(\.timestampTicksPerSecond)) == [1_000_000, 1_000_000_000])
        #expect(Set(merged.interfaces.map(\.linkType)) == [.ethernet, .linuxSLL, LinkType(rawValue: 274)])
        #expect(merged.records.count == 17)
        #expect(merged.records.allSatisfy { $0.interfaceIndex == 48 && $0.linkType == .ethernet })
        let chunked = try PcapFile(path: Fixtures.path("http-chunked-3conns.pcapng"))
        #expect(chunked.interfaces.map(\.timestampTicksPerSecond) == [1_000_000_000])
        #expect(chunked.records.count == 64)
    }

    @Test("a pcapng section may switch byte order")
    func sectionsInBothByteOrders() throws {
        let frames = sampleFrames(count: 2).map(\.bytes)
        var little = PcapngBytes(isBigEndian: false)
        little.sectionHeader()
        little.interface(linkType: .ethernet)
        little.enhancedPacket(ticks: 5_000_001, frame: frames[0])
        var big = PcapngBytes(isBigEndian: true)
        big.sectionHeader()
        big.interface(linkType: .raw)
        big.interface(linkType: .ethernet, timestampResolution: 9)
        big.enhancedPacket(interface: 1, ticks: 7, frame: frames[1])
        let file = try PcapFile(bytes: little.bytes + big.bytes)
        #expect(!file.isBigEndian)
        #expect(file.interfaces.map(\.linkType) == [.ethernet, .raw, .ethernet])
        #expect(file.records.map(\.timestampNanoseconds) == [5_000_001_000, 7])
        #expect(file.records.map(\.interfaceIndex) == [0, 1])
        #expect(file.records.map(\.bytes) == frames)
    }

    /// (if_tsresol, ticks, nanoseconds).
    static let resolutionCases: [(UInt8, UInt64, Int64)] = [
        (6, 1_500_000, 1_500_000_000),
        (9, 1_234_567_890_123, 1_234_567_890_123),
        (12, 1_000_000_000_999, 1_000_000_000),  // ps: rounded down
        (0, 3, 3_000_000_000),  // whole seconds
        (0x80 | 1, 3, 1_500_000_000),  // half seconds
        (0x80 | 40, 1 << 40 | 1, 1_000_000_000),  // 2^-40 s: 0.9 ps rounds down to 0
        (0x80 | 63, 1 << 63 | 1 << 62, 1_500_000_000),
        (19, UInt64.max, 1_844_674_407),  // 1.8446744073709551615 s
    ]

    @Test("timestamps convert exactly at every resolution", arguments: Self.resolutionCases)
    func timestampResolutions(resolution: UInt8, ticks: UInt64, nanoseconds: Int64) throws {
        var file = PcapngBytes()
        file.sectionHeader()
        file.interface(timestampResolution: resolution)
        file.enhancedPacket(ticks: ticks, frame: [1, 2, 3])
        #expect(try PcapFile(bytes: file.bytes).records.map(\.timestampNanoseconds) == [nanoseconds])
    }

    // MARK: - Truncation

    @Test("every truncation of a small pcap and a small pcapng gives a prefix of the records or throws", arguments: [
        "tcp-overlap-partial.pcap", "pcap-bigendian-pptp-gre.pcap", "pcap-nanosec-http-to-ssh-port.pcap",
        "http-irc-srcport-missing-syn.pcapng",
    ])
    func everyTruncation(fixture: String) throws {
        let whole = try [UInt8](Data(contentsOf: Fixtures.url(fixture)))
        let full = try PcapFile(bytes: whole).records
        var parsed = 0
        for length in 0..<whole.count {
            do {
                let records = try PcapFile(bytes: Array(whole[..<length])).records
                #expect(Array(full.prefix(records.count)) == records, "cut at \(length)")
                parsed += 1
            } catch {
                #expect(error.code == .truncated || (error.code == .malformed && fixture.hasSuffix(".pcapng")), "cut at \(length): \(error)")
                #expect(error.byteOffset <= length)
                #expect((error.recordIndex ?? 0) <= full.count)
            }
        }
        // Only the cuts at record boundaries parse: after the file header (pcap) or the IDB (pcapng), and
        // after every record but the last.
        #expect(parsed == full.count)
    }

    @Test("every truncation of a synthetic pcapng with every block kind, in both byte orders", arguments: [false, true])
    func everyTruncationOfSyntheticPcapng(bigEndian: Bool) throws {
        var file = PcapngBytes(isBigEndian: bigEndian)
        file.sectionHeader()
        file.interface(snapshotLength: 0, timestampResolution: 0x80 | 10, timestampOffsetSeconds: -5)
        file.enhancedPacket(ticks: 1 << 40, frame: Array(0..<61))
        file.block(type: 4, body: [0, 0, 0, 0])  // name resolution
        file.simplePacket(frame: [9, 8, 7])
        file.obsoletePacket(ticks: 99, frame: [1])
        file.sectionHeader()
        file.interface(linkType: .ipv6, timestampResolution: 9)
        file.enhancedPacket(ticks: 42, frame: [6, 0])
        let whole = file.bytes
        let full = try PcapFile(bytes: whole).records
        #expect(full.count == 4)
        for length in 0..<whole.count {
            do {
                let records = try PcapFile(bytes: Array(whole[..<length])).records
                #expect(Array(full.prefix(records.count)) == records, "cut at \(length)")
            } catch {
                #expect(error.byteOffset <= length, "cut at \(length): \(error)")
            }
        }
    }

    // MARK: - Malformed input

    @Test("named rejections")
    func rejections() throws {
        func failure(_ bytes: [UInt8]) -> PcapFileError? {
            #expect(throws: PcapFileError.self) { try PcapFile(bytes: bytes) }
        }
        let frames = sampleFrames(count: 1).map(\.bytes)

        #expect(failure(Array("hello, world".utf8))?.code == .notACapture)
        #expect(failure([0x34, 0xCD, 0xB2, 0xA1] + [UInt8](repeating: 0, count: 20))?.code == .unsupported)
        var version = PcapWriter().bytes
        version[4] = 3  // pcap 3.4
        #expect(failure(version)?.code == .unsupported)

        var valid = PcapngBytes()
        valid.sectionHeader()
        valid.interface()
        valid.enhancedPacket(ticks: 0, frame: frames[0])
        #expect(try PcapFile(bytes: valid.bytes).records.count == 1)

        var noInterface = PcapngBytes()
        noInterface.sectionHeader()
        #expect(failure(noInterface.bytes)?.code == .malformed)

        var packetFirst = PcapngBytes()
        packetFirst.sectionHeader()
        packetFirst.enhancedPacket(ticks: 0, frame: frames[0])
        packetFirst.interface()
        #expect(failure(packetFirst.bytes) == PcapFileError(code: .malformed, byteOffset: 28, recordIndex: 0))

        var unknownInterface = PcapngBytes()
        unknownInterface.sectionHeader()
        unknownInterface.interface()
        unknownInterface.enhancedPacket(interface: 1, ticks: 0, frame: frames[0])
        #expect(failure(unknownInterface.bytes)?.code == .malformed)

        var badTrailer = valid.bytes
        badTrailer[badTrailer.count - 1] ^= 0xFF
        #expect(failure(badTrailer)?.code == .malformed)

        var oddLength = valid.bytes
        oddLength[4] = 29  // SHB length not a multiple of 4
        #expect(failure(oddLength)?.code == .malformed)

        var majorTwo = PcapngBytes()
        majorTwo.sectionHeader(major: 2)
        #expect(failure(majorTwo.bytes)?.code == .unsupported)

        var badOrder = valid.bytes
        badOrder[8] = 0
        #expect(failure(badOrder)?.code == .notACapture)

        var hugeResolution = PcapngBytes()
        hugeResolution.sectionHeader()
        hugeResolution.interface(timestampResolution: 20)
        #expect(failure(hugeResolution.bytes)?.code == .malformed)

        var overflowingTime = PcapngBytes()
        overflowingTime.sectionHeader()
        overflowingTime.interface(timestampResolution: 0)  // seconds
        overflowingTime.enhancedPacket(ticks: 1 << 40, frame: frames[0])
        #expect(failure(overflowingTime.bytes)?.code == .malformed)

        // A captured length that runs past the block: patch the EPB's caplen (after SHB 28 and IDB).
        var overrun = valid.bytes
        let epb = 28 + Int(overrun[32]) | Int(overrun[33]) << 8
        overrun[epb + 20] = 0xFF
        #expect(failure(overrun) == PcapFileError(code: .malformed, byteOffset: epb, recordIndex: 0))

        var classic = PcapWriter()
        classic.append(frames[0])
        var longRecord = classic.bytes
        longRecord[24 + 8] = 0xFF  // caplen beyond the end of the file
        #expect(failure(longRecord) == PcapFileError(code: .truncated, byteOffset: 24, recordIndex: 0))
    }

    @Test("old pcap versions store caplen and len the other way round")
    func swappedLengths() throws {
        var writer = PcapWriter()
        writer.append([1, 2, 3], originalLength: 60)
        var bytes = writer.bytes
        bytes[6] = 2  // version 2.2
        // Swap the two length fields of the record, as libpcap before 2.3 wrote them.
        let record = 24 + 8
        let captured = Array(bytes[record..<record + 4])
        bytes.replaceSubrange(record..<record + 4, with: bytes[record + 4..<record + 8])
        bytes.replaceSubrange(record + 4..<record + 8, with: captured)
        let file = try PcapFile(bytes: bytes)
        #expect(file.records.map(\.bytes) == [[1, 2, 3]])
        #expect(file.records.map(\.originalLength) == [60])
    }

    // MARK: - One record at a time

    @Test("PcapRecordReader returns PcapFile's records and interfaces, one at a time", .tags(.fixtures), arguments: Fixtures.all)
    func recordReaderAgrees(fixture: String) throws {
        let whole = try [UInt8](Data(contentsOf: Fixtures.url(fixture)))
        let file = try PcapFile(bytes: whole)
        var reader = try PcapRecordReader(bytes: whole)
        #expect(reader.format == file.format)
        #expect(reader.isBigEndian == file.isBigEndian)
        var records: [PcapRecord] = []
        while let record = try reader.next() {
            records.append(record)
            #expect(reader.recordsRead == records.count)
        }
        #expect(records == file.records)
        #expect(reader.interfaces == file.interfaces)
        #expect(try reader.next() == nil)
    }

    @Test("PcapRecordReader gives the records before a cut, then PcapFile's error, and that error again", arguments: [
        "tcp-overlap-partial.pcap", "http-irc-srcport-missing-syn.pcapng",
    ])
    func recordReaderCut(fixture: String) throws {
        let whole = try [UInt8](Data(contentsOf: Fixtures.url(fixture)))
        let full = try PcapFile(bytes: whole).records
        for length in stride(from: 0, to: whole.count, by: 7) {
            let bytes = Array(whole[..<length])
            let expected: PcapFileError
            do {
                _ = try PcapFile(bytes: bytes)
                continue  // a cut at a record boundary: the test above covers it
            } catch {
                expected = error
            }
            var records: [PcapRecord] = []
            do {
                var reader = try PcapRecordReader(bytes: bytes)
                do {
                    while let record = try reader.next() { records.append(record) }
                    Issue.record("cut at \(length): no error")
                } catch {
                    #expect(error == expected, "cut at \(length)")
                    #expect(throws: expected) { try reader.next() }
                }
            } catch {
                // Inside the file header or the first Section Header Block.
                #expect(error == expected, "cut at \(length)")
            }
            #expect(records == Array(full.prefix(records.count)), "cut at \(length)")
            #expect(records.count == (expected.recordIndex ?? 0), "cut at \(length)")
        }
    }

    // MARK: - Fuzzing

    /// `VPCMIRROR_FUZZ_ITERATIONS` raises the count for a longer local run.
    static let mutationCount = ProcessInfo.processInfo.environment["VPCMIRROR_FUZZ_ITERATIONS"].flatMap { Int($0) } ?? 600

    @Test("random mutations of real captures parse or throw, and never crash", arguments: [
        "tcp-overlap-exact-conflict.pcap", "http-irc-srcport-missing-syn.pcapng", "pcap-bigendian-pptp-gre.pcap",
    ])
    func mutations(fixture: String) throws {
        let whole = try [UInt8](Data(contentsOf: Fixtures.url(fixture)))
        var random = SeededGenerator(seed: 0x5EED_0000 ^ UInt64(whole.count))
        var outcomes = (parsed: 0, rejected: 0)
        for _ in 0..<Self.mutationCount {
            var bytes = whole
            for _ in 0..<Int.random(in: 1...8, using: &random) {
                let index = Int.random(in: 0..<bytes.count, using: &random)
                switch Int.random(in: 0..<4, using: &random) {
                case 0: bytes[index] = UInt8.random(in: 0...255, using: &random)
                case 1: bytes[index] ^= 1 << UInt8.random(in: 0..<8, using: &random)
                case 2: bytes[index] = [0x00, 0xFF, 0x7F, 0x80][Int.random(in: 0..<4, using: &random)]
                default: bytes.removeSubrange(index..<min(bytes.count, index + Int.random(in: 1...16, using: &random)))
                }
                if bytes.isEmpty { break }
            }
            do {
                _ = try PcapFile(bytes: bytes)
                outcomes.parsed += 1
            } catch {
                outcomes.rejected += 1
            }
        }
        #expect(outcomes.parsed + outcomes.rejected == Self.mutationCount)
    }
}

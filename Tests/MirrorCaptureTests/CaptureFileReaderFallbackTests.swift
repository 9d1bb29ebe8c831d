// vpcmirror: CaptureFileReader's pure-Swift fallback for valid pcapng files libpcap refuses (interfaces that differ).
import Foundation
import MirrorCapture
import MirrorTestSupport
import MirrorWire
import Testing

@Suite struct CaptureFileReaderFallbackTests {
    /// Valid pcapng layouts that libpcap 1.10 refuses at the first frame after the second interface's block.
    enum Layout: String, CaseIterable, Sendable, CustomTestStringConvertible {
        /// Ethernet and raw-IP interfaces, both described before the first frame.
        case ethernetAndRawIP
        /// The raw-IP interface is described after two Ethernet frames, which libpcap hands out itself.
        case rawIPInterfaceAfterFrames
        /// Two Ethernet interfaces with different snapshot lengths (as in the merged ldap fixture).
        case differentSnapshotLengths
        /// Two raw-IP interfaces alike in everything: libpcap 1.10 compares the first one's DLT (12) with the
        /// second one's LINKTYPE (101).
        case twoRawIPInterfaces

        var testDescription: String { self.rawValue }
    }

    /// A file with six UDP frames, source ports 40000 to 40005, in both link types as the layout says.
    struct Built {
        var bytes: [UInt8]
        /// Where each packet block starts.
        var packetBlockOffsets: [Int]
        /// Whether each frame is on an Ethernet interface (else raw IP).
        var isEthernet: [Bool]
    }

    static func build(_ layout: Layout, bigEndian: Bool = false) -> Built {
        let records = sampleFrames(count: 6)
        var file = PcapngBytes(isBigEndian: bigEndian)
        var offsets: [Int] = []
        var ethernet: [Bool] = []
        func packet(_ k: Int, interface: UInt32, isEthernet: Bool) {
            offsets.append(file.bytes.count)
            ethernet.append(isEthernet)
            // The same IPv4 packet, with or without its 14-byte Ethernet header.
            let frame = isEthernet ? records[k].bytes : Array(records[k].bytes.dropFirst(14))
            file.enhancedPacket(interface: interface, ticks: UInt64(records[k].timestampNanoseconds / 1_000), frame: frame)
        }
        file.sectionHeader()
        switch layout {
        case .ethernetAndRawIP:
            file.interface(linkType: .ethernet)
            file.interface(linkType: .raw)
            for k in 0..<6 { packet(k, interface: UInt32(k % 2), isEthernet: k % 2 == 0) }
        case .rawIPInterfaceAfterFrames:
            file.interface(linkType: .ethernet)
            packet(0, interface: 0, isEthernet: true)
            packet(1, interface: 0, isEthernet: true)
            file.interface(linkType: .raw)
            for k in 2..<6 { packet(k, interface: UInt32(k % 2), isEthernet: k % 2 == 0) }
        case .differentSnapshotLengths:
            file.interface(linkType: .ethernet, snapshotLength: 262_144)
            file.interface(linkType: .ethernet, snapshotLength: 8_192)
            for k in 0..<6 { packet(k, interface: UInt32(k % 2), isEthernet: true) }
        case .twoRawIPInterfaces:
            file.interface(linkType: .raw)
            file.interface(linkType: .raw)
            for k in 0..<6 { packet(k, interface: UInt32(k % 2), isEthernet: false) }
        }
        return Built(bytes: file.bytes, packetBlockOffsets: offsets, isEthernet: ethernet)
    }

    // MARK: - Valid files

    @Test(
        "pcapng files whose interfaces differ read whole, each frame with its own link type",
        arguments: Layout.allCases, [false, true]
    )
    func readsWhole(layout: Layout, bigEndian: Bool) throws {
        let built = Self.build(layout, bigEndian: bigEndian)
        let directory = try TemporaryDirectory()
        let path = try directory.write(built.bytes, named: "\(layout).pcapng")
        let pure = try PcapFile(bytes: built.bytes)
        #expect(pure.records.count == 6)

        let capture = try readWithLibpcap(path)
        #expect(capture.usedFallback, "libpcap 1.10 refuses this file part-way")
        CaptureFileReaderTests.expectSameFrames(libpcap: capture, pure: pure)
        #expect(capture.frames.map { $0.linkType == .ethernet } == built.isEthernet)
        for (index, frame) in capture.frames.enumerated() where !built.isEthernet[index] {
            // LINKTYPE_RAW from the file, as the DLT libpcap reports for raw IP.
            #expect([LinkType.rawDLT12, .rawDLT14].contains(frame.linkType), "frame \(index): \(frame.linkType)")
        }
        // Each frame decodes with its own link type to the packet that was written.
        for (index, frame) in capture.frames.enumerated() {
            let summary = try frame.bytes.withUnsafeBytes { bytes throws(WireError) in
                try PacketSummary(decoding: bytes, linkType: frame.linkType)
            }
            #expect(summary.sourcePort == 40_000 + UInt16(index), "frame \(index)")
            #expect(summary.hasEthernetHeader == built.isEthernet[index], "frame \(index)")
        }
    }

    @Test("frames on an interface whose link type we cannot decode are still handed out, with that link type")
    func unsupportedInterface() throws {
        let user0 = LinkType(rawValue: 147)
        let frames = sampleFrames(count: 4).map(\.bytes)
        var file = PcapngBytes()
        file.sectionHeader()
        file.interface(linkType: .ethernet)
        file.interface(linkType: user0)
        for (index, frame) in frames.enumerated() {
            file.enhancedPacket(interface: UInt32(index % 2), ticks: 1_000 + UInt64(index), frame: frame)
        }
        let directory = try TemporaryDirectory()
        let capture = try readWithLibpcap(try directory.write(file.bytes, named: "user0.pcapng"))
        #expect(capture.usedFallback)
        #expect(capture.linkType == .ethernet)
        #expect(capture.frames.map(\.linkType) == [.ethernet, user0, .ethernet, user0])
        #expect(capture.frames.map(\.bytes) == frames)
    }

    @Test("the merged ldap fixture reads whole: 17 Ethernet frames, through the fallback")
    func mergedFixture() throws {
        let path = Fixtures.path("ldap-126-interfaces.pcapng")
        let pure = try PcapFile(path: path)
        #expect(pure.interfaces.count == 126)
        var reader = try CaptureFileReader(path: path)
        #expect(reader.linkType == .ethernet)
        #expect(reader.snapshotLength == pure.snapshotLength)
        var linkTypes: [LinkType] = []
        while let linkType = try reader.next(\.linkType) {
            linkTypes.append(linkType)
        }
        #expect(reader.usesPureSwiftFallback == true)
        #expect(reader.framesRead == 17)
        #expect(linkTypes == Array(repeating: .ethernet, count: 17))
        #expect(try reader.next { _ in () } == nil)
    }

    // MARK: - Errors after the switch

    @Test("a file cut short after the switch gives the frames before the cut, then truncated at the cut", arguments: Layout.allCases)
    func cutAfterSwitch(layout: Layout) throws {
        let built = Self.build(layout)
        let directory = try TemporaryDirectory()
        for index in 2..<6 {
            let block = built.packetBlockOffsets[index]
            let end = index + 1 < built.packetBlockOffsets.count ? built.packetBlockOffsets[index + 1] : built.bytes.count
            for length in [block + 4, block + 8 + 10, end - 2] {
                let path = try directory.write(Array(built.bytes[..<length]), named: "cut-\(length).pcapng")
                let (frames, error) = readUntilError(path)
                let failure = try #require(error, "cut at \(length)")
                #expect(failure.code == .truncated, "cut at \(length): \(failure)")
                #expect(failure.frameIndex == index, "cut at \(length)")
                #expect(failure.byteOffset == block, "cut at \(length)")
                #expect(frames.count == index, "cut at \(length)")
            }
        }
    }

    @Test("garbage after the switch is readFailed at its frame and block, and every later read throws it again")
    func garbageAfterSwitch() throws {
        let built = Self.build(.ethernetAndRawIP)
        let directory = try TemporaryDirectory()
        func littleEndian(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }

        // Block 3's trailer no longer matches its header; block 4 names an interface the section lacks.
        var badTrailer = built.bytes
        let end3 = built.packetBlockOffsets[4]
        badTrailer.replaceSubrange((end3 - 4)..<end3, with: littleEndian(12))
        var badInterface = built.bytes
        let block4 = built.packetBlockOffsets[4]
        badInterface.replaceSubrange((block4 + 8)..<(block4 + 12), with: littleEndian(7))

        for (bytes, index, name) in [(badTrailer, 3, "trailer"), (badInterface, 4, "interface")] {
            let path = try directory.write(bytes, named: "\(name).pcapng")
            var reader = try CaptureFileReader(path: path)
            for _ in 0..<index {
                #expect(try reader.next { _ in () } != nil, "\(name)")
            }
            let first = #expect(throws: CaptureError.self) { try reader.next { _ in () } }
            let second = #expect(throws: CaptureError.self) { try reader.next { _ in () } }
            #expect(first?.code == .readFailed, "\(name): \(String(describing: first))")
            #expect(first?.frameIndex == index, "\(name)")
            #expect(first?.byteOffset == built.packetBlockOffsets[index], "\(name)")
            #expect(second?.frameIndex == index, "\(name)")
            #expect(second?.code == .readFailed, "\(name)")
            #expect(reader.framesRead == index)
        }
    }

    @Test("the fallback reads at most fallbackByteLimit bytes into memory")
    func byteLimit() throws {
        let path = Fixtures.path("ldap-126-interfaces.pcapng")
        let byteCount = try [UInt8](Data(contentsOf: Fixtures.url("ldap-126-interfaces.pcapng"))).count

        var limited = try CaptureFileReader(path: path, fallbackByteLimit: byteCount - 1)
        let error = #expect(throws: CaptureError.self) { try limited.next { _ in () } }
        #expect(error?.code == .readFailed)
        #expect(error?.frameIndex == 0)
        #expect(error?.byteOffset != nil)
        #expect(error?.detail.contains("\(byteCount) bytes") == true, "\(String(describing: error))")
        #expect(error?.detail.contains("\(byteCount - 1)-byte limit") == true, "\(String(describing: error))")
        // libpcap's own words say why the fallback was needed.
        #expect(error?.detail.contains("different from the snapshot length of the first interface") == true)
        #expect(limited.usesPureSwiftFallback == false)
        #expect(limited.framesRead == 0)

        var exact = try CaptureFileReader(path: path, fallbackByteLimit: byteCount)
        while try exact.next({ _ in () }) != nil {}
        #expect(exact.framesRead == 17)
        #expect(CaptureFileReader.defaultFallbackByteLimit == 1 << 30)
    }
}

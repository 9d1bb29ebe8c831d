// vpcmirror: the mapped pcap reader gives libpcap's frames, and stops where libpcap has rules of its own.
import Foundation
import MirrorCapture
import MirrorTestSupport
import MirrorWire
import Testing

@Suite struct MappedPcapFileTests {
    struct Frame: Equatable {
        var bytes: [UInt8]
        var originalLength: Int
        var timestamp: Int64
        var linkType: LinkType
    }

    /// Frames through libpcap, and through the map until it ends or hands over (and where).
    static func both(_ path: String) throws -> (libpcap: [Frame], mapped: [Frame]?, irregularAt: Int?) {
        var reader = try CaptureFileReader(path: path)
        var libpcap: [Frame] = []
        while let f = try reader.next({
            Frame(bytes: Array($0.bytes), originalLength: $0.originalLength, timestamp: $0.timestampNanoseconds,
                  linkType: $0.linkType)
        }) {
            libpcap.append(f)
        }
        guard var map = MappedPcapFile.open(path: path, linkType: reader.linkType, snapshotLength: reader.snapshotLength)
        else { return (libpcap, nil, nil) }
        var mapped: [Frame] = []
        map.releaseStep = 4096  // dropped as often as there are whole pages behind
        while true {
            switch map.next() {
            case .frame(let f):
                mapped.append(
                    Frame(bytes: Array(f.bytes), originalLength: f.originalLength, timestamp: f.timestampNanoseconds,
                          linkType: f.linkType))
                if mapped.count % 64 == 0 { map.release(below: map.nextRecordOffset) }
            case .endOfFile:
                return (libpcap, mapped, nil)
            case .irregular:
                return (libpcap, mapped, map.framesRead)
            }
        }
    }

    @Test("every classic pcap fixture: the same frames as libpcap", .tags(.fixtures), arguments: Fixtures.all)
    func fixtures(fixture: String) throws {
        let (libpcap, mapped, irregular) = try Self.both(Fixtures.path(fixture))
        if fixture.hasSuffix(".pcapng") {
            #expect(mapped == nil, "pcapng is not mapped")
            return
        }
        let frames = try #require(mapped, "classic pcap is mapped")
        #expect(irregular == nil)
        #expect(frames.count == libpcap.count)
        #expect(frames == libpcap)
    }

    /// A pcap file from raw records: (seconds, fraction, captured bytes, original length).
    static func file(magic: UInt32, bigEndian: Bool, snapshotLength: UInt32, records: [(UInt32, UInt32, [UInt8], UInt32)])
        -> [UInt8]
    {
        func word(_ v: UInt32) -> [UInt8] {
            let b = [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)]
            return bigEndian ? b.reversed() : b
        }
        func half(_ v: UInt16) -> [UInt8] {
            let b = [UInt8(v & 0xFF), UInt8(v >> 8)]
            return bigEndian ? b.reversed() : b
        }
        var out = word(magic) + half(2) + half(4) + word(0) + word(0) + word(snapshotLength) + word(1)
        for (s, f, bytes, original) in records {
            out += word(s) + word(f) + word(UInt32(bytes.count)) + word(original) + bytes
        }
        return out
    }

    static let frame = PacketBuilder().tcp(
        source: IPAddress("10.0.0.1")!, sourcePort: 1234, destination: IPAddress("10.0.0.2")!, destinationPort: 80,
        flags: .ack, payload: Array("GET / HTTP/1.1\r\n\r\n".utf8))

    @Test("odd timestamps, both byte orders, µs and ns: as libpcap widens and scales them",
          arguments: [(0xA1B2_C3D4 as UInt32, false), (0xA1B2_C3D4, true), (0xA1B2_3C4D, false), (0xA1B2_3C4D, true)])
    func timestamps(magic: UInt32, bigEndian: Bool) throws {
        let directory = try TemporaryDirectory()
        let records: [(UInt32, UInt32, [UInt8], UInt32)] = [
            (0, 0, Self.frame, UInt32(Self.frame.count)),
            (0x7FFF_FFFF, 999_999, Self.frame, 9000),
            (0x8000_0000, 1_500_000, Self.frame, UInt32(Self.frame.count)),
            (0xFFFF_FFFF, 0xFFFF_FFFF, Array(Self.frame.prefix(20)), 20),
            (1_700_000_000, 123, [], 0),
        ]
        let path = try directory.write(
            Self.file(magic: magic, bigEndian: bigEndian, snapshotLength: 65535, records: records), named: "odd.pcap")
        let (libpcap, mapped, irregular) = try Self.both(path)
        #expect(irregular == nil)
        #expect(libpcap.count == records.count)
        #expect(mapped == libpcap)
    }

    @Test("a record over the snapshot length, or cut off by the end, is left to libpcap at its index")
    func irregular() throws {
        let directory = try TemporaryDirectory()
        let long = Self.frame + [UInt8](repeating: 0xAB, count: 200)
        let overSnapshot = Self.file(
            magic: 0xA1B2_C3D4, bigEndian: false, snapshotLength: UInt32(Self.frame.count + 10),
            records: [(1, 0, Self.frame, 0), (2, 0, long, 0), (3, 0, Self.frame, 0)])
        var (libpcap, mapped, at) = try Self.both(try directory.write(overSnapshot, named: "over.pcap"))
        #expect(at == 1)
        #expect(mapped == Array(libpcap.prefix(1)))

        let whole = Self.file(
            magic: 0xA1B2_C3D4, bigEndian: false, snapshotLength: 65535,
            records: [(1, 0, Self.frame, 0), (2, 0, Self.frame, 0)])
        for cut in [1, 10, 16, 17, Self.frame.count + 15] {
            let path = try directory.write(Array(whole.dropLast(cut)), named: "cut\(cut).pcap")
            #expect(throws: CaptureError.self) { _ = try Self.both(path) }
            var reader = try CaptureFileReader(path: path)
            guard var map = MappedPcapFile.open(path: path, linkType: reader.linkType, snapshotLength: reader.snapshotLength)
            else {
                Issue.record("cut \(cut): not mapped")
                continue
            }
            guard case .frame = map.next() else { Issue.record("first frame"); continue }
            guard case .irregular = map.next() else { Issue.record("cut \(cut): not handed over"); continue }
            #expect(map.framesRead == 1)
            _ = try reader.next { _ in }
            #expect(throws: CaptureError(code: .truncated, path: path)) { try reader.next { _ in } }
        }
        (libpcap, mapped, at) = try Self.both(try directory.write(whole, named: "whole.pcap"))
        #expect(at == nil && mapped == libpcap && libpcap.count == 2)
    }
}

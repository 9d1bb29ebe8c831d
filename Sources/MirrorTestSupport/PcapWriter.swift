// vpcmirror: writes classic pcap files, so tests can build the captures they need.
public import Foundation
public import MirrorWire

/// Builds a classic pcap file in memory (little-endian by default, µs or ns timestamps, one link type)
/// and writes it out.
public struct PcapWriter: Sendable {
    public enum TimestampResolution: Hashable, Sendable {
        case microseconds
        case nanoseconds
    }

    public enum ByteOrder: Hashable, Sendable {
        case littleEndian
        case bigEndian
    }

    public let linkType: LinkType
    public let resolution: TimestampResolution
    public let snapshotLength: Int
    public let byteOrder: ByteOrder
    /// The file so far: the header, then every appended record.
    public private(set) var bytes: [UInt8] = []

    public init(
        linkType: LinkType = .ethernet,
        resolution: TimestampResolution = .microseconds,
        snapshotLength: Int = 262_144,
        byteOrder: ByteOrder = .littleEndian
    ) {
        self.linkType = linkType
        self.resolution = resolution
        self.snapshotLength = snapshotLength
        self.byteOrder = byteOrder
        self.append32(self.resolution == .microseconds ? 0xA1B2_C3D4 : 0xA1B2_3C4D)
        self.append16(2)  // version 2.4
        self.append16(4)
        self.append32(0)  // thiszone
        self.append32(0)  // sigfigs
        self.append32(UInt32(truncatingIfNeeded: snapshotLength))
        self.append32(UInt32(bitPattern: linkType.rawValue))
    }

    /// Appends a record; its `linkType` and `interfaceIndex` are ignored (the file has one of each).
    /// The timestamp must be in 0..<2^32 seconds; µs files drop the sub-microsecond digits.
    public mutating func append(_ record: PcapRecord) {
        precondition(record.timestampNanoseconds >= 0, "pcap cannot store times before 1970")
        let seconds = record.timestampNanoseconds / 1_000_000_000
        let nanoseconds = record.timestampNanoseconds % 1_000_000_000
        precondition(seconds <= Int64(UInt32.max), "pcap stores seconds in 32 bits")
        self.append32(UInt32(seconds))
        self.append32(UInt32(self.resolution == .microseconds ? nanoseconds / 1_000 : nanoseconds))
        self.append32(UInt32(record.bytes.count))
        self.append32(UInt32(truncatingIfNeeded: record.originalLength))
        self.bytes += record.bytes
    }

    /// Appends a frame; `originalLength` defaults to the frame's length.
    public mutating func append(_ frame: [UInt8], timestampNanoseconds: Int64 = 0, originalLength: Int? = nil) {
        self.append(PcapRecord(linkType: self.linkType, timestampNanoseconds: timestampNanoseconds, bytes: frame, originalLength: originalLength))
    }

    public mutating func append(contentsOf records: some Sequence<PcapRecord>) {
        for record in records { self.append(record) }
    }

    /// Writes the file, replacing any file at `url`.
    public func write(to url: URL) throws {
        try Data(self.bytes).write(to: url)
    }

    /// A whole file in one call.
    public static func encode(
        _ records: some Sequence<PcapRecord>,
        linkType: LinkType = .ethernet,
        resolution: TimestampResolution = .microseconds,
        byteOrder: ByteOrder = .littleEndian
    ) -> [UInt8] {
        var writer = PcapWriter(linkType: linkType, resolution: resolution, byteOrder: byteOrder)
        writer.append(contentsOf: records)
        return writer.bytes
    }

    private mutating func append16(_ value: UInt16) {
        let ordered = self.byteOrder == .littleEndian ? value.littleEndian : value.bigEndian
        withUnsafeBytes(of: ordered) { self.bytes += $0 }
    }

    private mutating func append32(_ value: UInt32) {
        let ordered = self.byteOrder == .littleEndian ? value.littleEndian : value.bigEndian
        withUnsafeBytes(of: ordered) { self.bytes += $0 }
    }
}

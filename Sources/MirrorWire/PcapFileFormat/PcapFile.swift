// vpcmirror: a pure-Swift codec for classic pcap and pcapng over bytes in memory; the caller reads the file.

/// A whole capture file, parsed in memory: classic pcap (either byte order, µs or ns) or pcapng (SHB in
/// either byte order, IDB with per-interface link type, `if_tsresol` and `if_tsoffset`; EPB, SPB and the
/// obsolete PB; other blocks skipped).
///
/// Every read is bounds-checked and every length is validated before use, so any input either parses or
/// throws a `PcapFileError` with the byte offset of the header, record or block that failed.
/// It never traps, whatever the bytes (it is a fuzz target). It does no I/O: the caller reads the file
/// (MirrorTestSupport adds `init(path:)`). `PcapRecordReader` reads the same input one record at a time.
public struct PcapFile: Hashable, Sendable {
    public enum Format: Hashable, Sendable {
        case pcap
        case pcapng
    }

    /// What a record's timestamp and link type depend on: the file header (pcap) or an IDB (pcapng).
    public struct Interface: Hashable, Sendable {
        public var linkType: LinkType
        /// As stored in the file; 0 means no limit.
        public var snapshotLength: Int
        /// Timestamp ticks per second: 1_000_000 (µs, the default), 1_000_000_000 (ns), or any power of
        /// 10 or 2 that pcapng's `if_tsresol` names.
        public var timestampTicksPerSecond: UInt64
        /// pcapng `if_tsoffset`: seconds added to every timestamp of the interface.
        public var timestampOffsetSeconds: Int64

        public init(
            linkType: LinkType,
            snapshotLength: Int,
            timestampTicksPerSecond: UInt64 = 1_000_000,
            timestampOffsetSeconds: Int64 = 0
        ) {
            self.linkType = linkType
            self.snapshotLength = snapshotLength
            self.timestampTicksPerSecond = timestampTicksPerSecond
            self.timestampOffsetSeconds = timestampOffsetSeconds
        }
    }

    public let format: Format
    /// The byte order of the file (of its first section, for pcapng).
    public let isBigEndian: Bool
    /// The interfaces in file order: one for classic pcap; for pcapng, the IDBs of every section in turn
    /// (a record's `interfaceIndex` counts within its own section).
    public let interfaces: [Interface]
    public let records: [PcapRecord]

    /// The link type of the file (pcap) or of its first interface (pcapng).
    public var linkType: LinkType { self.interfaces[0].linkType }
    /// The snapshot length of the file (pcap) or of its first interface (pcapng), as stored.
    public var snapshotLength: Int { self.interfaces[0].snapshotLength }

    /// Parses a whole capture held in memory.
    /// - Throws: `PcapFileError`; a valid capture with no records is not an error.
    public init(bytes: [UInt8]) throws(PcapFileError) {
        var reader = try PcapRecordReader(bytes: bytes)
        var records: [PcapRecord] = []
        while let record = try reader.next() {
            records.append(record)
        }
        self.format = reader.format
        self.isBigEndian = reader.isBigEndian
        self.interfaces = reader.interfaces
        self.records = records
    }

    /// Converts a tick count to nanoseconds since the epoch the way libpcap does (seconds, then the
    /// fraction scaled to ns and rounded down), but in 128 bits, so no resolution overflows.
    /// - Returns: nil when the result does not fit in an `Int64`.
    static func nanoseconds(ticks: UInt64, of interface: Interface) -> Int64? {
        let perSecond = interface.timestampTicksPerSecond
        guard perSecond > 0, let seconds = Int64(exactly: ticks / perSecond) else { return nil }
        let fraction = ticks % perSecond
        // fraction < perSecond, so the quotient is below 10^9 and the division cannot overflow.
        let fractionNanoseconds = perSecond.dividingFullWidth(fraction.multipliedFullWidth(by: 1_000_000_000)).quotient
        let (shifted, overflow1) = seconds.addingReportingOverflow(interface.timestampOffsetSeconds)
        let (scaled, overflow2) = shifted.multipliedReportingOverflow(by: 1_000_000_000)
        let (total, overflow3) = scaled.addingReportingOverflow(Int64(fractionNanoseconds))
        guard !overflow1, !overflow2, !overflow3 else { return nil }
        return total
    }
}

// MARK: - Bounds-checked integer reads

/// Reads fixed-width integers from a byte array in one byte order. Every read checks its bounds
/// and returns nil when the bytes are not there.
struct ByteView: Sendable {
    let bytes: [UInt8]
    var isBigEndian: Bool

    /// True when `count` bytes start at `offset`, written so that no arithmetic can overflow.
    @inline(__always)
    func contains(_ offset: Int, count: Int) -> Bool {
        offset >= 0 && count >= 0 && offset <= self.bytes.count && count <= self.bytes.count - offset
    }

    func u16(_ offset: Int) -> UInt16? {
        guard self.contains(offset, count: 2) else { return nil }
        let (a, b) = (UInt16(self.bytes[offset]), UInt16(self.bytes[offset + 1]))
        return self.isBigEndian ? a << 8 | b : b << 8 | a
    }

    func u32(_ offset: Int) -> UInt32? {
        guard let first = self.u16(offset), let second = self.u16(offset + 2) else { return nil }
        return self.isBigEndian
            ? UInt32(first) << 16 | UInt32(second)
            : UInt32(second) << 16 | UInt32(first)
    }

    func u64(_ offset: Int) -> UInt64? {
        guard let first = self.u32(offset), let second = self.u32(offset + 4) else { return nil }
        return self.isBigEndian
            ? UInt64(first) << 32 | UInt64(second)
            : UInt64(second) << 32 | UInt64(first)
    }

    func slice(_ offset: Int, count: Int) -> [UInt8]? {
        guard self.contains(offset, count: count) else { return nil }
        return Array(self.bytes[offset..<offset + count])
    }
}

// MARK: - Classic pcap

/// The classic libpcap format: a 24-byte file header, then 16-byte record headers each followed by data.
struct ClassicPcapParser: Sendable {
    static let fileHeaderByteCount = 24
    static let recordHeaderByteCount = 16

    /// How the caplen and len fields are ordered; libpcap before 2.3 wrote them the other way round.
    private enum LengthOrder: Sendable { case normal, swapped, swappedIfCapturedExceedsOriginal }

    private(set) var view: ByteView
    private(set) var interface = PcapFile.Interface(linkType: .ethernet, snapshotLength: 0)
    private(set) var recordsRead = 0
    private var lengthOrder = LengthOrder.normal
    /// Where the next record starts.
    private var offset = Self.fileHeaderByteCount

    init(bytes: [UInt8]) {
        self.view = ByteView(bytes: bytes, isBigEndian: false)
    }

    /// Reads the magic number and the rest of the file header.
    mutating func readFileHeader() throws(PcapFileError) {
        guard let magic = self.view.u32(0) else {
            throw PcapFileError(code: .truncated, byteOffset: 0, detail: "no magic number")
        }
        let ticksPerSecond: UInt64
        switch magic {
        case 0xA1B2_C3D4: ticksPerSecond = 1_000_000
        case 0xA1B2_3C4D: ticksPerSecond = 1_000_000_000
        case 0xD4C3_B2A1:
            self.view.isBigEndian = true
            ticksPerSecond = 1_000_000
        case 0x4D3C_B2A1:
            self.view.isBigEndian = true
            ticksPerSecond = 1_000_000_000
        case 0xA1B2_CD34, 0x34CD_B2A1:
            throw PcapFileError(code: .unsupported, byteOffset: 0, detail: "Kuznetzov's patched pcap format")
        default:
            let hex = String(magic, radix: 16)
            throw PcapFileError(code: .notACapture, byteOffset: 0, detail: "unknown magic number 0x\(hex) (stored little-endian)")
        }
        guard self.view.contains(0, count: Self.fileHeaderByteCount),
            let major = self.view.u16(4), let minor = self.view.u16(6),
            let snapshotLength = self.view.u32(16), let linkTypeField = self.view.u32(20)
        else {
            throw PcapFileError(
                code: .truncated,
                byteOffset: 0,
                detail: "file header needs \(Self.fileHeaderByteCount) bytes, \(self.view.bytes.count) present"
            )
        }
        // The versions libpcap reads; 543.0 is DG/UX tcpdump.
        switch (major, minor) {
        case (2, 0..<3), (543, 0): self.lengthOrder = .swapped
        case (2, 3): self.lengthOrder = .swappedIfCapturedExceedsOriginal
        case (2, 4): self.lengthOrder = .normal
        default:
            throw PcapFileError(code: .unsupported, byteOffset: 0, detail: "pcap version \(major).\(minor)")
        }
        self.interface = PcapFile.Interface(
            // The upper 16 bits carry FCS information, not the link type.
            linkType: LinkType(rawValue: Int32(linkTypeField & 0xFFFF)),
            snapshotLength: Int(snapshotLength),
            timestampTicksPerSecond: ticksPerSecond
        )
    }

    /// Reads the next record, or returns nil at the end of the input.
    mutating func next() throws(PcapFileError) -> PcapRecord? {
        guard self.offset < self.view.bytes.count else { return nil }
        let offset = self.offset
        let index = self.recordsRead
        guard let seconds = self.view.u32(offset), let fraction = self.view.u32(offset + 4),
            let field1 = self.view.u32(offset + 8), let field2 = self.view.u32(offset + 12)
        else {
            throw PcapFileError(
                code: .truncated,
                byteOffset: offset,
                recordIndex: index,
                detail: "record header needs \(Self.recordHeaderByteCount) bytes, \(self.view.bytes.count - offset) left"
            )
        }
        var captured = Int(field1)
        var original = Int(field2)
        if self.lengthOrder == .swapped || (self.lengthOrder == .swappedIfCapturedExceedsOriginal && captured > original) {
            swap(&captured, &original)
        }
        let dataOffset = offset + Self.recordHeaderByteCount
        guard let data = self.view.slice(dataOffset, count: captured) else {
            throw PcapFileError(
                code: .truncated,
                byteOffset: offset,
                recordIndex: index,
                detail: "record needs \(captured) captured bytes, \(self.view.bytes.count - dataOffset) left"
            )
        }
        // Both fields are 32-bit, so this cannot overflow: at most 2^32 · 10^9 + 2^32 · 10^3 < 2^63.
        let multiplier: Int64 = self.interface.timestampTicksPerSecond == 1_000_000 ? 1_000 : 1
        let nanoseconds = Int64(seconds) * 1_000_000_000 + Int64(fraction) * multiplier
        self.offset = dataOffset + captured
        self.recordsRead += 1
        return PcapRecord(
            linkType: self.interface.linkType,
            timestampNanoseconds: nanoseconds,
            bytes: data,
            originalLength: original,
            interfaceIndex: 0
        )
    }
}

// MARK: - pcapng

/// pcapng (draft-ietf-opsawg-pcapng): blocks of `type, total length, body, total length`, each section
/// starting with a Section Header Block that fixes the byte order of the blocks after it.
struct PcapngParser: Sendable {
    private enum BlockType {
        static let sectionHeader: UInt32 = 0x0A0D_0D0A
        static let interfaceDescription: UInt32 = 0x0000_0001
        static let obsoletePacket: UInt32 = 0x0000_0002
        static let simplePacket: UInt32 = 0x0000_0003
        static let enhancedPacket: UInt32 = 0x0000_0006
    }
    private static let byteOrderMagic: UInt32 = 0x1A2B_3C4D
    private static let optionEnd: UInt16 = 0
    private static let optionTimestampResolution: UInt16 = 9
    private static let optionTimestampOffset: UInt16 = 14

    private var view: ByteView
    private var sectionInterfaces: [PcapFile.Interface] = []
    private(set) var allInterfaces: [PcapFile.Interface] = []
    private(set) var recordsRead = 0
    private(set) var firstSectionIsBigEndian = false
    /// Where the next block starts.
    private var offset = 0

    init(bytes: [UInt8]) {
        self.view = ByteView(bytes: bytes, isBigEndian: false)
    }

    /// Reads the Section Header Block the file starts with, which sets the byte order.
    mutating func readFirstSection() throws(PcapFileError) {
        // The first block is a Section Header Block or an error, never a packet.
        _ = try self.readBlock()
    }

    /// Reads blocks up to and including the next packet block, or returns nil at the end of the input.
    mutating func next() throws(PcapFileError) -> PcapRecord? {
        while self.offset < self.view.bytes.count {
            if let record = try self.readBlock() {
                self.recordsRead += 1
                return record
            }
        }
        // As libpcap: a pcapng file must describe at least one interface.
        guard !self.allInterfaces.isEmpty else {
            throw PcapFileError(code: .malformed, byteOffset: 0, detail: "no Interface Description Block")
        }
        return nil
    }

    private func error(_ code: PcapFileError.Code, at offset: Int, _ detail: String) -> PcapFileError {
        PcapFileError(code: code, byteOffset: offset, recordIndex: self.recordsRead, detail: detail)
    }

    /// Reads the block at `self.offset`, moves past it, and returns its frame if it is a packet block.
    private mutating func readBlock() throws(PcapFileError) -> PcapRecord? {
        let offset = self.offset
        let remaining = self.view.bytes.count - offset
        guard remaining >= 8, let rawType = self.view.u32(offset) else {
            throw self.error(.truncated, at: offset, "block header needs 8 bytes, \(remaining) left")
        }
        // The SHB type reads the same in both byte orders; its byte-order magic sets the order of the section.
        if rawType == BlockType.sectionHeader {
            guard let magic = self.view.u32(offset + 8) else {
                throw self.error(.truncated, at: offset, "Section Header Block needs 12 bytes, \(remaining) left")
            }
            switch magic {
            case Self.byteOrderMagic: break
            case Self.byteOrderMagic.byteSwapped: self.view.isBigEndian.toggle()
            default:
                let code: PcapFileError.Code = offset == 0 ? .notACapture : .malformed
                throw self.error(code, at: offset, "bad byte-order magic 0x\(String(magic, radix: 16))")
            }
            if offset == 0 { self.firstSectionIsBigEndian = self.view.isBigEndian }
        } else if offset == 0 {
            throw self.error(.notACapture, at: 0, "pcapng must start with a Section Header Block")
        }
        guard let type = self.view.u32(offset), let totalLength = self.view.u32(offset + 4) else {
            throw self.error(.truncated, at: offset, "block header needs 8 bytes, \(remaining) left")
        }
        let length = Int(totalLength)
        guard length >= 12, length % 4 == 0 else {
            throw self.error(.malformed, at: offset, "block length \(length) is below 12 or not a multiple of 4")
        }
        guard length <= remaining else {
            throw self.error(.truncated, at: offset, "block of \(length) bytes, \(remaining) left")
        }
        guard let trailer = self.view.u32(offset + length - 4), trailer == totalLength else {
            throw self.error(.malformed, at: offset, "block length \(length) in the header and the trailer differ")
        }
        let body = (start: offset + 8, end: offset + length - 4)
        var record: PcapRecord? = nil
        switch type {
        case BlockType.sectionHeader: try self.readSectionHeader(body, at: offset)
        case BlockType.interfaceDescription: try self.readInterfaceDescription(body, at: offset)
        case BlockType.enhancedPacket: record = try self.readPacket(body, at: offset, interfaceIDIs32Bits: true)
        case BlockType.obsoletePacket: record = try self.readPacket(body, at: offset, interfaceIDIs32Bits: false)
        case BlockType.simplePacket: record = try self.readSimplePacket(body, at: offset)
        default: break  // statistics, name resolution, custom, decryption secrets...: not frames
        }
        self.offset = offset + length
        return record
    }

    private mutating func readSectionHeader(_ body: (start: Int, end: Int), at offset: Int) throws(PcapFileError) {
        // Byte-order magic (4), major (2), minor (2), section length (8), options.
        guard body.end - body.start >= 16, let major = self.view.u16(body.start + 4) else {
            throw self.error(.malformed, at: offset, "Section Header Block body shorter than 16 bytes")
        }
        guard major == 1 else {
            throw self.error(.unsupported, at: offset, "pcapng major version \(major)")
        }
        self.sectionInterfaces = []
    }

    private mutating func readInterfaceDescription(_ body: (start: Int, end: Int), at offset: Int) throws(PcapFileError) {
        // Link type (2), reserved (2), snap length (4), options.
        guard body.end - body.start >= 8, let linkType = self.view.u16(body.start),
            let snapshotLength = self.view.u32(body.start + 4)
        else {
            throw self.error(.malformed, at: offset, "Interface Description Block body shorter than 8 bytes")
        }
        var interface = PcapFile.Interface(linkType: LinkType(rawValue: Int32(linkType)), snapshotLength: Int(snapshotLength))
        var option = body.start + 8
        while option < body.end {
            guard body.end - option >= 4, let code = self.view.u16(option), let valueLength = self.view.u16(option + 2) else {
                throw self.error(.malformed, at: offset, "option header cut short at byte \(option)")
            }
            let value = option + 4
            let padded = (Int(valueLength) + 3) & ~3
            guard padded <= body.end - value else {
                throw self.error(.malformed, at: offset, "option \(code) of \(valueLength) bytes overruns its block")
            }
            if code == Self.optionEnd { break }
            if code == Self.optionTimestampResolution {
                guard valueLength == 1 else {
                    throw self.error(.malformed, at: offset, "if_tsresol of \(valueLength) bytes, not 1")
                }
                interface.timestampTicksPerSecond = try self.ticksPerSecond(self.view.bytes[value], at: offset)
            } else if code == Self.optionTimestampOffset {
                guard valueLength == 8, let seconds = self.view.u64(value) else {
                    throw self.error(.malformed, at: offset, "if_tsoffset of \(valueLength) bytes, not 8")
                }
                interface.timestampOffsetSeconds = Int64(bitPattern: seconds)
            }
            option = value + padded
        }
        self.sectionInterfaces.append(interface)
        self.allInterfaces.append(interface)
    }

    /// `if_tsresol`: the high bit picks a negative power of 2, else of 10.
    private func ticksPerSecond(_ resolution: UInt8, at offset: Int) throws(PcapFileError) -> UInt64 {
        let exponent = Int(resolution & 0x7F)
        if resolution & 0x80 != 0 {
            guard exponent <= 63 else {
                throw self.error(.malformed, at: offset, "if_tsresol 2^-\(exponent) does not fit in 64 bits")
            }
            return 1 << UInt64(exponent)
        }
        guard exponent <= 19 else {
            throw self.error(.malformed, at: offset, "if_tsresol 10^-\(exponent) does not fit in 64 bits")
        }
        var ticks: UInt64 = 1
        for _ in 0..<exponent { ticks *= 10 }
        return ticks
    }

    /// An Enhanced Packet Block (32-bit interface ID) or an obsolete Packet Block (16-bit interface ID and
    /// a 16-bit drop count); the rest of their layout is the same.
    private func readPacket(
        _ body: (start: Int, end: Int),
        at offset: Int,
        interfaceIDIs32Bits: Bool
    ) throws(PcapFileError) -> PcapRecord {
        let fixed = 20
        guard body.end - body.start >= fixed,
            let interfaceField = interfaceIDIs32Bits
                ? self.view.u32(body.start) : self.view.u16(body.start).map(UInt32.init),
            let high = self.view.u32(body.start + 4), let low = self.view.u32(body.start + 8),
            let captured = self.view.u32(body.start + 12), let original = self.view.u32(body.start + 16)
        else {
            throw self.error(.malformed, at: offset, "packet block body shorter than \(fixed) bytes")
        }
        let interfaceID = Int(interfaceField)
        guard interfaceID < self.sectionInterfaces.count else {
            throw self.error(.malformed, at: offset, "packet on interface \(interfaceID), but the section describes \(self.sectionInterfaces.count)")
        }
        let dataStart = body.start + fixed
        guard Int(captured) <= body.end - dataStart, let data = self.view.slice(dataStart, count: Int(captured)) else {
            throw self.error(.malformed, at: offset, "captured length \(captured) overruns its block")
        }
        let interface = self.sectionInterfaces[interfaceID]
        guard let nanoseconds = PcapFile.nanoseconds(ticks: UInt64(high) << 32 | UInt64(low), of: interface) else {
            throw self.error(.malformed, at: offset, "timestamp out of range")
        }
        return PcapRecord(
            linkType: interface.linkType,
            timestampNanoseconds: nanoseconds,
            bytes: data,
            originalLength: Int(original),
            interfaceIndex: interfaceID
        )
    }

    /// A Simple Packet Block: no interface ID (always 0), no timestamp, no captured length. The captured
    /// length is the original length cut to interface 0's snapshot length.
    private func readSimplePacket(_ body: (start: Int, end: Int), at offset: Int) throws(PcapFileError) -> PcapRecord {
        guard body.end - body.start >= 4, let original = self.view.u32(body.start) else {
            throw self.error(.malformed, at: offset, "Simple Packet Block body shorter than 4 bytes")
        }
        guard let interface = self.sectionInterfaces.first else {
            throw self.error(.malformed, at: offset, "Simple Packet Block before any Interface Description Block")
        }
        var captured = Int(original)
        if interface.snapshotLength > 0 { captured = min(captured, interface.snapshotLength) }
        let dataStart = body.start + 4
        guard captured <= body.end - dataStart, let data = self.view.slice(dataStart, count: captured) else {
            throw self.error(.malformed, at: offset, "packet length \(original) overruns its block")
        }
        guard let nanoseconds = PcapFile.nanoseconds(ticks: 0, of: interface) else {
            throw self.error(.malformed, at: offset, "timestamp out of range")
        }
        return PcapRecord(
            linkType: interface.linkType,
            timestampNanoseconds: nanoseconds,
            bytes: data,
            originalLength: Int(original),
            interfaceIndex: 0
        )
    }
}

// vpcmirror: the pure-Swift pcap/pcapng codec, one record at a time, for callers that hand frames on as they go.

/// Reads a capture held in memory record by record, with the same checks, results and errors as `PcapFile`
/// (which is built on it), but without keeping every record. Records come out in file order, each with the
/// link type of its own interface (pcapng) or of the file (pcap).
///
/// After an error, every later `next()` throws the same error.
public struct PcapRecordReader: Sendable {
    // Two optionals rather than an enum with payloads: mutating through `?.` works in place, where taking a
    // payload out of an enum would copy its interface arrays on every append.
    private var classic: ClassicPcapParser?
    private var pcapng: PcapngParser?
    private var failure: PcapFileError?

    public let format: PcapFile.Format

    /// Checks the magic number and reads the file header (pcap) or the first Section Header Block (pcapng).
    /// - Throws: `PcapFileError` when the input is no capture, or its header is cut short or unsupported.
    public init(bytes: [UInt8]) throws(PcapFileError) {
        guard bytes.count >= 4 else {
            throw PcapFileError(code: .truncated, byteOffset: 0, detail: "\(bytes.count) bytes, no magic number")
        }
        if bytes[0] == 0x0A && bytes[1] == 0x0D && bytes[2] == 0x0D && bytes[3] == 0x0A {
            var parser = PcapngParser(bytes: bytes)
            try parser.readFirstSection()
            self.pcapng = parser
            self.format = .pcapng
        } else {
            var parser = ClassicPcapParser(bytes: bytes)
            try parser.readFileHeader()
            self.classic = parser
            self.format = .pcap
        }
    }

    /// The byte order of the file (of its first section, for pcapng).
    public var isBigEndian: Bool {
        self.classic?.view.isBigEndian ?? self.pcapng?.firstSectionIsBigEndian ?? false
    }

    /// The interfaces read so far: the file header's for classic pcap; for pcapng, the IDBs of every
    /// section up to the last record returned.
    public var interfaces: [PcapFile.Interface] {
        if let classic = self.classic { return [classic.interface] }
        return self.pcapng?.allInterfaces ?? []
    }

    /// The records returned so far.
    public var recordsRead: Int {
        self.classic?.recordsRead ?? self.pcapng?.recordsRead ?? 0
    }

    /// Reads the next record.
    /// - Returns: the record, or nil at the end of the input.
    /// - Throws: `PcapFileError` with the byte offset of the record or block that failed and the number of
    ///   records read before it.
    public mutating func next() throws(PcapFileError) -> PcapRecord? {
        if let failure = self.failure { throw failure }
        do {
            switch self.format {
            case .pcap: return try self.classic?.next()
            case .pcapng: return try self.pcapng?.next()
            }
        } catch {
            self.failure = error
            throw error
        }
    }
}

// vpcmirror: one frame of a capture file, as the pure-Swift reader returns it and the writer takes it.

/// A frame with its metadata, owning a copy of its bytes.
public struct PcapRecord: Hashable, Sendable {
    /// The link-layer type of the frame's interface (the file's, for classic pcap).
    public var linkType: LinkType
    /// Nanoseconds since the Unix epoch.
    public var timestampNanoseconds: Int64
    /// The captured bytes, starting with the link-layer header.
    public var bytes: [UInt8]
    /// The frame's length on the wire; at least `bytes.count` in a well-formed file.
    public var originalLength: Int
    /// The pcapng interface ID within its section; 0 for classic pcap.
    public var interfaceIndex: Int

    /// - Parameter originalLength: defaults to `bytes.count`, an uncut frame.
    public init(
        linkType: LinkType = .ethernet,
        timestampNanoseconds: Int64 = 0,
        bytes: [UInt8],
        originalLength: Int? = nil,
        interfaceIndex: Int = 0
    ) {
        self.linkType = linkType
        self.timestampNanoseconds = timestampNanoseconds
        self.bytes = bytes
        self.originalLength = originalLength ?? bytes.count
        self.interfaceIndex = interfaceIndex
    }
}

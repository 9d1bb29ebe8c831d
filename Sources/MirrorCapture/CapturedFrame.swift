// vpcmirror: one frame as libpcap hands it over, without copying it.
public import MirrorWire

/// A captured frame. `bytes` points into libpcap's buffer (or, for a file read by the pure-Swift fallback,
/// into the reader's copy of the record): it is valid only inside the closure the frame is passed to, and
/// must be copied (`Array(frame.bytes)`) to be kept.
public struct CapturedFrame {
    /// The captured bytes (libpcap's `caplen`), starting with the link-layer header.
    public let bytes: UnsafeRawBufferPointer
    /// The frame's length on the wire (libpcap's `len`); larger than `bytes.count` when the snapshot
    /// length cut the frame.
    public let originalLength: Int
    /// Nanoseconds since the Unix epoch.
    public let timestampNanoseconds: Int64
    /// The link type of the frame's interface, as a DLT value. It is the reader's `linkType` except in the
    /// pure-Swift fallback for pcapng files whose interfaces differ, where it may be any type, even one
    /// `LinkType.isSupported` rejects.
    public let linkType: LinkType

    public init(bytes: UnsafeRawBufferPointer, originalLength: Int, timestampNanoseconds: Int64, linkType: LinkType) {
        self.bytes = bytes
        self.originalLength = originalLength
        self.timestampNanoseconds = timestampNanoseconds
        self.linkType = linkType
    }
}

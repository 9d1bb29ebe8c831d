// vpcmirror: the 8-byte VXLAN header (RFC 7348 §5).
public import MirrorWire

/// `flags(8) reserved(24) VNI(24) reserved(8)`. Only the I flag (0x08) means anything.
public struct VXLANHeader: Hashable, Sendable {
    public static let byteCount = 8
    /// IANA's VXLAN port (RFC 7348 §5).
    public static let ianaPort: UInt16 = 4789
    /// The Linux kernel's historical default.
    public static let linuxPort: UInt16 = 8472

    public var vni: UInt32
    /// The first 32 bits as received; reserved bits may be non-zero from some senders.
    public var flagsWord: UInt32

    public init(vni: UInt32) {
        self.vni = vni & 0xFF_FFFF
        self.flagsWord = 0x0800_0000
    }

    /// Decodes a header at the start of `bytes`. Reserved bits are ignored, as RFC 7348 §5 says receivers must.
    /// - Throws: `.truncated` below 8 bytes; `.malformed` when the I flag is clear.
    public init(decoding bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count >= Self.byteCount else {
            throw .truncated(.vxlan, at: 0, needed: Self.byteCount, available: bytes.count)
        }
        let flags = bytes.loadBigEndian(at: 0, as: UInt32.self)
        guard flags & 0x0800_0000 != 0 else { throw .malformed(.vxlan, at: 0, "I flag is clear") }
        self.flagsWord = flags
        self.vni = bytes.loadBigEndian(at: 4, as: UInt32.self) >> 8
    }

    /// True when reserved bits are set; receivers ignore them but may count them.
    public var hasReservedBitsSet: Bool { self.flagsWord & 0xF7FF_FFFF != 0 }
}

extension UnsafeMutableRawBufferPointer {
    /// Writes a VXLAN header with the I flag and `vni` at `offset`; reserved bytes are zero.
    @inlinable @inline(__always)
    public func writeVXLANHeader(vni: UInt32, at offset: Int = 0) {
        self.storeBigEndian(UInt32(0x0800_0000), at: offset)
        self.storeBigEndian((vni & 0xFF_FFFF) << 8, at: offset + 4)
    }
}

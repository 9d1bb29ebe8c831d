// vpcmirror: the RFC 1071 one's-complement checksum, over raw memory.

public enum InternetChecksum {
    /// Adds `bytes` to a running 32-bit sum (not yet folded). `bytes` are summed as big-endian 16-bit words
    /// starting at an even offset of the checksummed data; an odd tail byte is padded with zero.
    @inlinable
    public static func add(_ bytes: UnsafeRawBufferPointer, to sum: UInt64) -> UInt64 {
        var s = sum
        var i = 0
        let n = bytes.count
        // Sum 32-bit words into 64 bits; the carries fold away at the end.
        while i + 4 <= n {
            s &+= UInt64(bytes.loadBigEndian(at: i, as: UInt32.self))
            i += 4
        }
        if i + 2 <= n {
            s &+= UInt64(bytes.loadBigEndian(at: i, as: UInt16.self))
            i += 2
        }
        if i < n {
            s &+= UInt64(bytes[i]) << 8
        }
        return s
    }

    /// Folds a running sum to 16 bits and complements it.
    @inlinable
    public static func finish(_ sum: UInt64) -> UInt16 {
        var s = sum
        while s >> 16 != 0 { s = (s & 0xFFFF) &+ (s >> 16) }
        return ~UInt16(truncatingIfNeeded: s)
    }

    /// The pseudo-header sum for TCP/UDP over IPv4 or IPv6 (RFC 793, RFC 8200 §8.1).
    @inlinable
    public static func pseudoHeaderSum(source: IPAddress, destination: IPAddress, protocol: IPProtocol, length: Int) -> UInt64 {
        var s: UInt64 = 0
        if source.family == .ipv4 {
            s &+= UInt64(source.ipv4Value >> 16) &+ UInt64(source.ipv4Value & 0xFFFF)
            s &+= UInt64(destination.ipv4Value >> 16) &+ UInt64(destination.ipv4Value & 0xFFFF)
        } else {
            s &+= (source.high >> 32) &+ (source.high & 0xFFFF_FFFF)
            s &+= (source.low >> 32) &+ (source.low & 0xFFFF_FFFF)
            s &+= (destination.high >> 32) &+ (destination.high & 0xFFFF_FFFF)
            s &+= (destination.low >> 32) &+ (destination.low & 0xFFFF_FFFF)
        }
        s &+= UInt64(`protocol`.rawValue)
        s &+= UInt64(length)
        return s
    }
}

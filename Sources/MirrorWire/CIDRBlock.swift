// vpcmirror: CIDR blocks as AWS writes them in SourceCidrBlock/DestinationCidrBlock.

/// An address prefix such as `10.0.0.0/8` or `::/0`.
public struct CIDRBlock: Hashable, Sendable, CustomStringConvertible {
    public let network: IPAddress
    public let prefixLength: Int
    /// The prefix as masks over `IPAddress.high` and `.low` (an IPv4 prefix covers the low 32 bits).
    public let maskHigh: UInt64
    public let maskLow: UInt64

    /// - Returns: `nil` when the prefix is longer than the family allows.
    public init?(network: IPAddress, prefixLength: Int) {
        guard prefixLength >= 0, prefixLength <= network.bitWidth else { return nil }
        let bits = network.family == .ipv4 ? prefixLength + 96 : prefixLength
        self.maskHigh = bits >= 64 ? ~0 : (bits == 0 ? 0 : ~0 << UInt64(64 - bits))
        self.maskLow = bits <= 64 ? 0 : (bits >= 128 ? ~0 : ~0 << UInt64(128 - bits))
        var n = network
        n.high &= self.maskHigh
        n.low &= self.maskLow
        self.network = n
        self.prefixLength = prefixLength
    }

    /// Parses `address/prefix`; a bare address is a host prefix.
    /// AWS accepts host bits set (`10.0.0.1/8`) and clears them, and so do we.
    /// - Returns: `nil` when the text is not a CIDR block.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(parts[0]) else { return nil }
        var length = address.bitWidth
        if parts.count == 2 {
            let digits = parts[1]
            guard !digits.isEmpty, digits.utf8.count <= 3, digits.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                let value = Int(digits)
            else { return nil }
            length = value
        }
        self.init(network: address, prefixLength: length)
    }

    @inlinable
    public var family: IPAddress.Family { self.network.family }

    /// True when `address` is of the same family and inside the block.
    @inline(__always)
    public func contains(_ address: IPAddress) -> Bool {
        address.family == self.network.family
            && address.high & self.maskHigh == self.network.high
            && address.low & self.maskLow == self.network.low
    }

    public var description: String { "\(self.network)/\(self.prefixLength)" }
}

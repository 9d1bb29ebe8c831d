// vpcmirror: TCP sequence numbers, which wrap at 2^32 and so have a distance but no total order.

/// A 32-bit TCP sequence number (RFC 9293 §3.4). Arithmetic wraps, and two numbers are ordered only
/// when they are less than 2^31 apart (RFC 1982 serial number arithmetic), so the type is deliberately
/// not `Comparable`: `a < b` on raw values is wrong once a stream crosses 0xFFFFFFFF.
public struct TCPSequenceNumber: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32

    @inlinable
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// How far `self` is after `other` (negative when before), taking the shorter way round the circle.
    @inlinable
    public func distance(from other: Self) -> Int32 {
        Int32(bitPattern: self.rawValue &- other.rawValue)
    }

    /// True when `self` comes before `other` (RFC 1982).
    @inlinable
    public func isBefore(_ other: Self) -> Bool {
        self.distance(from: other) < 0
    }

    /// The sequence number `count` bytes later, wrapping at 2^32.
    @inlinable
    public func advanced(by count: UInt32) -> Self {
        Self(rawValue: self.rawValue &+ count)
    }

    /// The sequence number of a 64-bit stream offset, for a stream whose offset 0 is `self`.
    @inlinable
    public func advanced(byOffset offset: UInt64) -> Self {
        Self(rawValue: self.rawValue &+ UInt32(truncatingIfNeeded: offset))
    }

    public var description: String { String(self.rawValue) }
}

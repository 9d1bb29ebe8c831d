// vpcmirror: IP addresses as two 64-bit words, so keys hash and compare without allocating.

/// An IPv4 or IPv6 address. IPv4 lives in the low 32 bits of `low`, with `high` zero.
public struct IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    public enum Family: UInt8, Hashable, Sendable, Comparable {
        case ipv4 = 4
        case ipv6 = 6
        public static func < (l: Self, r: Self) -> Bool { l.rawValue < r.rawValue }
    }

    public var high: UInt64
    public var low: UInt64
    public var family: Family

    @inlinable
    public init(ipv4 value: UInt32) {
        self.high = 0
        self.low = UInt64(value)
        self.family = .ipv4
    }

    @inlinable
    public init(ipv6High high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
        self.family = .ipv6
    }

    /// The unspecified address of a family (0.0.0.0 or ::).
    public static func zero(_ family: Family) -> IPAddress {
        family == .ipv4 ? IPAddress(ipv4: 0) : IPAddress(ipv6High: 0, low: 0)
    }

    public var isIPv4: Bool { self.family == .ipv4 }
    public var ipv4Value: UInt32 { UInt32(truncatingIfNeeded: self.low) }
    public var bitWidth: Int { self.family == .ipv4 ? 32 : 128 }

    // Inlinable, and `==` written out: flow keys compare addresses for every segment.
    @inlinable
    public static func < (l: Self, r: Self) -> Bool {
        if l.family != r.family { return l.family.rawValue < r.family.rawValue }
        return l.high != r.high ? l.high < r.high : l.low < r.low
    }

    @inlinable
    public static func == (l: Self, r: Self) -> Bool {
        l.low == r.low && l.high == r.high && l.family == r.family
    }

    // MARK: - Text

    /// Parses dotted-quad IPv4 or RFC 4291 IPv6 text (with `::` and an embedded IPv4 tail).
    /// - Returns: `nil` when the text is not exactly one address.
    public init?(_ text: some StringProtocol) {
        let utf8 = Array(text.utf8)
        if utf8.contains(UInt8(ascii: ":")) {
            guard let (h, l) = Self.parseIPv6(utf8) else { return nil }
            self.init(ipv6High: h, low: l)
        } else {
            guard let v = Self.parseIPv4(utf8[...]) else { return nil }
            self.init(ipv4: v)
        }
    }

    private static func parseIPv4(_ bytes: ArraySlice<UInt8>) -> UInt32? {
        var value: UInt32 = 0
        var octets = 0
        var current: UInt32 = 0
        var digits = 0
        for b in bytes {
            if b == UInt8(ascii: ".") {
                guard digits > 0, octets < 3 else { return nil }
                value = value << 8 | current
                octets += 1
                current = 0
                digits = 0
            } else if b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") {
                // No leading zeros: "010" is octal to some parsers and decimal to others.
                if digits == 1 && current == 0 { return nil }
                current = current * 10 + UInt32(b - UInt8(ascii: "0"))
                digits += 1
                guard current <= 255 else { return nil }
            } else {
                return nil
            }
        }
        guard digits > 0, octets == 3 else { return nil }
        return value << 8 | current
    }

    private static func parseIPv6(_ bytes: [UInt8]) -> (UInt64, UInt64)? {
        var groups: [UInt16] = []
        var compressAt: Int? = nil
        var i = 0
        let n = bytes.count
        if n >= 2 && bytes[0] == UInt8(ascii: ":") {
            guard bytes[1] == UInt8(ascii: ":") else { return nil }
            compressAt = 0
            i = 2
            if i == n { return (0, 0) }
        }
        while i < n {
            // An embedded IPv4 tail ends the address.
            var j = i
            var sawDot = false
            while j < n && bytes[j] != UInt8(ascii: ":") {
                if bytes[j] == UInt8(ascii: ".") { sawDot = true }
                j += 1
            }
            if sawDot {
                guard j == n, groups.count <= 6, let v4 = parseIPv4(bytes[i..<n]) else { return nil }
                groups.append(UInt16(v4 >> 16))
                groups.append(UInt16(v4 & 0xFFFF))
                i = n
                break
            }
            guard j > i, j - i <= 4 else { return nil }
            var g: UInt16 = 0
            for k in i..<j {
                guard let d = hexValue(bytes[k]) else { return nil }
                g = g << 4 | UInt16(d)
            }
            groups.append(g)
            guard groups.count <= 8 else { return nil }
            i = j
            if i < n {
                // bytes[i] is ':'
                i += 1
                if i < n && bytes[i] == UInt8(ascii: ":") {
                    guard compressAt == nil else { return nil }
                    compressAt = groups.count
                    i += 1
                } else if i == n {
                    return nil  // trailing single ':'
                }
            }
        }
        var full = [UInt16](repeating: 0, count: 8)
        if let at = compressAt {
            guard groups.count < 8 else { return nil }
            for k in 0..<at { full[k] = groups[k] }
            let tail = groups.count - at
            for k in 0..<tail { full[8 - tail + k] = groups[at + k] }
        } else {
            guard groups.count == 8 else { return nil }
            full = groups
        }
        var h: UInt64 = 0
        var l: UInt64 = 0
        for k in 0..<4 { h = h << 16 | UInt64(full[k]) }
        for k in 4..<8 { l = l << 16 | UInt64(full[k]) }
        return (h, l)
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// RFC 5952 text: lower-case hex, the longest run of zero groups compressed.
    public var description: String {
        if self.family == .ipv4 {
            let v = self.ipv4Value
            return "\(v >> 24).\(v >> 16 & 0xFF).\(v >> 8 & 0xFF).\(v & 0xFF)"
        }
        var groups = [UInt16](repeating: 0, count: 8)
        for k in 0..<4 {
            groups[k] = UInt16(truncatingIfNeeded: self.high >> (48 - 16 * UInt64(k)))
            groups[4 + k] = UInt16(truncatingIfNeeded: self.low >> (48 - 16 * UInt64(k)))
        }
        var bestStart = -1
        var bestLength = 0
        var k = 0
        while k < 8 {
            if groups[k] == 0 {
                var e = k
                while e < 8 && groups[e] == 0 { e += 1 }
                if e - k > bestLength && e - k >= 2 {
                    bestStart = k
                    bestLength = e - k
                }
                k = e
            } else {
                k += 1
            }
        }
        var out = ""
        k = 0
        while k < 8 {
            if k == bestStart {
                out += "::"
                k += bestLength
                continue
            }
            if !out.isEmpty && !out.hasSuffix(":") { out += ":" }
            out += String(groups[k], radix: 16)
            k += 1
        }
        return out
    }

    // MARK: - Bytes

    /// The address in network order: 4 bytes for IPv4, 16 for IPv6 (what socket addresses hold).
    public var networkOrderBytes: [UInt8] {
        if self.isIPv4 { return withUnsafeBytes(of: self.ipv4Value.bigEndian) { Array($0) } }
        return withUnsafeBytes(of: self.high.bigEndian) { Array($0) } + withUnsafeBytes(of: self.low.bigEndian) { Array($0) }
    }

    /// Reads an address of `family` at `offset` in network order; the caller has checked the bounds.
    @inlinable
    public init(unchecked bytes: UnsafeRawBufferPointer, at offset: Int, family: Family) {
        if family == .ipv4 {
            self.init(ipv4: bytes.loadBigEndian(at: offset, as: UInt32.self))
        } else {
            self.init(
                ipv6High: bytes.loadBigEndian(at: offset, as: UInt64.self),
                low: bytes.loadBigEndian(at: offset + 8, as: UInt64.self)
            )
        }
    }
}

/// A 48-bit Ethernet address in the low bits of a `UInt64`.
public struct MACAddress: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64

    @inlinable
    public init(rawValue: UInt64) { self.rawValue = rawValue & 0xFFFF_FFFF_FFFF }

    /// Parses `aa:bb:cc:dd:ee:ff` (also with `-` separators).
    /// - Returns: `nil` unless the text is six two-digit hex groups.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        let groups = parts.count == 6 ? parts : text.split(separator: "-", omittingEmptySubsequences: false)
        guard groups.count == 6 else { return nil }
        var v: UInt64 = 0
        for g in groups {
            guard g.utf8.count == 2, let b = UInt8(g, radix: 16) else { return nil }
            v = v << 8 | UInt64(b)
        }
        self.rawValue = v
    }

    @inlinable
    public init(unchecked bytes: UnsafeRawBufferPointer, at offset: Int) {
        let hi = UInt64(bytes.loadBigEndian(at: offset, as: UInt16.self))
        let lo = UInt64(bytes.loadBigEndian(at: offset + 2, as: UInt32.self))
        self.rawValue = hi << 32 | lo
    }

    public static let zero = MACAddress(rawValue: 0)
    public static let broadcast = MACAddress(rawValue: 0xFFFF_FFFF_FFFF)

    public var description: String {
        (0..<6).map { i -> String in
            let b = UInt8(truncatingIfNeeded: self.rawValue >> (40 - 8 * UInt64(i)))
            return (b < 16 ? "0" : "") + String(b, radix: 16)
        }.joined(separator: ":")
    }
}

extension UnsafeRawBufferPointer {
    /// An unaligned big-endian load; the caller has checked that `offset + size` is in bounds.
    @inlinable @inline(__always)
    public func loadBigEndian<T: FixedWidthInteger>(at offset: Int, as: T.Type) -> T {
        T(bigEndian: self.loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

extension UnsafeMutableRawBufferPointer {
    @inlinable @inline(__always)
    public func storeBigEndian<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        self.storeBytes(of: value.bigEndian, toByteOffset: offset, as: T.self)
    }
}

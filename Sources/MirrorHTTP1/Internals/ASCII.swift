// vpcmirror: the byte classes of RFC 9110 and RFC 9112 that the HTTP/1 parser tests bytes against.

enum ASCII {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let space: UInt8 = 0x20
    static let tab: UInt8 = 0x09
    static let colon: UInt8 = 0x3A
    static let semicolon: UInt8 = 0x3B
    static let upperH: UInt8 = 0x48

    /// `tchar` (RFC 9110 §5.6.2): what methods and field names are made of.
    @inline(__always)
    static func isTokenChar(_ b: UInt8) -> Bool {
        // One bit per ASCII byte: alphanumerics and !#$%&'*+-.^_`|~ (a test, not a branch per class).
        let mask: UInt64 = b < 64 ? 0x03FF_6CFA_0000_0000 : 0x57FF_FFFF_C7FF_FFFE
        return b < 128 && (mask >> UInt64(b & 63)) & 1 != 0
    }

    /// Method characters we accept when resynchronising: upper-case letters, digits, `-` and `_`. Real methods
    /// (RFC 9110, WebDAV, the IANA registry) all fit, and the stricter set makes false starts inside bodies rarer.
    @inline(__always)
    static func isStrictMethodChar(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x2D, 0x5F: return true
        default: return false
        }
    }

    @inline(__always)
    static func isUpper(_ b: UInt8) -> Bool { b &- 0x41 < 26 }

    @inline(__always)
    static func isDigit(_ b: UInt8) -> Bool { b &- 0x30 < 10 }

    /// A request-target byte: visible ASCII or obs-text (clients do send raw UTF-8), never space or a control.
    @inline(__always)
    static func isTargetChar(_ b: UInt8) -> Bool { b > 0x20 && b != 0x7F }

    /// A reason-phrase byte: HTAB, SP, VCHAR or obs-text.
    @inline(__always)
    static func isReasonChar(_ b: UInt8) -> Bool { b == 0x09 || (b >= 0x20 && b != 0x7F) }

    @inline(__always)
    static func isWhitespace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 }

    @inline(__always)
    static func lower(_ b: UInt8) -> UInt8 { isUpper(b) ? b | 0x20 : b }

    @inline(__always)
    static func hexValue(_ b: UInt8) -> Int? {
        switch b {
        case 0x30...0x39: return Int(b - 0x30)
        case 0x41...0x46: return Int(b - 0x41 + 10)
        case 0x61...0x66: return Int(b - 0x61 + 10)
        default: return nil
        }
    }
}

extension UnsafeRawBufferPointer {
    /// The index of the first `byte` in `range`, or nil. (The scan for line ends in heads is this loop.)
    @inline(__always)
    func firstIndex(of byte: UInt8, in range: Range<Int>) -> Int? {
        guard !range.isEmpty, let base = self.baseAddress else { return nil }
        precondition(range.lowerBound >= 0 && range.upperBound <= self.count)
        var i = range.lowerBound
        let end = range.upperBound
        // Eight bytes at a time: a word has the byte where `word ^ pattern` has a zero byte.
        let pattern = 0x0101_0101_0101_0101 &* UInt64(byte)
        while i &+ 8 <= end {
            // Little-endian order: the first byte is the lowest, and the lowest flagged byte is exact.
            let x = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self)) ^ pattern
            let zero = (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080
            if zero != 0 { return i &+ (zero.trailingZeroBitCount >> 3) }
            i &+= 8
        }
        while i < end {
            if base.load(fromByteOffset: i, as: UInt8.self) == byte { return i }
            i &+= 1
        }
        return nil
    }

    /// Whether `self[range]` is exactly `text` (names lower-cased by the parser, methods): eight bytes at a time.
    @inline(__always)
    func bytes(in range: Range<Int>, equal text: StaticString) -> Bool {
        let n = text.utf8CodeUnitCount
        guard range.count == n else { return false }
        precondition(range.lowerBound >= 0 && range.upperBound <= self.count)
        guard n > 0, let base = self.baseAddress else { return true }  // with n > 0 the bytes are there
        let a = base + range.lowerBound
        let b = UnsafeRawPointer(text.utf8Start)
        guard n >= 8 else {
            for i in 0..<n where a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) {
                return false
            }
            return true
        }
        var i = 0
        while i &+ 8 < n {
            guard a.loadUnaligned(fromByteOffset: i, as: UInt64.self) == b.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            else { return false }
            i &+= 8
        }
        // The last eight bytes (overlapping the ones before when n is not a multiple of eight).
        return a.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self) == b.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self)
    }

    /// The index of the first upper-case ASCII letter in `start..<end` (`end` if none): where a start line can
    /// begin.
    @inline(__always)
    func firstUpper(from start: Int, before end: Int) -> Int {
        guard let base = self.baseAddress else { return end }
        precondition(start >= 0 && end <= self.count)
        var i = start
        while i &+ 8 <= end {
            let x = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            // A byte b with 0x40 < b < 0x5B (bit hacks' `hasbetween`: computed per byte, so exact).
            let low7 = x & 0x7F7F_7F7F_7F7F_7F7F
            let between = (0x0101_0101_0101_0101 &* (127 + 0x5B) &- low7) & ~x
                & (low7 &+ 0x0101_0101_0101_0101 &* (127 - 0x40)) & 0x8080_8080_8080_8080
            if between != 0 { return i &+ (between.trailingZeroBitCount >> 3) }
            i &+= 8
        }
        while i < end {
            if ASCII.isUpper(base.load(fromByteOffset: i, as: UInt8.self)) { return i }
            i &+= 1
        }
        return end
    }
}

/// Byte classes of eight bytes at once. Every test is computed within each byte (no carry or borrow crosses into
/// the next), so the flags are exact: bit 7 of each byte says whether that byte is in the class.
enum ASCIIWord {
    static let high: UInt64 = 0x8080_8080_8080_8080
    private static let low7: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
    private static let ones: UInt64 = 0x0101_0101_0101_0101

    /// Bytes equal to `b`.
    @inline(__always)
    static func equal(_ x: UInt64, _ b: UInt8) -> UInt64 {
        let y = x ^ (Self.ones &* UInt64(b))
        // A byte of y is zero iff neither its low seven bits (plus 0x7F) nor its high bit set bit 7.
        return ~(((y & Self.low7) &+ Self.low7) | y) & Self.high
    }

    /// Bytes in `low...high` (both below 0x80).
    @inline(__always)
    static func between(_ x: UInt64, _ low: UInt8, _ high: UInt8) -> UInt64 {
        let l = x & Self.low7
        let atLeastLow = l &+ Self.ones &* UInt64(0x80 - low)
        let aboveHigh = l &+ Self.ones &* UInt64(0x7F - high)
        return atLeastLow & ~aboveHigh & ~x & Self.high
    }
}

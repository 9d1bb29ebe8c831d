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
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60, 0x7C, 0x7E: return true
        default: return false
        }
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
        var i = range.lowerBound
        let end = range.upperBound
        while i < end {
            if base.load(fromByteOffset: i, as: UInt8.self) == byte { return i }
            i &+= 1
        }
        return nil
    }
}

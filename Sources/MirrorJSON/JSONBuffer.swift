// vpcmirror: the bytes JSON text is written into: literals, escaped strings straight from bytes, integers.

/// A growable byte buffer for writing JSON text: fixed pieces, strings escaped from bytes (RFC 8259), decimal
/// integers. It owns its memory and grows by doubling; the bytes are read back with ``withBytes(_:)``.
///
/// A class so that a writer can hand it around without copying it. One buffer belongs to one thread, so the dynamic
/// exclusivity checks Swift would make on each append (several per JSON value) buy nothing: they are off.
public final class JSONBuffer {
    @usableFromInline @exclusivity(unchecked) var base: UnsafeMutableRawPointer
    @usableFromInline @exclusivity(unchecked) var capacity: Int
    @usableFromInline @exclusivity(unchecked) var written = 0

    /// Bytes written.
    @inlinable public var count: Int { self.written }

    public init(capacity: Int = 1 << 12) {
        self.capacity = max(capacity, 64)
        self.base = .allocate(byteCount: self.capacity, alignment: 8)
    }

    deinit { self.base.deallocate() }

    /// Calls `body` with the bytes written so far (valid during the call only).
    public func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: self.base, count: self.count))
    }

    /// Forgets what was written, keeping the memory.
    public func removeAll() { self.written = 0 }

    /// Cuts the text back to `count` bytes (to take back something just written).
    public func truncate(to count: Int) {
        precondition(count >= 0 && count <= self.written)
        self.written = count
    }

    /// Lower-cases the ASCII letters written from `start` on.
    public func lowercaseASCII(from start: Int) {
        precondition(start >= 0 && start <= self.count)
        for i in start..<self.count {
            let b = self.base.load(fromByteOffset: i, as: UInt8.self)
            if b &- UInt8(ascii: "A") < 26 { self.base.storeBytes(of: b | 0x20, toByteOffset: i, as: UInt8.self) }
        }
    }

    // MARK: - Raw appends

    /// Makes room for `extra` more bytes and returns where they go; the caller then calls ``advance(by:)``.
    @inlinable @inline(__always)
    func reserve(_ extra: Int) -> UnsafeMutableRawPointer {
        if self.written &+ extra > self.capacity { self.grow(extra) }
        return self.base + self.written
    }

    @inlinable @inline(__always)
    func advance(by n: Int) { self.written &+= n }

    @usableFromInline @inline(never)
    func grow(_ extra: Int) {
        var capacity = self.capacity
        while capacity < self.count + extra { capacity *= 2 }
        let base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 8)
        base.copyMemory(from: self.base, byteCount: self.count)
        self.base.deallocate()
        self.base = base
        self.capacity = capacity
    }

    @inlinable @inline(__always)
    public func append(_ byte: UInt8) {
        self.reserve(1).storeBytes(of: byte, as: UInt8.self)
        self.advance(by: 1)
    }

    /// Appends text as it is (no escaping: for keys, punctuation and other fixed pieces).
    @inlinable @inline(__always)
    public func append(_ literal: StaticString) {
        self.append(UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// Appends bytes as they are (no escaping).
    @inlinable @inline(__always)
    public func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress else { return }
        let n = bytes.count
        Self.copy(to: self.reserve(n), from: source, count: n)
        self.advance(by: n)
    }

    /// Copies `n` bytes: a few without a call (``copySmall(to:from:count:)``), more with `memmove`.
    @inlinable @inline(__always)
    static func copy(to target: UnsafeMutableRawPointer, from source: UnsafeRawPointer, count n: Int) {
        if n <= 16 {
            Self.copySmall(to: target, from: source, count: n)
        } else {
            target.copyMemory(from: source, byteCount: n)
        }
    }

    /// Copies up to 16 bytes without a call to `memmove` (most JSON pieces are a few bytes, and the call costs more
    /// than the copy): two overlapping words, or a few bytes.
    @inlinable @inline(__always)
    static func copySmall(to target: UnsafeMutableRawPointer, from source: UnsafeRawPointer, count n: Int) {
        if n >= 8 {
            let head = source.loadUnaligned(as: UInt64.self)
            let tail = source.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self)
            target.storeBytes(of: head, as: UInt64.self)
            target.storeBytes(of: tail, toByteOffset: n &- 8, as: UInt64.self)
        } else if n >= 4 {
            let head = source.loadUnaligned(as: UInt32.self)
            let tail = source.loadUnaligned(fromByteOffset: n &- 4, as: UInt32.self)
            target.storeBytes(of: head, as: UInt32.self)
            target.storeBytes(of: tail, toByteOffset: n &- 4, as: UInt32.self)
        } else {
            for i in 0..<n {
                target.storeBytes(of: source.load(fromByteOffset: i, as: UInt8.self), toByteOffset: i, as: UInt8.self)
            }
        }
    }

    /// Writes `count` bytes in place: `body` gets the room for them and must fill all of it.
    @inlinable @inline(__always)
    public func append(count: Int, _ body: (UnsafeMutableRawBufferPointer) -> Void) {
        let room = self.reserve(count)
        body(UnsafeMutableRawBufferPointer(start: room, count: count))
        self.advance(by: count)
    }

    /// Appends an integer in decimal, with zeros in front up to `width` characters (a sign comes after the zeros,
    /// as when a `String` of it is padded).
    public func append(_ value: Int, zeroPaddedTo width: Int) {
        if value >= 0 && width <= 19 {
            var v = value
            var digits = 1
            var limit = 10
            while digits < 19 && v >= limit {
                digits += 1
                limit = limit &* 10
            }
            let n = max(digits, width)
            self.append(count: n) { room in
                for i in stride(from: n - 1, through: 0, by: -1) {
                    room[i] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v % 10)
                    v /= 10
                }
            }
            return
        }
        var length = value < 0 ? 2 : 1
        var rest = value.magnitude / 10
        while rest > 0 {
            length += 1
            rest /= 10
        }
        for _ in length..<max(length, width) { self.append(UInt8(ascii: "0")) }
        self.append(value)
    }

    /// Appends an integer in decimal.
    public func append(_ value: Int) {
        if value >= 0 && value < 10 {
            self.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value))
            return
        }
        // The magnitude of Int.min fits UInt64. Digits are written backwards straight into the buffer.
        var magnitude = value.magnitude
        var digits = 1
        var power: UInt64 = 10
        while digits < 20 && magnitude >= power {
            digits += 1
            power = power &* 10
        }
        let sign = value < 0 ? 1 : 0
        self.append(count: sign + digits) { room in
            if sign == 1 { room[0] = UInt8(ascii: "-") }
            for i in stride(from: sign + digits - 1, through: sign, by: -1) {
                room[i] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: magnitude % 10)
                magnitude /= 10
            }
        }
    }

    // MARK: - Strings

    /// Appends `bytes` as a JSON string, quotes included: UTF-8 as `String(decoding:as:)` reads it (invalid
    /// sequences become U+FFFD), then `"`, `\` and control characters escaped.
    public func appendString(_ bytes: UnsafeRawBufferPointer) {
        let target = self.reserve(bytes.count &+ 2)
        target.storeBytes(of: UInt8(ascii: "\""), as: UInt8.self)
        self.finishString(bytes, at: target + 1, written: 1)
    }

    /// Appends one member of an object: `"name":` and `value` as a JSON string (``appendString(_:)``), after a comma
    /// unless `first`. `name` is written as it is: the caller knows it needs no escape (a header name is a token).
    public func appendMember(name: UnsafeRawBufferPointer, string value: UnsafeRawBufferPointer, first: Bool) {
        // Room for both made once: `,"` name `":"` value `"`.
        let nameCount = name.count
        let target = self.reserve(nameCount &+ value.count &+ 6)
        var at = 0
        if !first {
            target.storeBytes(of: UInt8(ascii: ","), as: UInt8.self)
            at = 1
        }
        target.storeBytes(of: UInt8(ascii: "\""), toByteOffset: at, as: UInt8.self)
        at &+= 1
        if let source = name.baseAddress { Self.copy(to: target + at, from: source, count: nameCount) }
        at &+= nameCount
        target.storeBytes(of: UInt8(ascii: "\""), toByteOffset: at, as: UInt8.self)
        target.storeBytes(of: UInt8(ascii: ":"), toByteOffset: at &+ 1, as: UInt8.self)
        target.storeBytes(of: UInt8(ascii: "\""), toByteOffset: at &+ 2, as: UInt8.self)
        at &+= 3
        self.finishString(value, at: target + at, written: at)
    }

    /// Writes `bytes` and the closing quote at `target`, where room for them was made and `written` bytes before
    /// them are not yet counted. Most strings need no escape: they are scanned and copied in one pass, a word at a
    /// time; at the first byte that needs more, the rest goes the long way.
    @inline(__always)
    private func finishString(_ bytes: UnsafeRawBufferPointer, at target: UnsafeMutableRawPointer, written: Int) {
        let n = bytes.count
        guard let source = bytes.baseAddress else {
            target.storeBytes(of: UInt8(ascii: "\""), as: UInt8.self)
            self.advance(by: written &+ 1)
            return
        }
        var i = 0
        while i &+ 8 <= n {
            let w = source.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            if Self.special(w, nonASCII: true) != 0 { break }
            target.storeBytes(of: w, toByteOffset: i, as: UInt64.self)
            i &+= 8
        }
        if n &- i < 8 && i < n && n >= 8 {
            // Fewer than eight left: the last word, overlapping what was copied (which needs nothing), does most
            // tails in one step.
            let w = source.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self)
            if Self.special(w, nonASCII: true) == 0 {
                target.storeBytes(of: w, toByteOffset: n &- 8, as: UInt64.self)
                i = n
            }
        }
        while i < n {
            let b = source.load(fromByteOffset: i, as: UInt8.self)
            if b < 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") || b >= 0x80 { break }
            target.storeBytes(of: b, toByteOffset: i, as: UInt8.self)
            i &+= 1
        }
        if i == n {
            target.storeBytes(of: UInt8(ascii: "\""), toByteOffset: n, as: UInt8.self)
            self.advance(by: written &+ n &+ 1)
            return
        }
        // What was copied is ASCII, so the rest escapes (and decodes) as it would have with it.
        self.advance(by: written &+ i)
        self.appendEscaped(UnsafeRawBufferPointer(start: source + i, count: n &- i))
        self.append(UInt8(ascii: "\""))
    }

    /// The high bit of each byte of `w` that needs escaping (below 0x20, `"`, `\`), or (with `nonASCII`) is 0x80 or
    /// above (other high bits may be set past the first such byte).
    @inline(__always)
    private static func special(_ w: UInt64, nonASCII: Bool) -> UInt64 {
        let low: UInt64 = 0x0101_0101_0101_0101
        let high: UInt64 = 0x8080_8080_8080_8080
        let control = (w &- low &* 0x20) & ~w
        let quote = w ^ (low &* 0x22)
        let backslash = w ^ (low &* 0x5C)
        var special = control | ((quote &- low) & ~quote) | ((backslash &- low) & ~backslash)
        if nonASCII { special |= w }
        return special & high
    }

    /// Appends a `String` as a JSON string, quotes included.
    public func appendString(_ string: String) {
        var string = string
        string.withUTF8 { self.appendString(UnsafeRawBufferPointer($0)) }
    }

    /// Appends the escaped text of a JSON string, without quotes.
    public func appendEscaped(_ bytes: UnsafeRawBufferPointer) {
        self.appendEscaped(bytes, validUTF8: false)
    }

    /// `validUTF8`: the bytes are known to be valid UTF-8, and bytes of 0x80 and above are copied.
    private func appendEscaped(_ bytes: UnsafeRawBufferPointer, validUTF8: Bool) {
        guard let source = bytes.baseAddress else { return }
        let n = bytes.count
        var start = 0
        while true {
            // Runs that need nothing are copied whole; each byte that does is escaped on its own.
            let special = Self.firstSpecial(source, from: start, to: n, nonASCII: !validUTF8)
            self.append(UnsafeRawBufferPointer(start: source + start, count: special - start))
            if special == n { return }
            let b = source.load(fromByteOffset: special, as: UInt8.self)
            if b >= 0x80 {
                // Invalid UTF-8 is replaced as Swift's decoder does, so output equals that of the text as a String.
                // (What came before is ASCII, so decoding from here gives what decoding it all would.)
                var text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[special...]), as: UTF8.self)
                text.withUTF8 { self.appendEscaped(UnsafeRawBufferPointer($0), validUTF8: true) }
                return
            }
            self.appendEscape(b)
            start = special + 1
        }
    }

    /// The first byte from `start` that needs escaping (below 0x20, `"`, `\`), or (with `nonASCII`) is 0x80 or
    /// above; `end` if none.
    @inline(__always)
    private static func firstSpecial(_ source: UnsafeRawPointer, from start: Int, to end: Int, nonASCII: Bool) -> Int {
        var i = start
        // Eight bytes at a time past words with none (most header values are all such words).
        while i + 8 <= end {
            let w = source.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            if Self.special(w, nonASCII: nonASCII) != 0 { break }
            i += 8
        }
        while i < end {
            let b = source.load(fromByteOffset: i, as: UInt8.self)
            if b < 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") || (nonASCII && b >= 0x80) { return i }
            i += 1
        }
        return end
    }

    private func appendEscape(_ b: UInt8) {
        switch b {
        case UInt8(ascii: "\""): self.append("\\\"")
        case UInt8(ascii: "\\"): self.append("\\\\")
        case UInt8(ascii: "\n"): self.append("\\n")
        case UInt8(ascii: "\r"): self.append("\\r")
        case UInt8(ascii: "\t"): self.append("\\t")
        default:
            // The other controls, as \u00XX (lower-case hex, as before).
            let hex: StaticString = "0123456789abcdef"
            self.append(count: 6) { room in
                room[0] = UInt8(ascii: "\\")
                room[1] = UInt8(ascii: "u")
                room[2] = UInt8(ascii: "0")
                room[3] = UInt8(ascii: "0")
                room[4] = hex.utf8Start[Int(b >> 4)]
                room[5] = hex.utf8Start[Int(b & 15)]
            }
        }
    }
}

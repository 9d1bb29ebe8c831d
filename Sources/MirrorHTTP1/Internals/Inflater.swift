// vpcmirror: ISA-L's inflate, streamed, to measure decoded body sizes without keeping the bodies.
internal import CIsal

/// One inflate stream (ISA-L's igzip) whose output is counted and thrown away: one body, all its gzip members.
///
/// A class because its state (87 KiB: Huffman tables and the 32 KiB history) is large and is changed in place. It is
/// `@unchecked Sendable` because its owner copies it (``copy()``) before mutating it when it is shared, so no two
/// owners ever mutate the same stream.
final class Inflater: @unchecked Sendable {
    enum Status {
        case ok
        case error
        case limit
    }

    /// What wraps the deflate data.
    enum Format {
        /// "gzip": gzip members, or a zlib stream; the first byte tells which (0x1F is gzip's, and never a valid
        /// zlib header's), as zlib's automatic header detection does.
        case gzipOrZlib
        case zlib
        /// Raw deflate (RFC 1951), which some servers send as "deflate".
        case raw
    }

    private static let outputSize = 16 * 1024
    /// Compressed bytes are gathered up to this many before igzip is called: each call copies its 32 KiB of history
    /// and decodes the end of its input the slow way, a cost per call that per TCP segment was a quarter of inflating.
    private static let inputSize = 16 * 1024
    private let state: UnsafeMutablePointer<inflate_state>
    private let output: UnsafeMutablePointer<UInt8>
    private let gathered: UnsafeMutablePointer<UInt8>
    private var gatheredCount = 0
    private var format = Format.raw
    /// The wrapper of the stream under way is still to be chosen from its first byte (``Format/gzipOrZlib``).
    private var awaitingFirstByte = false
    /// Decoded bytes of the current body (all gzip members).
    private(set) var produced = 0
    /// The compressed stream reached its end, checksum verified (a later gzip member starts a new one).
    private(set) var atStreamEnd = false

    /// "deflate" is meant to be zlib-wrapped (RFC 9110 §8.4.1.2), but some servers send raw deflate: a valid zlib
    /// header (CM 8, CINFO ≤ 7, FCHECK) means zlib, anything else raw.
    static func deflateFormat(_ b0: UInt8, _ b1: UInt8) -> Format {
        b0 & 0x0F == 8 && b0 >> 4 <= 7 && (UInt16(b0) << 8 | UInt16(b1)) % 31 == 0 ? .zlib : .raw
    }

    init() {
        self.state = .allocate(capacity: 1)
        self.output = .allocate(capacity: Self.outputSize)
        self.gathered = .allocate(capacity: Self.inputSize)
        isal_inflate_init(self.state)
    }

    deinit {
        self.state.deallocate()
        self.output.deallocate()
        self.gathered.deallocate()
    }

    /// Starts a new body.
    func start(_ format: Format) {
        self.produced = 0
        self.atStreamEnd = false
        self.gatheredCount = 0
        self.format = format
        self.restart()
    }

    /// Starts a new stream (the body's first, or its next gzip member).
    private func restart() {
        isal_inflate_reset(self.state)
        switch self.format {
        case .gzipOrZlib: self.awaitingFirstByte = true
        case .zlib: self.state.pointee.crc_flag = UInt32(ISAL_ZLIB)
        case .raw: self.state.pointee.crc_flag = UInt32(ISAL_DEFLATE)
        }
    }

    /// A separate stream in the same state, for copy-on-write. The state holds no pointers into itself (only the
    /// caller's input and output, set again on every call), so a byte copy is a working copy.
    func copy() -> Inflater {
        let other = Inflater()
        other.state.update(from: self.state, count: 1)
        other.format = self.format
        other.awaitingFirstByte = self.awaitingFirstByte
        other.produced = self.produced
        other.atStreamEnd = self.atStreamEnd
        other.gathered.update(from: self.gathered, count: self.gatheredCount)
        other.gatheredCount = self.gatheredCount
        return other
    }

    /// Takes `input` for inflating, counting what comes out. Small pieces are gathered first, so the counts (and
    /// ``atStreamEnd``) are up to date only after ``flush(limit:)``. Stops with `.limit` once more than `limit`
    /// bytes came out.
    func feed(_ input: UnsafeRawBufferPointer, limit: Int) -> Status {
        guard let base = input.baseAddress else { return .ok }
        if self.gatheredCount + input.count <= Self.inputSize {
            (self.gathered + self.gatheredCount).update(from: base.assumingMemoryBound(to: UInt8.self), count: input.count)
            self.gatheredCount += input.count
            return .ok
        }
        let status = self.flush(limit: limit)
        guard status == .ok else { return status }
        guard input.count > Self.inputSize else { return self.feed(input, limit: limit) }  // gathered now
        return self.inflate(input, limit: limit)
    }

    /// Inflates what was gathered.
    func flush(limit: Int) -> Status {
        guard self.gatheredCount > 0 else { return .ok }
        let count = self.gatheredCount
        self.gatheredCount = 0
        return self.inflate(UnsafeRawBufferPointer(start: self.gathered, count: count), limit: limit)
    }

    private func inflate(_ input: UnsafeRawBufferPointer, limit: Int) -> Status {
        guard let base = input.baseAddress else { return .ok }
        var offset = 0
        while offset < input.count {
            if self.atStreamEnd {
                // Bytes after the end: another gzip member (RFC 1952 §2.2) starts again; after zlib or raw, ignored.
                guard self.format == .gzipOrZlib else { return .ok }
                self.atStreamEnd = false
                self.restart()
            }
            if self.awaitingFirstByte {
                self.awaitingFirstByte = false
                self.state.pointee.crc_flag = UInt32(input[offset] == 0x1F ? ISAL_GZIP : ISAL_ZLIB)
            }
            let n = min(input.count - offset, Int(UInt32.max))
            self.state.pointee.next_in = UnsafeMutablePointer(mutating: (base + offset).assumingMemoryBound(to: UInt8.self))
            self.state.pointee.avail_in = UInt32(n)
            while true {
                self.state.pointee.next_out = self.output
                self.state.pointee.avail_out = UInt32(Self.outputSize)
                let rc = isal_inflate(self.state)
                self.produced += Self.outputSize - Int(self.state.pointee.avail_out)
                if self.produced > limit { return .limit }
                // Corrupt data, a bad header, a checksum that does not match.
                guard rc >= 0 else { return .error }
                if self.state.pointee.block_state == ISAL_BLOCK_FINISH {
                    self.atStreamEnd = true
                    break
                }
                // All input taken and the output not filled: nothing more to come out until more input.
                if self.state.pointee.avail_out != 0 { break }
            }
            var consumed = n - Int(self.state.pointee.avail_in)
            if self.atStreamEnd {
                // Whole bytes still in ISA-L's bit buffer were read past the end (after a zlib trailer; a gzip one
                // gives them back itself): the next member starts there. Read ahead in an earlier call, they are
                // gone, and the next member fails to inflate: flagged, not miscounted.
                consumed -= min(consumed, Int(self.state.pointee.read_in_length) / 8)
            }
            offset += consumed
            if !self.atStreamEnd && self.state.pointee.avail_in != 0 { return .error }  // stopped short: never spin
        }
        return .ok
    }
}

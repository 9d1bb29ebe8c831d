// vpcmirror: zlib's inflate, streamed, to measure decoded body sizes without keeping the bodies.
internal import CZlib

/// One zlib inflate stream whose output is counted and thrown away. Reused for every body of a direction.
///
/// A class because zlib's state points back at its `z_stream`, which must therefore stay at one address. It is
/// `@unchecked Sendable` because its owner copies it (``copy()``) before mutating it when it is shared, so no two
/// owners ever mutate the same stream.
final class Inflater: @unchecked Sendable {
    enum Status {
        case ok
        case error
        case limit
    }

    private static let outputSize = 16 * 1024
    private let stream: UnsafeMutablePointer<z_stream>
    private let output: UnsafeMutablePointer<UInt8>
    private var initialized = false
    private var windowBits: Int32 = 0
    /// Decoded bytes of the current body (all gzip members).
    private(set) var produced = 0
    /// The compressed stream reached its end (a later gzip member starts a new one).
    private(set) var atStreamEnd = false

    /// gzip and zlib headers, told apart by zlib itself.
    static let gzipWindowBits: Int32 = 15 + 32

    /// "deflate" is meant to be zlib-wrapped (RFC 9110 §8.4.1.2), but some servers send raw deflate: a valid zlib
    /// header (CM 8, CINFO ≤ 7, FCHECK) means zlib, anything else raw.
    static func deflateWindowBits(_ b0: UInt8, _ b1: UInt8) -> Int32 {
        b0 & 0x0F == 8 && b0 >> 4 <= 7 && (UInt16(b0) << 8 | UInt16(b1)) % 31 == 0 ? 15 : -15
    }

    init() {
        self.stream = .allocate(capacity: 1)
        self.stream.initialize(to: z_stream())
        self.output = .allocate(capacity: Self.outputSize)
    }

    deinit {
        if self.initialized { inflateEnd(self.stream) }
        self.stream.deinitialize(count: 1)
        self.stream.deallocate()
        self.output.deallocate()
    }

    /// Starts a new body. Returns false if zlib could not be set up (then the body is flagged, not decoded).
    func start(windowBits: Int32) -> Bool {
        self.produced = 0
        self.atStreamEnd = false
        self.windowBits = windowBits
        if self.initialized { return inflateReset2(self.stream, windowBits) == Z_OK }
        let rc = inflateInit2_(self.stream, windowBits, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        self.initialized = rc == Z_OK
        return self.initialized
    }

    /// A separate stream in the same state (`inflateCopy`), for copy-on-write.
    func copy() -> Inflater {
        let other = Inflater()
        if self.initialized && inflateCopy(other.stream, self.stream) == Z_OK { other.initialized = true }
        other.windowBits = self.windowBits
        other.produced = self.produced
        other.atStreamEnd = self.atStreamEnd
        return other
    }

    /// Inflates `input`, counting what comes out. Stops with `.limit` once more than `limit` bytes came out.
    func feed(_ input: UnsafeRawBufferPointer, limit: Int) -> Status {
        guard self.initialized else { return .error }
        guard let base = input.baseAddress else { return .ok }
        var offset = 0
        while offset < input.count {
            if self.atStreamEnd {
                // Bytes after the end: another gzip member (RFC 1952 §2.2) starts again; after deflate, ignored.
                guard self.windowBits == Self.gzipWindowBits, inflateReset(self.stream) == Z_OK else { return .ok }
                self.atStreamEnd = false
            }
            let n = min(input.count - offset, Int(UInt32.max))
            self.stream.pointee.next_in = UnsafeMutablePointer(
                mutating: (base + offset).assumingMemoryBound(to: Bytef.self))
            self.stream.pointee.avail_in = uInt(n)
            while true {
                self.stream.pointee.next_out = self.output
                self.stream.pointee.avail_out = uInt(Self.outputSize)
                let rc = inflate(self.stream, Z_NO_FLUSH)
                self.produced += Self.outputSize - Int(self.stream.pointee.avail_out)
                if self.produced > limit { return .limit }
                if rc == Z_STREAM_END {
                    self.atStreamEnd = true
                    break
                }
                if rc == Z_BUF_ERROR { break }  // no progress possible: all input used, output flushed
                guard rc == Z_OK else { return .error }
                if self.stream.pointee.avail_in == 0 && self.stream.pointee.avail_out != 0 { break }
            }
            let consumed = n - Int(self.stream.pointee.avail_in)
            offset += consumed
            if !self.atStreamEnd && consumed < n { return .error }  // zlib stopped short without an end: never spin
        }
        return .ok
    }
}

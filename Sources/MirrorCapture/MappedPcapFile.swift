// vpcmirror: classic pcap files mapped into memory, so frames are read where they lie (no read(2), no copy).
internal import CPcap
#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif
public import MirrorWire

/// A classic pcap file (either byte order, µs or ns timestamps) mapped read-only. Frames point into the map and
/// stay valid for as long as the file is open, so a caller may keep many at once (batches for other threads).
///
/// It reads only what it can read exactly as libpcap does: a record libpcap would treat specially (longer than
/// the snapshot length, or cut off by the end of the file) stops it with ``Next/irregular``, and the caller goes
/// on from that frame with `CaptureFileReader`, which has libpcap's rules and error messages. pcapng and other
/// magic numbers are not mapped at all (``open(path:linkType:snapshotLength:)`` returns nil).
///
/// Pages of the file count as resident once touched; ``release(below:)`` gives back those behind the reader,
/// so a large file does not grow the process's memory.
public struct MappedPcapFile: ~Copyable {
    /// What ``next()`` found.
    public enum Next {
        /// The next frame; its bytes point into the map.
        case frame(CapturedFrame)
        /// The end of the file, after a whole record.
        case endOfFile
        /// A record to read with libpcap instead, from frame ``framesRead`` on.
        case irregular
    }

    private static let fileHeaderByteCount = 24
    private static let recordHeaderByteCount = 16

    private let base: UnsafeRawPointer
    private let byteCount: Int
    private let swapped: Bool
    private let nanosecond: Bool
    private let linkType: LinkType
    private let snapshotLength: Int
    private var offset = MappedPcapFile.fileHeaderByteCount
    /// Pages below this were released.
    private var released = 0
    /// Bytes below this were mapped in ahead (`MADV_POPULATE_READ`) and asked into the cache (prefetched).
    private var populated = 0
    private var prefetched = 0
    /// How far ahead pages are mapped in (one call instead of a fault per few pages) and lines prefetched: the
    /// loads of record headers are otherwise a cache miss each, which costs more than the rest of reading.
    private static let populateAhead = 4 << 20
    private static let prefetchAhead = 4096
    /// Pages are dropped this many bytes at a time: each drop interrupts every other CPU running one of our threads (a
    /// TLB shootdown, costly in a virtual machine), and 1 MiB at a time made 125 of them on the benchmark input.
    public var releaseStep = 16 << 20
    /// `MADV_POPULATE_READ` (Linux 5.14), which older C headers do not define.
    private static let populateRead: Int32 = 22
    /// Frames handed out so far.
    public private(set) var framesRead = 0
    /// Where the next record starts.
    public var nextRecordOffset: Int { self.offset }

    /// Maps `path` if it is a classic pcap file.
    /// - Parameters:
    ///   - linkType, snapshotLength: as libpcap reported them for the same file (`CaptureFileReader`), which
    ///     has checked its header: frames carry that link type, and records longer than that length are left to
    ///     libpcap.
    /// - Returns: nil for pcapng, other magic numbers, files that cannot be mapped, or empty captures.
    public static func open(path: String, linkType: LinkType, snapshotLength: Int) -> MappedPcapFile? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0, status.st_size > Self.fileHeaderByteCount else { return nil }
        let byteCount = Int(status.st_size)
        guard let map = mmap(nil, byteCount, PROT_READ, MAP_PRIVATE, fd, 0), map != MAP_FAILED else { return nil }
        _ = madvise(map, byteCount, MADV_SEQUENTIAL)
        let base = UnsafeRawPointer(map)
        let magic = base.loadUnaligned(as: UInt32.self)
        let swapped: Bool
        let nanosecond: Bool
        switch magic {
        case 0xA1B2_C3D4: (swapped, nanosecond) = (false, false)
        case 0xA1B2_3C4D: (swapped, nanosecond) = (false, true)
        case 0xD4C3_B2A1: (swapped, nanosecond) = (true, false)
        case 0x4D3C_B2A1: (swapped, nanosecond) = (true, true)
        default:
            munmap(map, byteCount)
            return nil
        }
        return MappedPcapFile(
            base: base, byteCount: byteCount, swapped: swapped, nanosecond: nanosecond, linkType: linkType,
            snapshotLength: snapshotLength)
    }

    private init(
        base: UnsafeRawPointer, byteCount: Int, swapped: Bool, nanosecond: Bool, linkType: LinkType,
        snapshotLength: Int
    ) {
        self.base = base
        self.byteCount = byteCount
        self.swapped = swapped
        self.nanosecond = nanosecond
        self.linkType = linkType
        self.snapshotLength = snapshotLength
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: self.base), self.byteCount)
    }

    @inline(__always)
    private func word(at offset: Int) -> UInt32 {
        let raw = (self.base + offset).loadUnaligned(as: UInt32.self)
        return self.swapped ? raw.byteSwapped : raw
    }

    @inline(__always)
    private func widened(_ word: UInt32) -> Int64 {
        self.swapped ? Int64(word) : Int64(Int32(bitPattern: word))
    }

    /// The next frame, the end, or a record for libpcap.
    public mutating func next() -> Next {
        let start = self.offset
        self.readAhead(from: start)
        let remaining = self.byteCount - start
        if remaining == 0 { return .endOfFile }
        guard remaining >= Self.recordHeaderByteCount else { return .irregular }
        let captured = Int(self.word(at: start + 8))
        guard captured <= self.snapshotLength, captured <= remaining - Self.recordHeaderByteCount else {
            return .irregular
        }
        // As libpcap widens them: its header fields are signed 32-bit, but a byte-swapped file's come out of the swap
        // unsigned. µs are scaled to ns, never normalized. (A test compares odd values with libpcap's.)
        let seconds = self.widened(self.word(at: start))
        let fraction = self.widened(self.word(at: start + 4))
        let frame = CapturedFrame(
            bytes: UnsafeRawBufferPointer(start: self.base + start + Self.recordHeaderByteCount, count: captured),
            originalLength: Int(self.word(at: start + 12)),
            timestampNanoseconds: seconds &* 1_000_000_000 &+ (self.nanosecond ? fraction : fraction &* 1000),
            linkType: self.linkType)
        self.offset = start + Self.recordHeaderByteCount + captured
        self.framesRead += 1
        return .frame(frame)
    }

    @inline(__always)
    private mutating func readAhead(from start: Int) {
        if start + Self.populateAhead / 2 > self.populated && self.populated < self.byteCount {
            let page = Int(sysconf(Int32(_SC_PAGESIZE)))
            let from = self.populated / page * page
            let to = min(self.byteCount, from + Self.populateAhead)
            // On kernels before 5.14 it fails and pages fault in as before.
            _ = madvise(UnsafeMutableRawPointer(mutating: self.base + from), to - from, Self.populateRead)
            self.populated = to
        }
        let end = min(self.byteCount, start + Self.prefetchAhead)
        while self.prefetched < end {
            vpcmirror_prefetch(self.base + self.prefetched)
            self.prefetched += 64
        }
    }

    /// Asks for the cache line at `address` ahead of reading it (a hint: it never faults).
    @inline(__always)
    public static func prefetch(_ address: UnsafeRawPointer) {
        vpcmirror_prefetch(address)
    }

    /// Drops the resident pages wholly below `offset` (frames there stay readable: they come back from the page
    /// cache if touched again).
    public mutating func release(below offset: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let end = min(offset, self.byteCount) / page * page
        guard end >= self.released + self.releaseStep, end > self.released else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: self.base + self.released), end - self.released, MADV_DONTNEED)
        self.released = end
    }
}

// Read-only memory, owned by one value that cannot be copied.
extension MappedPcapFile: @unchecked Sendable {}

// vpcmirror: reads pcap and pcapng files through libpcap, one frame at a time, without copying frames.
public import MirrorWire

/// Reads a capture file: classic pcap in either byte order with µs or ns timestamps, or pcapng.
/// Timestamps always come back in nanoseconds.
///
/// libpcap reads every file it can. libpcap 1.10 refuses pcapng files whose Interface Description Blocks
/// differ in link type or snapshot length, which the format allows and merged captures have; for those
/// the reader falls back to the pure-Swift codec in MirrorWire (see `next`).
///
/// The reader is the one owner of its libpcap handle: it cannot be copied, and `deinit` closes the
/// handle and the file. After an error every later `next` throws the same error.
public struct CaptureFileReader: ~Copyable {
    private enum State {
        case reading
        case finished
        case failed(CaptureError)
    }

    /// How the reader knows where each record starts, for error messages. Asking stdio (`ftell`) costs a
    /// syscall per frame, which more than doubles libpcap's per-frame cost. In classic pcap a record is a
    /// 16-byte header and its captured bytes, so there we add up instead, once the sum is checked.
    private enum OffsetTracking {
        /// Classic pcap before the first frame: check the sum against `ftell` once.
        case unverified
        /// Add `recordHeaderByteCount` and the captured length.
        case counting
        /// pcapng (blocks we do not see), or a record layout the sum got wrong: ask `ftell`.
        case asking
    }

    private static let recordHeaderByteCount = 16

    /// The default of `fallbackByteLimit`: 1 GiB.
    public static let defaultFallbackByteLimit = 1 << 30

    private let handle: OpaquePointer
    /// The stdio buffer libpcap reads the file through (freed after the handle is closed).
    private let streamBuffer: UnsafeMutableRawBufferPointer
    /// Its size: a `read` per megabyte rather than per 4 KiB.
    private static let streamBufferByteCount = 1 << 20
    private var state: State = .reading
    private var offsetTracking: OffsetTracking
    /// Where the next record starts, when counted; nil means ask `ftell`.
    private var nextRecordOffset: Int? = nil
    private let isPcapng: Bool
    /// Set once libpcap refused the file part-way; from then on frames come from here, and the handle is
    /// idle until `deinit` closes it. An optional, so that `?.next()` mutates it in place.
    private var fallback: PcapRecordReader? = nil
    /// The largest file the fallback reads into memory.
    public let fallbackByteLimit: Int
    /// The path as given to `init`.
    public let path: String
    /// The file's link-layer type (pcapng: the first interface's), as libpcap reports it (a DLT value:
    /// LINKTYPE_RAW files report `.rawDLT12`).
    public let linkType: LinkType
    /// The snapshot length in the file header (or first interface), as libpcap adjusts it: 0 and
    /// oversized values become libpcap's maximum.
    public let snapshotLength: Int
    /// Frames handed out so far.
    public private(set) var framesRead = 0
    /// True once libpcap has refused the file part-way and frames come from the pure-Swift fallback
    /// (see `next`).
    public var usesPureSwiftFallback: Bool { self.fallback != nil }

    /// Opens `path`.
    /// - Parameters:
    ///   - path: a pcap or pcapng file.
    ///   - fallbackByteLimit: the largest file the pure-Swift fallback reads into memory (see `next`);
    ///     1 GiB by default.
    /// - Throws: `fileNotFound`, `permissionDenied`, `notACapture`, `truncated` (inside the file header),
    ///   `unsupportedLinkType` (of the file, or of the first pcapng interface), or `readFailed`. An empty
    ///   capture with a valid header is not an error.
    public init(path: String, fallbackByteLimit: Int = CaptureFileReader.defaultFallbackByteLimit) throws(CaptureError) {
        let handle: OpaquePointer
        let streamBuffer = UnsafeMutableRawBufferPointer.allocate(
            byteCount: Self.streamBufferByteCount, alignment: 16)
        switch Libpcap.openOffline(path: path, streamBuffer: streamBuffer) {
        case .success(let opened):
            handle = opened
        case .failure(.errno(let code)):
            streamBuffer.deallocate()
            throw CaptureError.opening(path, errno: code, description: SystemErrno.description(code))
        case .failure(.message(let message, let byteCount)):
            streamBuffer.deallocate()
            throw CaptureError.opening(path, libpcapMessage: message, fileByteCount: byteCount)
        }
        let linkType = LinkType(rawValue: Libpcap.dataLink(handle))
        guard linkType.isSupported else {
            // Close here: `self` is not initialized yet, so deinit will not run.
            Libpcap.close(handle)
            streamBuffer.deallocate()
            let name = Libpcap.dataLinkName(linkType.rawValue).map { " (\($0))" } ?? ""
            throw CaptureError(code: .unsupportedLinkType, path: path, detail: "DLT \(linkType.rawValue)\(name)")
        }
        self.handle = handle
        self.streamBuffer = streamBuffer
        self.path = path
        self.linkType = linkType
        self.snapshotLength = Libpcap.snapshotLength(handle)
        self.isPcapng = Libpcap.majorVersion(handle) == 1
        self.offsetTracking = self.isPcapng ? .asking : .unverified
        self.fallbackByteLimit = fallbackByteLimit
    }

    deinit {
        Libpcap.close(self.handle)
        self.streamBuffer.deallocate()
    }

    /// Reads the next frame and passes it to `body`; the frame's bytes are valid only inside `body`.
    ///
    /// **Fallback.** When libpcap refuses a pcapng file because an interface's link type or snapshot length
    /// differs from the first interface's (libpcap says so at the first frame after that interface's
    /// block, not when the file is opened), the reader reads the whole file into memory, parses it with
    /// MirrorWire's `PcapRecordReader`, skips the frames libpcap already handed out, and serves the rest
    /// from there. It is meant for such unusual files only: it holds the file (at most `fallbackByteLimit`
    /// bytes; larger files fail with `readFailed`) plus one frame in memory, and copies each frame.
    /// Each frame then carries the link type of its own interface (LINKTYPE_RAW as the DLT libpcap would
    /// report). Frames whose link type we cannot decode are handed out all the same, so that every record
    /// reaches the caller and is counted (the decoder counts them as malformed).
    /// - Returns: what `body` returned, or nil at the end of the file.
    /// - Throws: `truncated` when the file ends inside a record, `readFailed` for anything else libpcap (or,
    ///   in the fallback, the pure-Swift codec) rejects; both carry the frame index and the byte offset
    ///   where the record (pcap) or block (pcapng) starts.
    public mutating func next<R>(_ body: (CapturedFrame) -> R) throws(CaptureError) -> R? {
        switch self.state {
        case .reading: break
        case .finished: return nil
        case .failed(let error): throw error
        }
        if self.fallback != nil {
            return try self.nextFromFallback(body)
        }
        // Known before the read, so a truncated record is reported where it starts.
        let offset = self.nextRecordOffset ?? Libpcap.fileOffset(self.handle)
        switch Libpcap.next(self.handle) {
        case .packet(let data, let originalLength, let seconds, let subsecond):
            self.nextRecordOffset = self.offsetAfterRecord(at: offset, capturedByteCount: data.count)
            self.framesRead += 1
            // Wrapping: seconds come from a 32-bit (pcap) or 64-bit (pcapng) field libpcap already converted.
            let nanoseconds = seconds &* 1_000_000_000 &+ subsecond
            let frame = CapturedFrame(
                bytes: data,
                originalLength: originalLength,
                timestampNanoseconds: nanoseconds,
                linkType: self.linkType
            )
            return body(frame)
        case .endOfFile, .timeout:
            // A savefile never times out; treat it as the end rather than spin.
            self.state = .finished
            return nil
        case .failure(let message) where self.isPcapng && Self.isPerInterfaceRefusal(message):
            do {
                try self.startFallback(libpcapMessage: message, byteOffset: offset)
            } catch {
                self.state = .failed(error)
                throw error
            }
            return try self.nextFromFallback(body)
        case .failure(let message):
            let error = CaptureError.reading(
                self.path,
                libpcapMessage: message,
                frameIndex: self.framesRead,
                byteOffset: offset
            )
            self.state = .failed(error)
            throw error
        }
    }
}

extension CaptureFileReader {
    /// Where the record after one at `offset` starts, or nil to ask `ftell` before the next read.
    private mutating func offsetAfterRecord(at offset: Int?, capturedByteCount: Int) -> Int? {
        // libpcap cuts a record longer than the snapshot length and skips the rest: the sum would be short.
        guard let offset, capturedByteCount < self.snapshotLength else { return nil }
        let counted = offset + Self.recordHeaderByteCount + capturedByteCount
        switch self.offsetTracking {
        case .asking:
            return nil
        case .counting:
            return counted
        case .unverified:
            // Kuznetzov's patched format has 24-byte record headers; the check catches it and any other.
            let actual = Libpcap.fileOffset(self.handle)
            self.offsetTracking = actual == counted ? .counting : .asking
            return actual
        }
    }
}

// MARK: - Pure-Swift fallback

extension CaptureFileReader {
    /// libpcap 1.10 requires every Interface Description Block to match the first one: "an interface has a
    /// type 101 different from the type of the first interface", "an interface has a snapshot length 8192
    /// different from the snapshot length of the first interface" (older versions also compare time stamp
    /// resolutions the same way). The format allows all of these.
    private static func isPerInterfaceRefusal(_ message: String) -> Bool {
        message.hasPrefix("an interface has a ") && message.contains(" different from the ")
    }

    /// Reads the whole file for the pure-Swift codec and skips the frames libpcap already handed out.
    private mutating func startFallback(libpcapMessage message: String, byteOffset: Int?) throws(CaptureError) {
        let bytes: [UInt8]
        switch Libpcap.readWholeFile(self.handle, maxByteCount: self.fallbackByteLimit) {
        case .success(let read):
            bytes = read
        case .failure(.tooLarge(let byteCount)):
            throw CaptureError(
                code: .readFailed,
                path: self.path,
                detail: "libpcap cannot read this file (\(message)), and at \(byteCount) bytes it is over the "
                    + "\(self.fallbackByteLimit)-byte limit of the pure-Swift reader, which reads such files into memory",
                frameIndex: self.framesRead,
                byteOffset: byteOffset
            )
        case .failure(.errno(let code)):
            throw CaptureError(
                code: .readFailed,
                path: self.path,
                detail: "reading the file for the pure-Swift reader after libpcap refused it (\(message)): "
                    + SystemErrno.description(code),
                frameIndex: self.framesRead,
                byteOffset: byteOffset
            )
        }
        var reader: PcapRecordReader
        do {
            reader = try PcapRecordReader(bytes: bytes)
            // libpcap handed these out already, the same frames (the tests compare both readers on every fixture).
            for _ in 0..<self.framesRead {
                guard try reader.next() != nil else { break }
            }
        } catch {
            throw CaptureError.reading(self.path, pureSwiftError: error, frameIndex: self.framesRead)
        }
        self.fallback = reader
    }

    private mutating func nextFromFallback<R>(_ body: (CapturedFrame) -> R) throws(CaptureError) -> R? {
        let record: PcapRecord?
        do {
            record = try self.fallback?.next()
        } catch {
            let failure = CaptureError.reading(self.path, pureSwiftError: error, frameIndex: self.framesRead)
            self.state = .failed(failure)
            throw failure
        }
        guard let record else {
            self.state = .finished
            return nil
        }
        self.framesRead += 1
        let linkType = Self.dataLink(fileLinkType: record.linkType)
        return record.bytes.withUnsafeBytes { bytes in
            body(
                CapturedFrame(
                    bytes: bytes,
                    originalLength: record.originalLength,
                    timestampNanoseconds: record.timestampNanoseconds,
                    linkType: linkType
                )
            )
        }
    }

    /// The value libpcap would report for a LINKTYPE stored in the file, so that frames from either path
    /// agree: among the types we decode only raw IP differs (LINKTYPE_RAW 101 is DLT_RAW). Other values pass
    /// unchanged.
    private static func dataLink(fileLinkType linkType: LinkType) -> LinkType {
        linkType == .raw ? LinkType(rawValue: Libpcap.rawIPDataLink) : linkType
    }
}

// The handle is used only through `mutating` methods of a value that cannot be copied, so moving the
// reader to another task hands libpcap over whole; the other members are immutable or Sendable values.
extension CaptureFileReader: @unchecked Sendable {}

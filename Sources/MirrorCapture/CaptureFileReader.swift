// vpcmirror: reads pcap and pcapng files through libpcap, one frame at a time, without copying frames.
public import MirrorWire

/// Reads a capture file: classic pcap in either byte order with µs or ns timestamps, or pcapng.
/// Timestamps always come back in nanoseconds.
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

    private let handle: OpaquePointer
    private var state: State = .reading
    private var offsetTracking: OffsetTracking
    /// Where the next record starts, when counted; nil means ask `ftell`.
    private var nextRecordOffset: Int? = nil
    /// The path as given to `init`.
    public let path: String
    /// The file's link-layer type, as libpcap reports it (a DLT value: LINKTYPE_RAW files report `.rawDLT12`).
    public let linkType: LinkType
    /// The snapshot length in the file header (or first interface), as libpcap adjusts it: 0 and
    /// oversized values become libpcap's maximum.
    public let snapshotLength: Int
    /// Frames handed out so far.
    public private(set) var framesRead = 0

    /// Opens `path`.
    /// - Throws: `fileNotFound`, `permissionDenied`, `notACapture`, `truncated` (inside the file header),
    ///   `unsupportedLinkType`, or `readFailed`. An empty capture with a valid header is not an error.
    public init(path: String) throws(CaptureError) {
        let handle: OpaquePointer
        switch Libpcap.openOffline(path: path) {
        case .success(let opened):
            handle = opened
        case .failure(.errno(let code)):
            throw CaptureError.opening(path, errno: code, description: SystemErrno.description(code))
        case .failure(.message(let message, let byteCount)):
            throw CaptureError.opening(path, libpcapMessage: message, fileByteCount: byteCount)
        }
        let linkType = LinkType(rawValue: Libpcap.dataLink(handle))
        guard linkType.isSupported else {
            // Close here: `self` is not initialized yet, so deinit will not run.
            Libpcap.close(handle)
            let name = Libpcap.dataLinkName(linkType.rawValue).map { " (\($0))" } ?? ""
            throw CaptureError(code: .unsupportedLinkType, path: path, detail: "DLT \(linkType.rawValue)\(name)")
        }
        self.handle = handle
        self.path = path
        self.linkType = linkType
        self.snapshotLength = Libpcap.snapshotLength(handle)
        self.offsetTracking = Libpcap.majorVersion(handle) == 1 ? .asking : .unverified
    }

    deinit {
        Libpcap.close(self.handle)
    }

    /// Reads the next frame and passes it to `body`; the frame's bytes are valid only inside `body`.
    /// - Returns: what `body` returned, or nil at the end of the file.
    /// - Throws: `truncated` when the file ends inside a record, `readFailed` for anything else libpcap
    ///   rejects; both carry the frame index and the byte offset where the record starts.
    public mutating func next<R>(_ body: (CapturedFrame) -> R) throws(CaptureError) -> R? {
        switch self.state {
        case .reading: break
        case .finished: return nil
        case .failed(let error): throw error
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

// The handle is used only through `mutating` methods of a value that cannot be copied, so moving the
// reader to another task hands libpcap over whole; the other members are immutable.
extension CaptureFileReader: @unchecked Sendable {}

// vpcmirror: one error type for everything that opens or reads a capture.
internal import MirrorWire

/// A capture that could not be opened or read. Equality looks at the code and the path only, so tests
/// can write `#expect(throws: CaptureError(code: .truncated, path: path))`.
public struct CaptureError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case fileNotFound, permissionDenied, notACapture, truncated, unsupportedLinkType, readFailed
        }
        private var base: Base
        /// The path does not exist (`ENOENT`, `ENOTDIR`).
        public static let fileNotFound = Code(base: .fileNotFound)
        /// The file exists but we may not read it (`EACCES`, `EPERM`).
        public static let permissionDenied = Code(base: .permissionDenied)
        /// The file is not a pcap or pcapng file, or one in a version libpcap does not read.
        public static let notACapture = Code(base: .notACapture)
        /// The file ends inside a header or a record.
        public static let truncated = Code(base: .truncated)
        /// A capture whose link-layer type we cannot decode (`LinkType.isSupported` is false).
        public static let unsupportedLinkType = Code(base: .unsupportedLinkType)
        /// Any other failure libpcap, the OS or the pure-Swift fallback reported; `detail` has its words.
        public static let readFailed = Code(base: .readFailed)

        public var description: String {
            switch self.base {
            case .fileNotFound: "file not found"
            case .permissionDenied: "permission denied"
            case .notACapture: "not a capture file"
            case .truncated: "truncated"
            case .unsupportedLinkType: "unsupported link type"
            case .readFailed: "read failed"
            }
        }
    }

    public let code: Code
    /// The path as the caller gave it.
    public let path: String
    /// What libpcap, the OS or (for files libpcap refuses) the pure-Swift codec said, without libpcap's
    /// "truncated dump file; " prefix.
    public let detail: String
    /// Zero-based index of the frame that could not be read (the number of frames read before it);
    /// nil when the failure is not at a frame, such as in the file header.
    public let frameIndex: Int?
    /// Offset in the file where the failing record (pcap) or block (pcapng) starts, when known.
    public let byteOffset: Int?

    public init(code: Code, path: String, detail: String = "", frameIndex: Int? = nil, byteOffset: Int? = nil) {
        self.code = code
        self.path = path
        self.detail = detail
        self.frameIndex = frameIndex
        self.byteOffset = byteOffset
    }

    public static func == (l: Self, r: Self) -> Bool {
        l.code == r.code && l.path == r.path
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.code)
        hasher.combine(self.path)
    }

    /// For example `capture.pcap: truncated at frame 12 (byte offset 4567): tried to read 1514 captured
    /// bytes, only got 300`. The frame number is `frameIndex`, counted from zero.
    public var description: String {
        var text = "\(self.path): \(self.code)"
        switch (self.frameIndex, self.byteOffset) {
        case (let frame?, let offset?): text += " at frame \(frame) (byte offset \(offset))"
        case (let frame?, nil): text += " at frame \(frame)"
        case (nil, let offset?): text += " at byte offset \(offset)"
        case (nil, nil): break
        }
        if !self.detail.isEmpty { text += ": \(self.detail)" }
        return text
    }
}

// MARK: - Mapping what libpcap and the OS said

extension CaptureError {
    /// libpcap prefixes every short read with one of these; the rest of the message says how short.
    private static let truncationPrefixes = ["truncated dump file; ", "truncated pcapng dump file; "]

    /// An `fopen` errno, as a code with a clean message.
    @inline(never)
    static func opening(_ path: String, errno: Int32, description: String) -> CaptureError {
        let code: Code
        switch errno {
        case SystemErrno.noEntry, SystemErrno.notDirectory: code = .fileNotFound
        case SystemErrno.accessDenied, SystemErrno.notPermitted: code = .permissionDenied
        default: code = .readFailed
        }
        return CaptureError(code: code, path: path, detail: description)
    }

    /// libpcap's message when `pcap_fopen_offline` failed.
    @inline(never)
    static func opening(_ path: String, libpcapMessage message: String, fileByteCount: Int?) -> CaptureError {
        // Fewer bytes than a magic number: nothing says this was ever meant to be a capture.
        if let count = fileByteCount, count < 4 {
            return CaptureError(
                code: .notACapture,
                path: path,
                detail: "the file is \(count) bytes long, too short for a capture file header"
            )
        }
        if let rest = Self.strippingTruncationPrefix(message) {
            return CaptureError(code: .truncated, path: path, detail: "in the file header: " + rest)
        }
        let notCapture = [
            "unknown file format", "archaic pcap savefile format", "unsupported pcap savefile version",
            "unsupported pcapng savefile version",
        ]
        if notCapture.contains(where: { message.hasPrefix($0) }) {
            return CaptureError(code: .notACapture, path: path, detail: message)
        }
        return CaptureError(code: .readFailed, path: path, detail: message)
    }

    /// libpcap's message when `pcap_next_ex` failed at a frame.
    @inline(never)
    static func reading(_ path: String, libpcapMessage message: String, frameIndex: Int, byteOffset: Int?) -> CaptureError {
        if let rest = Self.strippingTruncationPrefix(message) {
            return CaptureError(code: .truncated, path: path, detail: rest, frameIndex: frameIndex, byteOffset: byteOffset)
        }
        return CaptureError(code: .readFailed, path: path, detail: message, frameIndex: frameIndex, byteOffset: byteOffset)
    }

    /// What the pure-Swift codec said about a file libpcap refused; its codes map to the ones libpcap's
    /// messages map to, with the same frame index and block offset.
    @inline(never)
    static func reading(_ path: String, pureSwiftError error: PcapFileError, frameIndex: Int) -> CaptureError {
        let code: Code
        switch error.code {
        case .truncated: code = .truncated
        case .notACapture: code = .notACapture
        // Malformed or unsupported blocks, which libpcap reports as read failures too.
        default: code = .readFailed
        }
        return CaptureError(
            code: code,
            path: path,
            detail: error.detail,
            frameIndex: error.recordIndex ?? frameIndex,
            byteOffset: error.byteOffset
        )
    }

    private static func strippingTruncationPrefix(_ message: String) -> String? {
        for prefix in Self.truncationPrefixes where message.hasPrefix(prefix) {
            return String(message.dropFirst(prefix.count))
        }
        return nil
    }
}

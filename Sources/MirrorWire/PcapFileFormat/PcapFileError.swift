// vpcmirror: the typed error of the pure-Swift capture reader.

/// Input the pure-Swift reader rejects. Equality looks at the code, the byte offset and the record index.
public struct PcapFileError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable { case notACapture, truncated, malformed, unsupported, unreadable }
        private var base: Base
        /// The first bytes are no pcap or pcapng magic number.
        public static let notACapture = Code(base: .notACapture)
        /// The input ends inside a header, a record or a block.
        public static let truncated = Code(base: .truncated)
        /// A field holds a value the format forbids (a bad length, an unknown interface).
        public static let malformed = Code(base: .malformed)
        /// Valid, but a variant this reader does not handle (another major version, a patched header).
        public static let unsupported = Code(base: .unsupported)
        /// The caller could not read the file (the codec itself does no I/O).
        public static let unreadable = Code(base: .unreadable)
        public var description: String {
            switch self.base {
            case .notACapture: "not a capture file"
            case .truncated: "truncated"
            case .malformed: "malformed"
            case .unsupported: "unsupported"
            case .unreadable: "unreadable"
            }
        }
    }

    public let code: Code
    /// Where the failing header, record or block starts in the input.
    public let byteOffset: Int
    /// The number of records read before the failure, when it happened after the file header.
    public let recordIndex: Int?
    public let detail: String

    public init(code: Code, byteOffset: Int, recordIndex: Int? = nil, detail: String = "") {
        self.code = code
        self.byteOffset = byteOffset
        self.recordIndex = recordIndex
        self.detail = detail
    }

    public static func == (l: Self, r: Self) -> Bool {
        l.code == r.code && l.byteOffset == r.byteOffset && l.recordIndex == r.recordIndex
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.code)
        hasher.combine(self.byteOffset)
        hasher.combine(self.recordIndex)
    }

    public var description: String {
        let record = self.recordIndex.map { " at record \($0)" } ?? ""
        return "\(self.code)\(record) (byte offset \(self.byteOffset)): \(self.detail)"
    }
}

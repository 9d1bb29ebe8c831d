// vpcmirror: libpcap on a live interface, one direction per handle, non-blocking, frames not copied.
public import MirrorWire

/// Which frames a live handle sees: those the interface received, or those it sent. libpcap on Linux
/// reports no direction per frame on Ethernet, so a mirror source opens one handle per direction.
public enum CaptureDirection: String, Hashable, Sendable {
    case received = "in"
    case sent = "out"
}

/// How a live handle is opened.
public struct LiveCaptureOptions: Hashable, Sendable {
    /// Bytes kept per frame. The default keeps GSO super-frames (up to 64 KiB) whole.
    public var snapshotLength = 262_144
    /// The kernel ring buffer, in bytes.
    public var bufferBytes = 8 << 20
    /// Deliver each frame as it arrives instead of when a ring block fills.
    public var immediate = true
    /// A libpcap filter expression installed in the kernel; nil captures everything.
    public var filter: String? = nil
    public init() {}
}

/// A live capture that could not be opened or stopped delivering frames.
public struct LiveCaptureError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        public static let noSuchInterface = Code(name: "no such interface")
        /// Needs CAP_NET_RAW (and CAP_NET_ADMIN for the ring buffer size beyond the default).
        public static let permissionDenied = Code(name: "permission denied")
        public static let interfaceDown = Code(name: "interface down")
        public static let badFilter = Code(name: "bad filter")
        /// Any other libpcap failure, such as the interface going away while capturing.
        public static let captureFailed = Code(name: "capture failed")
        public var description: String { self.name }
    }
    public let code: Code
    public let interface: String
    public let detail: String
    public var description: String { "\(self.interface): \(self.code)\(self.detail.isEmpty ? "" : ": \(self.detail)")" }
}

/// One libpcap handle on one interface and direction. Not copyable: it owns the handle and closes it.
public struct LiveCapture: ~Copyable {
    private let handle: OpaquePointer
    public let interface: String
    public let direction: CaptureDirection
    public let linkType: LinkType
    /// The descriptor to poll for readability.
    public let fileDescriptor: Int32

    public init(interface: String, direction: CaptureDirection, options: LiveCaptureOptions) throws(LiveCaptureError) {
        let handle: OpaquePointer
        switch Libpcap.create(device: interface) {
        case .success(let h): handle = h
        case .failure(let status): throw Self.error(status, interface: interface)
        }
        let status = Libpcap.activate(
            handle, snapshotLength: Int32(options.snapshotLength), bufferBytes: Int32(options.bufferBytes),
            immediate: options.immediate)
        if case .ok = status {} else {
            Libpcap.close(handle)
            throw Self.error(status, interface: interface)
        }
        func fail(_ code: LiveCaptureError.Code, _ detail: String) -> LiveCaptureError {
            Libpcap.close(handle)
            return LiveCaptureError(code: code, interface: interface, detail: detail)
        }
        if let message = Libpcap.setDirection(handle, outbound: direction == .sent) { throw fail(.captureFailed, message) }
        if let expression = options.filter, let message = Libpcap.setFilter(handle, expression: expression) {
            throw fail(.badFilter, "\(message) in \"\(expression)\"")
        }
        if let message = Libpcap.setNonblocking(handle) { throw fail(.captureFailed, message) }
        let fd = Libpcap.selectableDescriptor(handle)
        guard fd >= 0 else { throw fail(.captureFailed, "no selectable descriptor") }
        self.handle = handle
        self.interface = interface
        self.direction = direction
        self.linkType = LinkType(rawValue: Libpcap.dataLink(handle))
        self.fileDescriptor = fd
    }

    deinit {
        Libpcap.close(self.handle)
    }

    private static func error(_ status: Libpcap.LiveStatus, interface: String) -> LiveCaptureError {
        switch status {
        case .ok: LiveCaptureError(code: .captureFailed, interface: interface, detail: "")
        case .noSuchDevice(let m): LiveCaptureError(code: .noSuchInterface, interface: interface, detail: m)
        case .permissionDenied(let m):
            LiveCaptureError(code: .permissionDenied, interface: interface, detail: "\(m) (needs CAP_NET_RAW)")
        case .interfaceDown(let m): LiveCaptureError(code: .interfaceDown, interface: interface, detail: m)
        case .failed(let m): LiveCaptureError(code: .captureFailed, interface: interface, detail: m)
        }
    }

    /// Passes the next pending frame to `body`; its bytes are valid only inside `body`.
    /// - Returns: what `body` returned, or nil when no frame is pending (the handle never blocks).
    /// - Throws: `captureFailed` when libpcap reports an error, such as the interface going down or away.
    public func next<R>(_ body: (CapturedFrame) -> R) throws(LiveCaptureError) -> R? {
        switch Libpcap.next(self.handle) {
        case .packet(let data, let originalLength, let seconds, let subsecond):
            return body(CapturedFrame(
                bytes: data, originalLength: originalLength, timestampNanoseconds: seconds * 1_000_000_000 + subsecond,
                linkType: self.linkType))
        case .timeout, .endOfFile:
            return nil
        case .failure(let message):
            throw LiveCaptureError(code: .captureFailed, interface: self.interface, detail: message)
        }
    }

    /// Replaces the kernel filter (nil: keep everything). libpcap filters frames already in the ring with the new
    /// expression too, so from this call on every frame handed out passed the new filter.
    public func setFilter(_ expression: String?) throws(LiveCaptureError) {
        if let message = Libpcap.setFilter(self.handle, expression: expression ?? "") {
            throw LiveCaptureError(code: .badFilter, interface: self.interface, detail: "\(message) in \"\(expression ?? "")\"")
        }
    }

    /// The kernel's counts for this handle: frames that passed the filter, and frames dropped because the
    /// ring was full or by the interface. Nil if the handle cannot tell.
    public func statistics() -> (received: Int, dropped: Int, interfaceDropped: Int)? {
        Libpcap.statistics(self.handle)
    }
}

/// Compiles a filter expression the way a live handle would and runs frames through it: for proving what a
/// kernel prefilter keeps without a live interface.
public enum CaptureFilter {
    /// For each frame, whether `expression` accepts it on a `linkType` interface.
    public static func accepts(_ expression: String, linkType: LinkType, frames: [[UInt8]]) throws(LiveCaptureError) -> [Bool] {
        switch Libpcap.filterAccepts(expression: expression, linkType: linkType.rawValue, snapshotLength: 262_144, frames: frames) {
        case .success(let r): return r
        case .failure(.failed(let m)): throw LiveCaptureError(code: .badFilter, interface: "-", detail: "\(m) in \"\(expression)\"")
        case .failure: throw LiveCaptureError(code: .badFilter, interface: "-", detail: expression)
        }
    }
}

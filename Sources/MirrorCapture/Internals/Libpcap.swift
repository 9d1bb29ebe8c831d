// vpcmirror: every libpcap and stdio call MirrorCapture makes, behind one thin seam (as swift-system's Syscalls.swift).
internal import CPcap

#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// The raw outcome of `pcap_next_ex`, in Swift types. `data` points into libpcap's buffer and is valid
/// only until the next call on the same handle.
enum LibpcapNext {
    case packet(data: UnsafeRawBufferPointer, originalLength: Int, seconds: Int64, subsecond: Int64)
    case endOfFile
    case timeout
    case failure(message: String)
}

/// Why a capture could not be opened: an errno from `fopen`, or libpcap's error text.
enum LibpcapOpenFailure: Error {
    case errno(Int32)
    case message(String, fileByteCount: Int?)
}

/// Why `Libpcap.readWholeFile` gave up: an errno, or a file larger than the caller allows.
enum WholeFileReadFailure: Error {
    case errno(Int32)
    case tooLarge(byteCount: Int)
}

/// The only code in the module that names a libpcap or stdio function. Handles are `OpaquePointer`s
/// (`pcap_t *`); the owning types make sure each is closed exactly once.
enum Libpcap {
    /// Opens a savefile with nanosecond timestamps, so pcap µs, pcap ns and pcapng all come back in ns.
    ///
    /// We `fopen` the file ourselves so that errno is read right after the failing call, not
    /// reconstructed from libpcap's message.
    /// - Parameter streamBuffer: the `FILE`'s buffer (libpcap reads a record as two `fread`s, and stdio's own
    ///   buffer is 4 KiB, one `read` per few frames). The caller keeps it until ``close(_:)``; nil keeps stdio's.
    static func openOffline(
        path: String, streamBuffer: UnsafeMutableRawBufferPointer? = nil
    ) -> Result<OpaquePointer, LibpcapOpenFailure> {
        guard let file = fopen(path, "rb") else {
            return .failure(.errno(errno))
        }
        if let streamBuffer, let base = streamBuffer.baseAddress {
            // Before any read, as setvbuf requires; if it fails the stream keeps its own buffer.
            _ = setvbuf(file, base.assumingMemoryBound(to: CChar.self), _IOFBF, streamBuffer.count)
        }
        var status = stat()
        let byteCount = fstat(fileno(file), &status) == 0 ? Int(status.st_size) : nil
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        let handle = errorBuffer.withUnsafeMutableBufferPointer { buffer in
            pcap_fopen_offline_with_tstamp_precision(file, UInt32(PCAP_TSTAMP_PRECISION_NANO), buffer.baseAddress)
        }
        guard let handle else {
            // On failure libpcap leaves the FILE to its caller.
            fclose(file)
            return .failure(.message(Self.string(errorBuffer), fileByteCount: byteCount))
        }
        return .success(handle)
    }

    /// Closes the handle and the FILE libpcap took over in `openOffline`.
    static func close(_ handle: OpaquePointer) {
        pcap_close(handle)
    }

    static func dataLink(_ handle: OpaquePointer) -> Int32 {
        pcap_datalink(handle)
    }

    /// libpcap's short name for a DLT (`EN10MB`, `USER0`), or nil when it has none.
    static func dataLinkName(_ dlt: Int32) -> String? {
        guard let name = pcap_datalink_val_to_name(dlt) else { return nil }
        return String(cString: name)
    }

    /// The file format's major version: 2 (or 543, DG/UX) for classic pcap, 1 for pcapng.
    static func majorVersion(_ handle: OpaquePointer) -> Int {
        Int(pcap_major_version(handle))
    }

    static func snapshotLength(_ handle: OpaquePointer) -> Int {
        Int(pcap_snapshot(handle))
    }

    /// The read position in a savefile: where the next record starts. Nil for live handles.
    /// glibc answers with an `lseek` every time, so callers avoid it on the per-frame path.
    static func fileOffset(_ handle: OpaquePointer) -> Int? {
        guard let file = pcap_file(handle) else { return nil }
        let offset = ftell(file)
        return offset >= 0 ? Int(offset) : nil
    }

    /// libpcap's DLT for raw IP (LINKTYPE_RAW, 101, in files): 12, or 14 on OpenBSD.
    static let rawIPDataLink: Int32 = DLT_RAW

    /// Every byte of the savefile behind `handle`, read with `pread` on libpcap's own descriptor: the file
    /// libpcap opened even if the path has changed since, and libpcap's read position is left alone.
    /// Inline-never so that errno is read right after the call that set it.
    @inline(never)
    static func readWholeFile(_ handle: OpaquePointer, maxByteCount: Int) -> Result<[UInt8], WholeFileReadFailure> {
        guard let file = pcap_file(handle) else { return .failure(.errno(EBADF)) }
        let descriptor = fileno(file)
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { return .failure(.errno(errno)) }
        let byteCount = Int(status.st_size)
        guard byteCount <= maxByteCount else { return .failure(.tooLarge(byteCount: byteCount)) }
        var failure: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: byteCount) { buffer, initializedCount in
            initializedCount = 0
            guard let base = buffer.baseAddress else { return }
            // A file that shrinks meanwhile gives fewer bytes, and the codec reports where it ends.
            while initializedCount < byteCount {
                let count = pread(descriptor, base + initializedCount, byteCount - initializedCount, off_t(initializedCount))
                if count > 0 {
                    initializedCount += count
                } else if count == 0 {
                    break
                } else if errno != EINTR {
                    failure = errno
                    break
                }
            }
        }
        return failure == 0 ? .success(bytes) : .failure(.errno(failure))
    }

    static func next(_ handle: OpaquePointer) -> LibpcapNext {
        var header: UnsafeMutablePointer<pcap_pkthdr>? = nil
        var data: UnsafePointer<UInt8>? = nil
        let status = pcap_next_ex(handle, &header, &data)
        switch status {
        case 1:
            guard let header else { return .failure(message: "pcap_next_ex returned no header") }
            let captured = Int(header.pointee.caplen)
            return .packet(
                data: UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : captured),
                originalLength: Int(header.pointee.len),
                seconds: Int64(header.pointee.ts.tv_sec),
                // With PCAP_TSTAMP_PRECISION_NANO, tv_usec holds nanoseconds.
                subsecond: Int64(header.pointee.ts.tv_usec)
            )
        case 0:
            return .timeout
        case PCAP_ERROR_BREAK:
            // For a savefile this is the end of the file.
            return .endOfFile
        default:
            return .failure(message: String(cString: pcap_geterr(handle)))
        }
    }

    fileprivate static func string(_ buffer: [CChar]) -> String {
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The errno values MirrorCapture tells apart, and their text.
enum SystemErrno {
    static let noEntry = ENOENT
    static let notDirectory = ENOTDIR
    static let accessDenied = EACCES
    static let notPermitted = EPERM

    static func description(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return String(cString: text)
    }
}

/// What a live handle needs from libpcap, behind the same seam.
extension Libpcap {
    /// libpcap's status codes, named for the callers.
    enum LiveStatus: Error {
        case ok
        case noSuchDevice(String)
        case permissionDenied(String)
        case interfaceDown(String)
        case failed(String)
    }

    static func create(device: String) -> Result<OpaquePointer, LiveStatus> {
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        let handle = errorBuffer.withUnsafeMutableBufferPointer { pcap_create(device, $0.baseAddress) }
        guard let handle else { return .failure(.failed(Self.string(errorBuffer))) }
        return .success(handle)
    }

    /// Sets the options that must precede activation, then activates. Warnings (status > 0) are not failures.
    static func activate(_ handle: OpaquePointer, snapshotLength: Int32, bufferBytes: Int32, immediate: Bool) -> LiveStatus {
        _ = pcap_set_snaplen(handle, snapshotLength)
        _ = pcap_set_promisc(handle, 0)
        _ = pcap_set_buffer_size(handle, bufferBytes)
        _ = pcap_set_immediate_mode(handle, immediate ? 1 : 0)
        _ = pcap_set_tstamp_precision(handle, Int32(PCAP_TSTAMP_PRECISION_NANO))
        let status = pcap_activate(handle)
        if status >= 0 { return .ok }
        let text = String(cString: pcap_geterr(handle))
        switch status {
        case PCAP_ERROR_NO_SUCH_DEVICE: return .noSuchDevice(text)
        case PCAP_ERROR_PERM_DENIED: return .permissionDenied(text)
        case PCAP_ERROR_IFACE_NOT_UP: return .interfaceDown(text)
        default: return .failed(text.isEmpty ? String(cString: pcap_statustostr(status)) : text)
        }
    }

    /// 0: in, 1: out.
    static func setDirection(_ handle: OpaquePointer, outbound: Bool) -> String? {
        pcap_setdirection(handle, outbound ? PCAP_D_OUT : PCAP_D_IN) == 0 ? nil : String(cString: pcap_geterr(handle))
    }

    /// Compiles `expression` for `handle` and installs it in the kernel. Nil on success, else libpcap's message.
    static func setFilter(_ handle: OpaquePointer, expression: String) -> String? {
        var program = bpf_program()
        guard pcap_compile(handle, &program, expression, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
            return String(cString: pcap_geterr(handle))
        }
        defer { pcap_freecode(&program) }
        return pcap_setfilter(handle, &program) == 0 ? nil : String(cString: pcap_geterr(handle))
    }

    static func setNonblocking(_ handle: OpaquePointer) -> String? {
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        let status = errorBuffer.withUnsafeMutableBufferPointer { pcap_setnonblock(handle, 1, $0.baseAddress) }
        return status == 0 ? nil : Self.string(errorBuffer)
    }

    static func selectableDescriptor(_ handle: OpaquePointer) -> Int32 {
        pcap_get_selectable_fd(handle)
    }

    /// Received by the filter, dropped by the kernel (ring full), dropped by the interface.
    static func statistics(_ handle: OpaquePointer) -> (received: Int, dropped: Int, interfaceDropped: Int)? {
        var s = pcap_stat()
        guard pcap_stats(handle, &s) == 0 else { return nil }
        return (Int(s.ps_recv), Int(s.ps_drop), Int(s.ps_ifdrop))
    }

    /// Whether `expression` accepts `frame` (captured and original length both `frame.count`), compiled for
    /// `linkType` with a dead handle: the same compiler and BPF interpreter a live handle uses.
    static func filterAccepts(expression: String, linkType: Int32, snapshotLength: Int32, frames: [[UInt8]]) -> Result<[Bool], LiveStatus> {
        guard let dead = pcap_open_dead(linkType, snapshotLength) else { return .failure(.failed("pcap_open_dead failed")) }
        defer { pcap_close(dead) }
        var program = bpf_program()
        guard pcap_compile(dead, &program, expression, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
            return .failure(.failed(String(cString: pcap_geterr(dead))))
        }
        defer { pcap_freecode(&program) }
        return .success(frames.map { frame in
            var header = pcap_pkthdr()
            header.caplen = UInt32(frame.count)
            header.len = UInt32(frame.count)
            return frame.withUnsafeBufferPointer { pcap_offline_filter(&program, &header, $0.baseAddress) != 0 }
        })
    }
}

// vpcmirror: VXLAN datagrams in from UDP sockets, in batches (recvmmsg), for the collector.
import CMirrorSocket
import Glibc
public import MirrorWire

/// A failure to open a listening socket, naming the address.
public struct ReceiverError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// Receives datagrams on one or more UDP sockets. One thread uses it; datagram bytes are valid only inside the
/// callback (they live in a buffer reused by the next batch).
public final class UDPReceiver {
    public struct Options: Sendable {
        /// Share the port with other collector processes (the kernel spreads flows by the outer 4-tuple, and
        /// vpcmirror's outer source port is the same for both directions of a connection).
        public var reusePort = true
        public var receiveBufferBytes = 32 << 20
        /// Datagrams per recvmmsg call.
        public var batchSize = 64
        public init() {}
    }

    public let listen: [(address: IPAddress, port: UInt16)]
    private var sockets: [Int32] = []
    private let batch: Int
    private let slotBytes = 65_536
    private let buffers: UnsafeMutableRawBufferPointer
    private let lengths: UnsafeMutablePointer<UInt32>
    private let truncated: UnsafeMutablePointer<UInt8>
    private let sources: UnsafeMutablePointer<CMirrorSocket_address>
    private var ready: [UInt8]
    /// Datagrams larger than a slot (cannot happen for UDP over IPv4/IPv6 below 64 KiB; counted anyway).
    public private(set) var truncatedDatagrams = 0

    public init(listen: [(address: IPAddress, port: UInt16)], options: Options = Options()) throws(ReceiverError) {
        self.listen = listen
        self.batch = max(1, min(options.batchSize, 256))
        self.buffers = .allocate(byteCount: self.batch * self.slotBytes, alignment: 64)
        self.lengths = .allocate(capacity: self.batch)
        self.truncated = .allocate(capacity: self.batch)
        self.sources = .allocate(capacity: self.batch)
        self.ready = Array(repeating: 0, count: listen.count)
        for (address, port) in listen {
            var bytes = address.networkOrderBytes
            let fd = CMirrorSocket_open_receiver(
                address.isIPv4 ? AF_INET : AF_INET6, &bytes, port, options.reusePort ? 1 : 0, Int32(options.receiveBufferBytes))
            if fd < 0 {
                let shown = address.isIPv4 ? "\(address):\(port)" : "[\(address)]:\(port)"
                for s in self.sockets { CMirrorSocket_close(s) }
                self.sockets = []
                self.release()
                throw ReceiverError(description: "cannot listen on \(shown): \(String(cString: strerror(-fd)))")
            }
            self.sockets.append(fd)
        }
    }

    deinit {
        for s in self.sockets { CMirrorSocket_close(s) }
        self.release()
    }

    private func release() {
        self.buffers.deallocate()
        self.lengths.deallocate()
        self.truncated.deallocate()
        self.sources.deallocate()
    }

    /// The ports actually bound (useful when a port was 0).
    public var boundPorts: [UInt16] { self.sockets.map { UInt16(truncatingIfNeeded: CMirrorSocket_local_port($0)) } }


    /// Waits up to `timeoutMilliseconds` for datagrams and passes each to `body` with its arrival time
    /// (CLOCK_REALTIME, ns). Returns the number received; 0 on timeout or when a signal interrupted the wait.
    public func receive(timeoutMilliseconds: Int32, _ body: (UnsafeRawBufferPointer, Int64) -> Void) -> Int {
        let r = self.sockets.withUnsafeBufferPointer { fds in
            CMirrorSocket_poll_readable(fds.baseAddress, UInt32(fds.count), timeoutMilliseconds, &self.ready)
        }
        guard r > 0 else { return 0 }
        var total = 0
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let timestamp = Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
        for (i, fd) in self.sockets.enumerated() where self.ready[i] != 0 {
            let n = Int(CMirrorSocket_receive_batch(
                fd, self.buffers.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt32(self.slotBytes), UInt32(self.batch), 0,
                self.lengths, self.truncated, self.sources))
            guard n > 0 else { continue }
            for k in 0..<n {
                if self.truncated[k] != 0 { self.truncatedDatagrams += 1 }
                let start = k * self.slotBytes
                body(UnsafeRawBufferPointer(rebasing: self.buffers[start..<(start + Int(self.lengths[k]))]), timestamp)
            }
            total += n
        }
        return total
    }
}

// vpcmirror end-to-end tests: a UDP collector on 127.0.0.1 that keeps every datagram and its source port.
import Foundation
import Glibc
import Synchronization

/// One datagram as it arrived.
struct ReceivedDatagram: Hashable, Sendable {
    var payload: [UInt8]
    /// The outer UDP source port.
    var sourcePort: UInt16
}

/// A UDP socket bound to 127.0.0.1 on a kernel-chosen port, drained by a background thread.
final class UDPReceiver: @unchecked Sendable {
    struct SocketError: Error, CustomStringConvertible {
        var description: String
    }

    private struct State {
        var datagrams: [ReceivedDatagram] = []
        var lastArrival: ContinuousClock.Instant? = nil
        var stop = false
    }

    let port: UInt16
    private let fd: Int32
    private let state = Mutex(State())
    private let finished = DispatchSemaphore(value: 0)
    private var thread: Thread?

    /// Opens and binds the socket and starts draining it.
    /// - Parameter receiveBufferBytes: asked with SO_RCVBUFFORCE (root), else SO_RCVBUF.
    init(receiveBufferBytes: Int32 = 64 << 20) throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw SocketError(description: "socket: \(String(cString: strerror(errno)))") }
        var size = receiveBufferBytes
        let length = socklen_t(MemoryLayout<Int32>.size)
        if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, length) != 0 {
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, length)
        }
        // A short timeout, so the thread sees `stop` soon.
        var timeout = timeval(tv_sec: 0, tv_usec: 50_000)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw SocketError(description: "bind 127.0.0.1:0: \(message)")
        }
        var boundAddress = sockaddr_in()
        var boundLength = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &boundAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &boundLength) }
        }
        self.fd = fd
        self.port = UInt16(bigEndian: boundAddress.sin_port)
        let thread = Thread { [self] in
            self.drain()
            self.finished.signal()
        }
        thread.name = "e2e-receiver-\(self.port)"
        self.thread = thread
        thread.start()
    }

    deinit {
        close(self.fd)
    }

    /// `127.0.0.1:PORT`, for a sessions file.
    var endpoint: String { "127.0.0.1:\(self.port)" }

    private func drain() {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        // Bounded: the loop ends when `stop` is set, which `collect` always does within its time limit.
        while !self.state.withLock({ $0.stop }) {
            var from = sockaddr_in()
            var fromLength = socklen_t(MemoryLayout<sockaddr_in>.size)
            let n = buffer.withUnsafeMutableBytes { bytes in
                withUnsafeMutablePointer(to: &from) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        recvfrom(self.fd, bytes.baseAddress, bytes.count, 0, $0, &fromLength)
                    }
                }
            }
            if n < 0 { continue }  // timeout (EAGAIN) or EINTR
            let datagram = ReceivedDatagram(payload: Array(buffer[0..<n]), sourcePort: UInt16(bigEndian: from.sin_port))
            let now = ContinuousClock.now
            self.state.withLock {
                $0.datagrams.append(datagram)
                $0.lastArrival = now
            }
        }
    }

    /// Waits until `quiet` has passed with nothing new (counted from the call too), at most `limit`, then
    /// stops the thread and returns everything received. Call it after the sender exited.
    func collect(quiet: Duration = .milliseconds(1500), limit: Duration = .seconds(30)) -> [ReceivedDatagram] {
        let clock = ContinuousClock()
        let start = clock.now
        while clock.now - start < limit {
            let last = self.state.withLock { $0.lastArrival }
            let reference = max(last ?? start, start)
            if clock.now - reference >= quiet { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        self.stop()
        return self.state.withLock { $0.datagrams }
    }

    /// Stops the thread; safe to call again (tests call it in a `defer`, so a failed test leaves no thread).
    func stop() {
        self.state.withLock { $0.stop = true }
        if self.thread != nil {
            self.finished.wait()
            self.thread = nil
        }
    }
}

// vpcmirror: the sender thread: queued VXLAN payloads out through a pool of UDP sockets, in batches.
import CMirrorSocket
import Dispatch
import Glibc
import MirrorThreads
public import MirrorWire
import Synchronization

/// A failure to set up sending, naming what failed.
public struct SenderError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// Per-session results of the sender thread.
public struct SendCounters: Hashable, Sendable {
    public var sent = 0
    public var bytesSent = 0
    public var failed = 0
    public init() {}
}

/// Sends queued datagrams to their destinations from source ports chosen per flow.
///
/// The outer source port must differ per flow and be the same for both directions of a connection
/// (AWS: a hash of the inner 5-tuple), and a UDP socket has one source port, so the sender keeps one
/// socket per port of the range and family, all with SO_REUSEPORT. Each batch taken from the queue is
/// grouped by socket (datagrams of one flow keep their order, since a flow has one port) and sent with
/// one `sendmmsg` per group.
public final class UDPSender: @unchecked Sendable {
    public struct Options: Sendable {
        /// Outer UDP source ports; AWS was observed using 65408–65525 (0xFF80 upwards).
        public var sourcePorts: ClosedRange<UInt16> = 65408...65535
        /// Local address to send from (AWS: the source interface's primary address); nil lets the kernel choose.
        public var bindAddress: IPAddress? = nil
        public var sendBufferBytes = 4 << 20
        /// Datagrams taken from the queue per round.
        public var batchSize = 512
        /// With several sender threads, this one sends for source port indices `i` with `i % count == index`;
        /// it opens sockets for those ports only.
        public var portShare: (index: Int, count: Int) = (0, 1)
        /// Send runs of equal-size datagrams as one UDP GSO message (Linux UDP_SEGMENT); the wire is the same.
        public var segmentationOffload = true
        public init() {}
    }

    public let queue: DatagramQueue
    public let destinations: [(address: IPAddress, port: UInt16)]
    public let options: Options
    private let addresses: UnsafeMutablePointer<CMirrorSocket_address>
    /// Connected: sockets by `sourcePortIndex * destinations + destination`. Otherwise by
    /// `sourcePortIndex * 2 + (IPv6 ? 1 : 0)`, -1 where a family is unused.
    private let sockets: [Int32]
    private let connected: Bool
    /// Per socket: UDP GSO still allowed (cleared when the kernel refuses it).
    private var gso: [Int32]
    private let finishing = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)
    private var started = false
    /// Owned by the sender thread until `finish()` returns.
    private var counters: [SendCounters]
    private var errors: [Int32: Int] = [:]
    /// ICMP port-unreachable reports from destinations (a collector not listening); the datagrams were resent.
    private var refused = 0

    /// Opens the sockets. Throws naming the port or address when a socket cannot be opened.
    public init(
        destinations: [(address: IPAddress, port: UInt16)], sessionCount: Int, queue: DatagramQueue,
        options: Options = Options()
    ) throws(SenderError) {
        precondition(!destinations.isEmpty && destinations.count <= Int(UInt16.max))
        self.queue = queue
        self.destinations = destinations
        self.options = options
        self.counters = Array(repeating: SendCounters(), count: sessionCount)
        self.addresses = .allocate(capacity: destinations.count)
        for (i, d) in destinations.enumerated() {
            var bytes = d.address.networkOrderBytes
            _ = CMirrorSocket_make_address(d.address.isIPv4 ? AF_INET : AF_INET6, &bytes, d.port, self.addresses + i)
        }
        let families = Set(destinations.map(\.address.family))
        if let bind = options.bindAddress, !families.contains(bind.family) {
            self.addresses.deallocate()
            throw SenderError(description: "bind address \(bind) is \(bind.family == .ipv4 ? "IPv4" : "IPv6") but no destination is")
        }
        // Connected sockets (one per source port and destination) spare the kernel a route lookup and an address
        // copy per datagram; with many destinations, one unconnected socket per source port and family instead.
        let connected = options.sourcePorts.count * destinations.count <= 1024
        self.connected = connected
        var sockets: [Int32] = []
        let addressStorage = self.addresses
        func fail(_ port: UInt16, _ fd: Int32, _ what: String) -> SenderError {
            for s in sockets where s >= 0 { CMirrorSocket_close(s) }
            addressStorage.deallocate()
            return SenderError(
                description: "cannot \(what) a UDP socket on source port \(port): \(String(cString: strerror(-fd)))"
                    + " (choose another range with --source-ports)")
        }
        for (portIndex, port) in options.sourcePorts.enumerated() {
            let mine = portIndex % options.portShare.count == options.portShare.index
            let perPort: [IPAddress.Family?] = connected
                ? destinations.map { Optional($0.address.family) }
                : [families.contains(.ipv4) ? .ipv4 : nil, families.contains(.ipv6) ? .ipv6 : nil]
            for (k, family) in perPort.enumerated() {
                guard let family, mine else {
                    sockets.append(-1)
                    continue
                }
                let afamily = family == .ipv4 ? AF_INET : AF_INET6
                var fd: Int32
                if let bind = options.bindAddress, bind.family == family {
                    var bytes = bind.networkOrderBytes
                    fd = CMirrorSocket_open_sender(afamily, &bytes, port, Int32(options.sendBufferBytes))
                } else {
                    fd = CMirrorSocket_open_sender(afamily, nil, port, Int32(options.sendBufferBytes))
                }
                if fd < 0 { throw fail(port, fd, "open") }
                if connected {
                    let r = CMirrorSocket_connect(fd, self.addresses + k)
                    if r < 0 {
                        CMirrorSocket_close(fd)
                        throw fail(port, r, "connect to \(destinations[k].address) from")
                    }
                }
                sockets.append(fd)
            }
        }
        self.sockets = sockets
        self.gso = Array(repeating: options.segmentationOffload ? 1 : 0, count: sockets.count)
    }

    deinit {
        for s in self.sockets where s >= 0 { CMirrorSocket_close(s) }
        self.addresses.deallocate()
    }


    // MARK: - Thread

    public func start() {
        self.started = true
        OSThread.start(name: "vpcmirror-sender", stackSize: 1 << 20) { [self] in
            self.run()
            self.done.signal()
        }
    }

    /// What the sender thread did, per session, and the errors it met.
    public struct Report: Sendable {
        public var perSession: [SendCounters]
        /// Failed sends by errno (those datagrams are counted as dropped).
        public var errors: [Int32: Int]
        /// ICMP port-unreachable reports (the collector is not listening); not drops: the datagrams were sent.
        public var portUnreachable: Int
    }

    /// Sends what is queued, stops the thread, and reports.
    public func finish() -> Report {
        self.finishing.store(true, ordering: .releasing)
        if self.started { self.done.wait() }
        self.started = false
        return Report(perSession: self.counters, errors: self.errors, portUnreachable: self.refused)
    }

    private func run() {
        let batch = self.options.batchSize
        let keyCount = self.sockets.count
        let destinationCount = self.destinations.count
        let addresses = self.connected ? nil : UnsafePointer(self.addresses)
        // Scratch arrays, allocated once: the send loop allocates nothing.
        let offsets = UnsafeMutablePointer<UInt32>.allocate(capacity: batch)
        let lengths = UnsafeMutablePointer<UInt32>.allocate(capacity: batch)
        let addressIndex = UnsafeMutablePointer<UInt16>.allocate(capacity: batch)
        let sessions = UnsafeMutablePointer<UInt32>.allocate(capacity: batch)
        let keyOf = UnsafeMutablePointer<Int32>.allocate(capacity: batch)
        let groupCount = UnsafeMutablePointer<Int32>.allocate(capacity: keyCount)
        let groupStart = UnsafeMutablePointer<Int32>.allocate(capacity: keyCount)
        let touched = UnsafeMutablePointer<Int32>.allocate(capacity: batch)
        groupCount.initialize(repeating: 0, count: keyCount)
        defer {
            offsets.deallocate(); lengths.deallocate(); addressIndex.deallocate(); sessions.deallocate()
            keyOf.deallocate(); groupCount.deallocate(); groupStart.deallocate(); touched.deallocate()
        }
        let base = UnsafePointer<UInt8>(self.queue.arena.baseAddress!.assumingMemoryBound(to: UInt8.self))
        var idleRounds = 0

        while true {
            let (first, available) = self.queue.ready()
            if available == 0 {
                if self.finishing.load(ordering: .acquiring) && self.queue.ready().count == 0 { break }
                idleRounds += 1
                if idleRounds < 64 { continue }
                usleep(idleRounds < 256 ? 20 : 200)
                continue
            }
            idleRounds = 0
            let n = min(available, batch)
            // Count per socket, then lay the batch out grouped by socket (a counting sort).
            var touchedCount = 0
            for i in 0..<n {
                let d = self.queue.datagram(first + i)
                let key: Int32
                if self.connected {
                    key = Int32(Int(d.route.sourcePortIndex) * destinationCount + Int(d.route.destination))
                } else {
                    let isV6 = !self.destinations[Int(d.route.destination)].address.isIPv4
                    key = Int32(Int(d.route.sourcePortIndex) * 2 + (isV6 ? 1 : 0))
                }
                keyOf[i] = key
                if groupCount[Int(key)] == 0 {
                    touched[touchedCount] = key
                    touchedCount += 1
                }
                groupCount[Int(key)] += 1
            }
            var position: Int32 = 0
            for t in 0..<touchedCount {
                let key = Int(touched[t])
                groupStart[key] = position
                position += groupCount[key]
            }
            for i in 0..<n {
                let d = self.queue.datagram(first + i)
                let key = Int(keyOf[i])
                let slot = Int(groupStart[key])
                groupStart[key] += 1
                offsets[slot] = d.offset
                lengths[slot] = d.length
                addressIndex[slot] = d.route.destination
                sessions[slot] = d.route.session
            }
            var start = 0
            for t in 0..<touchedCount {
                let key = Int(touched[t])
                let count = Int(groupCount[key])
                groupCount[key] = 0
                self.send(key: key, addresses: addresses, base: base, offsets: offsets + start, lengths: lengths + start,
                          addressIndex: addressIndex + start, sessions: sessions + start, count: count)
                start += count
            }
            self.queue.release(upTo: first + n)
        }
    }

    private func send(
        key: Int, addresses: UnsafePointer<CMirrorSocket_address>?, base: UnsafePointer<UInt8>, offsets: UnsafeMutablePointer<UInt32>,
        lengths: UnsafeMutablePointer<UInt32>, addressIndex: UnsafeMutablePointer<UInt16>,
        sessions: UnsafeMutablePointer<UInt32>, count: Int
    ) {
        var done = 0
        while done < count {
            var error: Int32 = 0
            var refused: UInt32 = 0
            defer { self.refused += Int(refused) }
            let sent = Int(CMirrorSocket_send_batch(self.sockets[key], base, offsets + done, lengths + done, addresses,
                                                    addressIndex + done, UInt32(count - done), &self.gso[key], &error,
                                                    &refused))
            for k in done..<(done + sent) {
                let s = Int(sessions[k])
                self.counters[s].sent += 1
                self.counters[s].bytesSent += Int(lengths[k])
            }
            done += sent
            if done < count {
                // The datagram at `done` failed: count it and go on with the rest.
                self.counters[Int(sessions[done])].failed += 1
                self.errors[error, default: 0] += 1
                done += 1
            }
        }
    }
}

// vpcmirror: `collect`: VXLAN in (files or sockets), HTTP/1 exchanges out as ECS JSON lines.
public import MirrorCollector
import MirrorCapture
import MirrorReceiver
public import MirrorReassembly
public import MirrorWire
import Foundation
import Glibc
import Synchronization

/// How `collect` runs.
public struct CollectOptions: Sendable {
    public var listen: [(address: IPAddress, port: UInt16)] = []
    public var readFiles: [String] = []
    /// Where lines go: a path, or "-" for standard output.
    public var output = "-"
    public var collector = CollectorOptions()
    /// For `--listen`: stop after this many seconds (tests, demos); nil runs until SIGINT/SIGTERM.
    public var duration: Double? = nil
    public var reusePort = true
    public init() {}
}

/// A failure that stops `collect`: a file, a socket, the output.
public struct CollectError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// What a collect run counted.
public struct CollectReport: Sendable {
    public var frames: Int
    public var decapsulation: Decapsulator.Counters
    public var outerFragmentsReassembled: Int
    public var collector: CollectorCounters
    public var reassembly: ReassemblyCounters
    public var lines: Int

    public var text: String {
        let d = self.decapsulation
        var lines: [String] = []
        let malformed = d.malformedTotal + self.collector.malformed.values.reduce(0, +)
        lines.append("collect: frames \(d.frames) = VXLAN \(d.vxlan) (reserved bits set \(d.vxlanReservedBitsSet)) + plain \(d.plain) + outer fragments held \(d.outerFragmentsHeld) + malformed \(d.malformedTotal); outer datagrams reassembled \(self.outerFragmentsReassembled)")
        let reasons = (d.malformed.merging(self.collector.malformed, uniquingKeysWith: +)).sorted { $0.key < $1.key }
        if !reasons.isEmpty {
            lines.append("malformed \(malformed): " + reasons.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        lines.append("analysed \(self.collector.analysed): not TCP \(self.collector.notTCP)")
        let r = self.reassembly
        lines.append("tcp: connections \(r.connectionsOpened) (midstream \(r.connectionsOpenedMidstream)); segments \(r.segments), \(r.bytesDelivered) bytes delivered; duplicates \(r.duplicateSegments), retransmissions \(r.retransmittedSegments), overlaps \(r.overlappingSegments) (conflicting \(r.conflictingSegments)); gaps \(r.lostGaps) (\(r.lostBytes) bytes lost) + truncated \(r.truncatedGaps) (\(r.truncatedBytes) bytes); closed: fin \(r.closedByFIN), reset \(r.closedByReset), idle \(r.closedIdle), evicted \(r.closedEvicted), at end \(r.closedAtShutdown)")
        let flags = self.collector.flags.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        lines.append("http: \(self.collector.transactions) exchanges written\(flags.isEmpty ? "" : " (flags: \(flags))"); \(self.collector.emptyExchanges) empty placeholders not written")
        return lines.joined(separator: "\n")
    }
}

/// Where lines go: a file descriptor, written in large batches straight from the collector's output buffer.
final class LineWriter {
    /// Output is written once this much is pending (and at the end, and on each expiry tick when listening).
    static let batchBytes = 1 << 20
    let fd: Int32
    let closeAtEnd: Bool

    init(path: String) throws(CollectError) {
        if path == "-" {
            self.fd = 1
            self.closeAtEnd = false
        } else {
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw CollectError(description: "cannot write \(path): \(String(cString: strerror(errno)))") }
            self.fd = fd
            self.closeAtEnd = true
        }
    }

    /// Writes what the collector has written so far.
    func flush(_ collector: inout Collector) {
        collector.takeOutput { self.write($0) }
    }

    /// Writes `bytes` whole (retrying on EINTR and short writes); stops at the first other error.
    func write(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(self.fd, base + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                break
            }
            offset += n
        }
    }

    deinit {
        if self.closeAtEnd { close(self.fd) }
    }
}

/// Frames read ahead on a thread of their own, so that reading the file (libpcap's copies, the kernel's) overlaps
/// analysing the frames read before. Copied frames go in batches round a fixed set of buffers: memory stays bounded
/// and nothing is allocated per frame. Batches come out in file order, so the output is the same.
final class ReadAhead: @unchecked Sendable {
    struct Frame {
        var offset: Int
        var length: Int
        var timestamp: Int64
        var linkType: LinkType
    }

    /// Frames copied one after another; the last batch of a file says so, with the error that ended it if any.
    /// `@unchecked Sendable`: a batch has one owner at a time, handed over through the queues' lock.
    final class Batch: @unchecked Sendable {
        /// A batch is handed over once this much is in it.
        static let targetBytes = 1 << 20
        private(set) var storage: UnsafeMutableRawPointer
        private var capacity = Batch.targetBytes
        private var used = 0
        private(set) var frames: [Frame] = []
        fileprivate(set) var isLast = false
        fileprivate(set) var error: CaptureError?

        init() {
            self.storage = .allocate(byteCount: self.capacity, alignment: 16)
            self.frames.reserveCapacity(1 << 12)
        }

        deinit { self.storage.deallocate() }

        var isFull: Bool { self.used >= Batch.targetBytes }

        fileprivate func reset() {
            self.used = 0
            self.frames.removeAll(keepingCapacity: true)
            self.isLast = false
            self.error = nil
        }

        fileprivate func append(_ frame: CapturedFrame) {
            let n = frame.bytes.count
            if self.used + n > self.capacity {
                // Only a frame larger than what is left of the target: the buffer grows, offsets stay valid.
                let capacity = max(self.capacity * 2, self.used + n)
                let storage = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
                storage.copyMemory(from: self.storage, byteCount: self.used)
                self.storage.deallocate()
                (self.storage, self.capacity) = (storage, capacity)
            }
            if let base = frame.bytes.baseAddress { (self.storage + self.used).copyMemory(from: base, byteCount: n) }
            self.frames.append(
                Frame(offset: self.used, length: n, timestamp: frame.timestampNanoseconds, linkType: frame.linkType))
            self.used += n
        }
    }

    /// The reader, owned by the reading thread once it starts.
    private final class ReaderBox: @unchecked Sendable {
        var reader: CaptureFileReader
        init(_ reader: consuming CaptureFileReader) { self.reader = reader }
    }

    private let queues = Mutex<(free: [Batch], ready: [Batch])>(([], []))
    private let readySignal = DispatchSemaphore(value: 0)
    private let freeSignal: DispatchSemaphore

    init(_ reader: consuming CaptureFileReader, batches: Int = 4) {
        self.freeSignal = DispatchSemaphore(value: batches)
        self.queues.withLock { $0.free = (0..<batches).map { _ in Batch() } }
        let box = ReaderBox(reader)
        let thread = Thread { [self] in self.read(box) }
        thread.name = "vpcmirror read-ahead"
        thread.start()
    }

    private func read(_ box: ReaderBox) {
        while true {
            self.freeSignal.wait()
            let batch = self.queues.withLock { $0.free.removeLast() }
            batch.reset()
            do {
                while !batch.isFull, try box.reader.next({ batch.append($0) }) != nil {}
                batch.isLast = !batch.isFull
            } catch {
                batch.error = error
                batch.isLast = true
            }
            self.queues.withLock { $0.ready.append(batch) }
            self.readySignal.signal()
            if batch.isLast { return }
        }
    }

    /// The next batch, in file order (waits for it).
    func next() -> Batch {
        self.readySignal.wait()
        return self.queues.withLock { $0.ready.removeFirst() }
    }

    /// Gives a batch back once its frames are analysed.
    func recycle(_ batch: Batch) {
        self.queues.withLock { $0.free.append(batch) }
        self.freeSignal.signal()
    }
}

/// Set by SIGINT/SIGTERM; the receive loop checks it between batches.
nonisolated(unsafe) var stopRequested: sig_atomic_t = 0

public enum Collect {
    public static func run(options: CollectOptions) throws(CollectError) -> CollectReport {
        let writer = try LineWriter(path: options.output)
        var collector = Collector(options: options.collector)
        for path in options.readFiles {
            let reader: CaptureFileReader
            do {
                reader = try CaptureFileReader(path: path)
            } catch {
                throw CollectError(description: error.description)
            }
            // Reading (on the read-ahead thread) overlaps analysing (here).
            let readAhead = ReadAhead(reader)
            while true {
                let batch = readAhead.next()
                for frame in batch.frames {
                    collector.process(
                        frame: UnsafeRawBufferPointer(start: batch.storage + frame.offset, count: frame.length),
                        linkType: frame.linkType, timestamp: frame.timestamp)
                }
                if collector.pendingOutputByteCount >= LineWriter.batchBytes { writer.flush(&collector) }
                let (last, error) = (batch.isLast, batch.error)
                readAhead.recycle(batch)
                if let error {
                    collector.finish()
                    writer.flush(&collector)
                    throw CollectError(description: error.description)
                }
                if last { break }
            }
        }
        if !options.listen.isEmpty {
            var receiverOptions = UDPReceiver.Options()
            receiverOptions.reusePort = options.reusePort
            let receiver: UDPReceiver
            do {
                receiver = try UDPReceiver(listen: options.listen, options: receiverOptions)
            } catch {
                throw CollectError(description: error.description)
            }
            // A parent (a test runner, a supervisor) may have blocked these; we handle them, so take them back.
            var handled = sigset_t()
            sigemptyset(&handled)
            sigaddset(&handled, SIGINT)
            sigaddset(&handled, SIGTERM)
            pthread_sigmask(SIG_UNBLOCK, &handled, nil)
            signal(SIGINT) { _ in stopRequested = 1 }
            signal(SIGTERM) { _ in stopRequested = 1 }
            let deadline = options.duration.map { monotonicNanoseconds() + Int64($0 * 1e9) }
            var lastExpiry = monotonicNanoseconds()
            while stopRequested == 0 {
                if let deadline, monotonicNanoseconds() >= deadline { break }
                _ = receiver.receive(timeoutMilliseconds: 200) { payload, timestamp in
                    collector.process(datagram: payload, timestamp: timestamp)
                }
                if collector.pendingOutputByteCount >= LineWriter.batchBytes { writer.flush(&collector) }
                // Without traffic, time still passes for idle connections: expire on the receive clock.
                let now = monotonicNanoseconds()
                if now - lastExpiry > 1_000_000_000 {
                    lastExpiry = now
                    var t = timespec()
                    clock_gettime(CLOCK_REALTIME, &t)
                    collector.expire(now: Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec))
                    writer.flush(&collector)
                }
            }
        }
        collector.finish()
        writer.flush(&collector)
        return CollectReport(
            frames: collector.decapsulator.counters.frames, decapsulation: collector.decapsulator.counters,
            outerFragmentsReassembled: collector.decapsulator.outerFragments.counters.reassembled,
            collector: collector.counters, reassembly: collector.reassembler.counters, lines: collector.counters.transactions)
    }
}

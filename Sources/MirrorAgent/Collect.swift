// vpcmirror: `collect`: VXLAN in (files or sockets), HTTP/1 exchanges out as ECS JSON lines.
public import MirrorCollector
import MirrorCapture
import MirrorReceiver
public import MirrorReassembly
public import MirrorWire
import Dispatch
import MirrorThreads
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
    /// Collectors that share the connections of `--read` files, each on a thread of its own (1: analyse on the
    /// calling thread). Not used with `listen`. The output is the same for any number unless a limit is reached,
    /// since each collector gets that share of the connection table and memcap.
    public var workers = 1
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
    /// Why some lines could not be written (a full disk, a closed pipe), with how many; nil when all were.
    public var outputFailure: String? = nil
    public var linesNotWritten = 0

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
        let written = self.linesNotWritten == 0 ? "written" : "(\(self.linesNotWritten) not written: the output failed)"
        lines.append("http: \(self.collector.transactions) exchanges \(written)\(flags.isEmpty ? "" : " (flags: \(flags))"); \(self.collector.emptyExchanges) empty placeholders not written")
        return lines.joined(separator: "\n")
    }
}

/// Where lines go: a file descriptor, written in large batches straight from the collector's output buffer.
/// A write error other than EINTR stops the writing: what could not be written is counted, and `collect` reports
/// it and exits non-zero, so a full disk or a closed reader never loses lines quietly.
final class LineWriter {
    /// Output is written once this much is pending (and at the end, and on each expiry tick when listening).
    static let batchBytes = 1 << 20
    let fd: Int32
    let closeAtEnd: Bool
    let path: String
    /// The first write error (errno), if any; after it nothing more is written.
    private(set) var errorNumber: Int32? = nil
    private(set) var bytesNotWritten = 0
    private(set) var linesNotWritten = 0

    init(path: String) throws(CollectError) {
        self.path = path
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

    var failed: Bool { self.errorNumber != nil }

    /// What went wrong, for the report; nil while every line was written.
    var failure: String? {
        guard let e = self.errorNumber else { return nil }
        let name = self.path == "-" ? "standard output" : self.path
        return "cannot write \(name): \(String(cString: strerror(e))); \(self.linesNotWritten) lines (\(self.bytesNotWritten) bytes) not written"
    }

    /// Writes what the collector has written so far.
    func flush(_ collector: inout Collector) {
        collector.takeOutput { self.write($0) }
    }

    /// Writes `pieces` one after another, with as few system calls as `writev` allows.
    func write(_ pieces: [UnsafeRawBufferPointer]) {
        var i = 0
        while i < pieces.count {
            let group = pieces[i..<min(pieces.count, i + 512)]
            i += group.count
            if self.failed {
                for piece in group { self.lost(piece) }
                continue
            }
            let vectors = group.map { iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count) }
            let total = group.reduce(0) { $0 + $1.count }
            let n = vectors.withUnsafeBufferPointer { writev(self.fd, $0.baseAddress, Int32($0.count)) }
            if n != total {
                // A short write (or an error): finish the group piece by piece from where it stopped.
                var done = max(0, n)
                for piece in group {
                    if done >= piece.count {
                        done -= piece.count
                        continue
                    }
                    self.write(UnsafeRawBufferPointer(rebasing: piece[done...]))
                    done = 0
                }
            }
        }
    }

    /// Writes `bytes` whole (``writeWhole(_:_:)``); at an error counts what is left as lost.
    func write(_ bytes: UnsafeRawBufferPointer) {
        guard !self.failed else { return self.lost(bytes) }
        let (written, error) = writeWhole(self.fd, bytes)
        guard let error else { return }
        self.errorNumber = error
        self.lost(UnsafeRawBufferPointer(rebasing: bytes[written...]))
    }

    private func lost(_ bytes: UnsafeRawBufferPointer) {
        self.bytesNotWritten += bytes.count
        for b in bytes where b == UInt8(ascii: "\n") { self.linesNotWritten += 1 }
    }

    deinit {
        if self.closeAtEnd { close(self.fd) }
    }
}

/// A batch of frames whose bytes stay valid until the batch is given back: frames in a mapped file, or frames
/// copied one after another into the batch's own buffer by the read-ahead thread. Nothing is allocated per frame.
/// `@unchecked Sendable`: a batch has one writer at a time, and is only read while others hold it.
final class FrameBatch: @unchecked Sendable {
    struct Frame {
        /// The frame's bytes in a mapped file; nil: at `offset` in the batch's buffer.
        var start: UnsafeRawPointer?
        var offset: Int
        var length: Int
        var timestamp: Int64
        var linkType: LinkType
    }

    /// A batch is handed over once this much is in it.
    static let targetBytes = 1 << 20
    @exclusivity(unchecked) private(set) var storage: UnsafeMutableRawPointer
    private var capacity: Int
    @exclusivity(unchecked) private var used = 0
    // A batch has one writer at a time (see above): the runtime's exclusivity checks, a thread-local lookup per
    // access, would cost more than the frame's reading.
    @exclusivity(unchecked) private(set) var frames: [Frame] = []
    /// With workers: how the router routed the frames (``Routing``), made at the first use.
    private(set) var routing: Routing? = nil
    /// A batch holds at most this many frames.
    static let maxFrames = 1 << 12
    /// For mapped frames: where the file's next record starts (what is below may be released once the batch is done).
    var endOffset = 0
    var isLast = false
    var error: CaptureError?

    /// Filled by the read-ahead thread (copies), else by a mapped file (frames in place).
    let isCopy: Bool

    init(isCopy: Bool) {
        self.isCopy = isCopy
        self.capacity = isCopy ? FrameBatch.targetBytes : 16
        self.storage = .allocate(byteCount: self.capacity, alignment: 16)
        self.frames.reserveCapacity(FrameBatch.maxFrames)
    }

    deinit {
        self.storage.deallocate()
        self.routing?.deallocate()
    }

    /// Each frame's route and the router's clock after it, and the frames of each share (indices, ascending), so
    /// that a share passes over the others at once. Room for a full batch is made once: the router writes a few
    /// words per frame, without an array's checks.
    struct Routing {
        let routes: UnsafeMutablePointer<FrameRoute>
        let clocks: UnsafeMutablePointer<Int64>
        /// Share `s`'s frames start at `s * maxFrames`.
        let own: UnsafeMutablePointer<Int32>
        var ownCounts: [Int]
        /// Frames of the input before this batch's first (the router's count).
        var framesBefore: UInt64 = 0

        init(shares: Int) {
            self.routes = .allocate(capacity: FrameBatch.maxFrames)
            self.clocks = .allocate(capacity: FrameBatch.maxFrames)
            self.own = .allocate(capacity: shares * FrameBatch.maxFrames)
            self.ownCounts = Array(repeating: 0, count: shares)
        }

        func deallocate() {
            self.routes.deallocate()
            self.clocks.deallocate()
            self.own.deallocate()
        }

        /// Share `share`'s frames.
        func frames(ofShare share: Int) -> UnsafeBufferPointer<Int32> {
            UnsafeBufferPointer(start: self.own + share * FrameBatch.maxFrames, count: self.ownCounts[share])
        }
    }

    /// Routes the batch's frames with `route`, which gives a frame's route and the router's clock after it.
    func route(shares: Int, framesBefore: UInt64, _ route: (UnsafeRawBufferPointer, Frame) -> (FrameRoute, Int64)) {
        var routing = self.routing ?? Routing(shares: shares)
        self.routing = nil
        precondition(routing.ownCounts.count == shares && self.frames.count <= FrameBatch.maxFrames)
        routing.framesBefore = framesBefore
        var counts = routing.ownCounts
        for s in counts.indices { counts[s] = 0 }
        let own = routing.own
        func give(_ i: Int, to s: Int) {
            own[s &* FrameBatch.maxFrames &+ counts[s]] = Int32(i)
            counts[s] &+= 1
        }
        for i in self.frames.indices {
            let frame = self.frames[i]
            let (r, clock) = route(self.bytes(frame), frame)
            routing.routes[i] = r
            routing.clocks[i] = clock
            if r.isForEveryone {
                for s in counts.indices { give(i, to: s) }
            } else if let s = r.owner {
                give(i, to: s)
            }
        }
        routing.ownCounts = counts
        self.routing = routing
    }

    var isFull: Bool { self.used >= FrameBatch.targetBytes || self.frames.count >= FrameBatch.maxFrames }

    func reset() {
        self.used = 0
        self.frames.removeAll(keepingCapacity: true)
        self.isLast = false
        self.error = nil
        self.endOffset = 0
    }

    @inline(__always)
    func bytes(_ frame: Frame) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: (frame.start ?? UnsafeRawPointer(self.storage)) + frame.offset, count: frame.length)
    }

    /// A frame that stays where it is (in a mapped file).
    func appendInPlace(_ frame: CapturedFrame) {
        self.frames.append(
            Frame(start: frame.bytes.baseAddress, offset: 0, length: frame.bytes.count,
                  timestamp: frame.timestampNanoseconds, linkType: frame.linkType))
        self.used += frame.bytes.count
    }

    /// A frame copied into the batch's buffer.
    func appendCopy(_ frame: CapturedFrame) {
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
            Frame(start: nil, offset: self.used, length: n, timestamp: frame.timestampNanoseconds, linkType: frame.linkType))
        self.used += n
    }
}

/// Frames read ahead on a thread of their own, so that reading the file (libpcap's copies, the kernel's) overlaps
/// analysing the frames read before. Batches go round a fixed set, so memory stays bounded, and come out in file
/// order, so the output is the same.
final class ReadAhead: @unchecked Sendable {
    /// The reader, owned by the reading thread once it starts.
    private final class ReaderBox: @unchecked Sendable {
        var reader: CaptureFileReader
        init(_ reader: consuming CaptureFileReader) { self.reader = reader }
    }

    private let queues = Mutex<(free: [FrameBatch], ready: [FrameBatch])>(([], []))
    private let readySignal = DispatchSemaphore(value: 0)
    private let freeSignal: DispatchSemaphore

    init(_ reader: consuming CaptureFileReader, batches: Int) {
        self.freeSignal = DispatchSemaphore(value: batches)
        self.queues.withLock { $0.free = (0..<batches).map { _ in FrameBatch(isCopy: true) } }
        let box = ReaderBox(reader)
        OSThread.start(name: "vpcmirror read-ahead") { [self] in self.read(box) }
    }

    private func read(_ box: ReaderBox) {
        while true {
            self.freeSignal.wait()
            let batch = self.queues.withLock { $0.free.removeLast() }
            batch.reset()
            do {
                while !batch.isFull, try box.reader.next({ batch.appendCopy($0) }) != nil {}
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
    func next() -> FrameBatch {
        self.readySignal.wait()
        return self.queues.withLock { $0.ready.removeFirst() }
    }

    /// Gives a batch back once its frames are analysed.
    func recycle(_ batch: FrameBatch) {
        self.queues.withLock { $0.free.append(batch) }
        self.freeSignal.signal()
    }
}

/// The frames of one capture file in batches, in file order. Classic pcap is mapped and read in place (no copy,
/// no thread); pcapng, and a pcap file from the first record libpcap must read its own way, go through libpcap on
/// the read-ahead thread. At most `batches` batches are out at once; give each back (``recycle(_:)``), in order,
/// before the source goes.
final class FrameSource {
    // Used by one thread (exclusivity checks would cost a thread-local lookup per frame).
    @exclusivity(unchecked) private var mapped: MappedPcapFile?
    /// Until the map ends irregularly: the libpcap reader, which has read the header only.
    private var reader: CaptureFileReader?
    private var readAhead: ReadAhead?
    private var free: [FrameBatch] = []
    private let batches: Int

    init(path: String, batches: Int) throws(CollectError) {
        let reader: CaptureFileReader
        do {
            reader = try CaptureFileReader(path: path)
        } catch {
            throw CollectError(description: error.description)
        }
        self.batches = batches
        self.mapped = MappedPcapFile.open(path: path, linkType: reader.linkType, snapshotLength: reader.snapshotLength)
        if self.mapped?.framesRead == nil {
            self.readAhead = ReadAhead(reader, batches: batches)
        } else {
            self.reader = consume reader
            self.free = (0..<batches).map { _ in FrameBatch(isCopy: false) }
        }
    }

    /// The next batch (the last one says so, with the error that ended the file if any).
    func next() -> FrameBatch {
        if let readAhead = self.readAhead { return readAhead.next() }
        let batch = self.free.removeLast()
        batch.reset()
        while !batch.isFull {
            switch self.mapped?.next() ?? .endOfFile {
            case .frame(let frame):
                batch.appendInPlace(frame)
            case .endOfFile:
                batch.isLast = true
                batch.endOffset = self.mapped?.nextRecordOffset ?? 0
                return batch
            case .irregular:
                // libpcap goes on from this record, with its own rules and messages.
                batch.endOffset = self.mapped?.nextRecordOffset ?? 0
                self.handOver(skipping: self.mapped?.framesRead ?? 0, batch)
                return batch
            }
        }
        batch.endOffset = self.mapped?.nextRecordOffset ?? 0
        return batch
    }

    private func handOver(skipping count: Int, _ batch: FrameBatch) {
        var reader = self.reader.take()!
        do {
            for _ in 0..<count { _ = try reader.next { _ in } }
        } catch {
            batch.error = error
            batch.isLast = true
            return
        }
        // The batches still out go back to `free`; the read-ahead thread has its own.
        self.readAhead = ReadAhead(reader, batches: self.batches)
    }

    /// Gives a batch back; the mapped pages below it are released.
    func recycle(_ batch: FrameBatch) {
        if batch.isCopy {
            self.readAhead?.recycle(batch)
            return
        }
        self.mapped?.release(below: batch.endOffset)
        self.free.append(batch)
    }
}

/// Set by SIGINT/SIGTERM; the receive loop checks it between batches.
nonisolated(unsafe) var stopRequested: sig_atomic_t = 0

public enum Collect {
    public static func run(options: CollectOptions) throws(CollectError) -> CollectReport {
        let writer = try LineWriter(path: options.output)
        // Every file is checked before any is read, so a bad path fails before anything is written. The first is
        // not: reading opens it before anything is written, with the same error (each open reads 1 MiB).
        for path in options.readFiles.dropFirst() {
            do {
                _ = try CaptureFileReader(path: path)
            } catch {
                throw CollectError(description: error.description)
            }
        }
        let shared = options.workers > 1 && options.listen.isEmpty && !options.readFiles.isEmpty
        let (router, shares) = try shared
            ? SharedRead.run(options: options, writer: writer) : Self.runAlone(options: options, writer: writer)
        var report = CollectReport(router: router, shares: shares)
        report.outputFailure = writer.failure
        report.linesNotWritten = writer.linesNotWritten
        return report
    }

    /// One collector on this thread: `--read` files, then `--listen` sockets.
    private static func runAlone(
        options: CollectOptions, writer: LineWriter
    ) throws(CollectError) -> (router: Collector, shares: [Collector]) {
        var collector = Collector(options: options.collector)
        files: for path in options.readFiles {
            let source = try FrameSource(path: path, batches: 4)
            while true {
                let batch = source.next()
                for frame in batch.frames {
                    collector.process(frame: batch.bytes(frame), linkType: frame.linkType, timestamp: frame.timestamp)
                }
                if collector.pendingOutputByteCount >= LineWriter.batchBytes { writer.flush(&collector) }
                let (last, error) = (batch.isLast, batch.error)
                source.recycle(batch)
                if let error {
                    collector.finish()
                    writer.flush(&collector)
                    throw CollectError(description: error.description)
                }
                if writer.failed { break files }
                if last { break }
            }
        }
        if !options.listen.isEmpty && !writer.failed {
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
                if writer.failed { break }
            }
        }
        collector.finish()
        writer.flush(&collector)
        return (collector, [collector])
    }
}

extension CollectReport {
    /// The counters of collectors that shared one input: frames and their decoding from the one that routed them,
    /// what each share did with its connections summed (one collector alone is both).
    init(router first: Collector, shares collectors: [Collector]) {
        var counters = first.counters
        var reassembly = ReassemblyCounters()
        counters.transactions = 0
        counters.emptyExchanges = 0
        counters.flags = [:]
        for c in collectors {
            counters.transactions += c.counters.transactions
            counters.emptyExchanges += c.counters.emptyExchanges
            counters.flags.merge(c.counters.flags, uniquingKeysWith: +)
            reassembly.add(c.reassembler.counters)
        }
        self.init(
            frames: first.decapsulator.counters.frames, decapsulation: first.decapsulator.counters,
            outerFragmentsReassembled: first.decapsulator.outerFragments.counters.reassembled,
            collector: counters, reassembly: reassembly, lines: counters.transactions)
    }
}

/// `collect --read` with several collectors, one thread each, sharing the connections (``CollectorOptions/shareCount``).
/// Every collector is given every batch, with the router's list of its frames; each writes the lines of its own
/// connections, noting where they belong (``OutputRun``), and this thread merges them batch by batch into the order
/// one collector would have written, so the output does not depend on the number of workers.
enum SharedRead {
    /// Lines of one worker for one batch (or for the end), with their places.
    struct Chunk: @unchecked Sendable {
        var bytes: UnsafeMutableRawBufferPointer
        var runs: [OutputRun]
    }

    enum Message: @unchecked Sendable {
        case batch(FrameBatch)
        case end
    }

    final class Worker: @unchecked Sendable {
        /// Only the worker's thread touches it until it is done (no exclusivity checks per frame).
        @exclusivity(unchecked) var collector: Collector
        let inbox = Mutex<[Message]>([])
        let inboxSignal = DispatchSemaphore(value: 0)
        let outbox = Mutex<[Chunk]>([])
        let results: DispatchSemaphore

        /// How many frames ahead a worker asks for the headers of its own frames.
        static let prefetchDistance = 6

        init(collector: Collector, results: DispatchSemaphore) {
            self.collector = collector
            self.results = results
        }

        func send(_ message: Message) {
            self.inbox.withLock { $0.append(message) }
            self.inboxSignal.signal()
        }

        func run() {
            while true {
                self.inboxSignal.wait()
                let message = self.inbox.withLock { $0.removeFirst() }
                switch message {
                case .batch(let batch):
                    self.process(batch)
                    self.publish()
                case .end:
                    self.collector.finish()
                    self.publish()
                    return
                }
            }
        }

        /// The batch's frames of this worker's share; the collector passes over the others.
        private func process(_ batch: FrameBatch) {
            guard let routing = batch.routing else { preconditionFailure("a batch handed out unrouted") }
            let frames = batch.frames
            let (routes, clocks) = (routing.routes, routing.clocks)
            let own = routing.frames(ofShare: self.collector.shareIndex)
            let before = routing.framesBefore
            let clock = { (ordinal: UInt64) in clocks[Int(ordinal &- before &- 1)] }
            for k in own.indices {
                let i = Int(own[k])
                // The headers of a frame this worker decodes, a few ahead: the router read them on another core,
                // and waiting for them was each frame's first stall.
                let ahead = k &+ Self.prefetchDistance
                if ahead < own.count, let start = batch.bytes(frames[Int(own[ahead])]).baseAddress {
                    MappedPcapFile.prefetch(start)
                    MappedPcapFile.prefetch(start + 64)
                }
                let frame = frames[i]
                self.collector.process(
                    frame: batch.bytes(frame), linkType: frame.linkType, timestamp: frame.timestamp, route: routes[i],
                    ordinal: before &+ UInt64(i &+ 1), clock: clock)
            }
            self.collector.advance(to: before &+ UInt64(frames.count), clock: clock)
        }

        private func publish() {
            // Copied out at their size: most batches make a few lines and some a megabyte, and memory of that size
            // comes back from the allocator already touched. (Handing the buffers over instead, each grew to the
            // largest batch: 22 MB of fresh pages, a fault per 4 KiB, on the benchmark input.)
            var chunk = Chunk(bytes: .init(start: nil, count: 0), runs: [])
            self.collector.takeOutput { bytes, runs in
                if bytes.count > 0 {
                    chunk.bytes = .allocate(byteCount: bytes.count, alignment: 1)
                    chunk.bytes.copyMemory(from: bytes)
                }
                chunk.runs = runs
            }
            self.outbox.withLock { $0.append(chunk) }
            self.results.signal()
        }
    }

    /// Batches handed out and not yet merged.
    static let batchesInFlight = 16

    static func run(options: CollectOptions, writer: LineWriter) throws(CollectError) -> (router: Collector, shares: [Collector]) {
        let results = DispatchSemaphore(value: 0)
        var routerOptions = options.collector
        routerOptions.shareCount = options.workers
        var router = Collector(options: routerOptions)
        let workers = (0..<options.workers).map { i in
            var o = options.collector
            o.shareIndex = i
            o.shareCount = options.workers
            // Each gets its share of the bounds, so together they hold what one collector would.
            o.reassembly.maxConnections = max(1, o.reassembly.maxConnections / options.workers)
            o.reassembly.memcapBytes = max(1, o.reassembly.memcapBytes / options.workers)
            return Worker(collector: Collector(options: o), results: results)
        }
        for (i, worker) in workers.enumerated() {
            OSThread.start(name: "vpcmirror coll \(i)", stackSize: 8 << 20) { worker.run() }
        }
        func allPublished() -> Bool { workers.allSatisfy { w in w.outbox.withLock { !$0.isEmpty } } }
        // Merges the next chunk of every worker into the output.
        func merge() {
            var chunks: [Chunk] = []
            while true {
                chunks = []
                for w in workers {
                    guard let c = w.outbox.withLock({ $0.first }) else { break }
                    chunks.append(c)
                }
                if chunks.count == workers.count { break }
                results.wait()
            }
            for w in workers { w.outbox.withLock { _ = $0.removeFirst() } }
            var pieces: [UnsafeRawBufferPointer] = []
            var next = [Int](repeating: 0, count: chunks.count)
            while true {
                var best: Int? = nil
                for (i, c) in chunks.enumerated() where next[i] < c.runs.count {
                    if let b = best {
                        let x = c.runs[next[i]], y = chunks[b].runs[next[b]]
                        if (x.major, x.minor) < (y.major, y.minor) { best = i }
                    } else {
                        best = i
                    }
                }
                guard let b = best else { break }
                let runs = chunks[b].runs
                let start = runs[next[b]].start
                let end = next[b] + 1 < runs.count ? runs[next[b] + 1].start : chunks[b].bytes.count
                pieces.append(UnsafeRawBufferPointer(rebasing: chunks[b].bytes[start..<end]))
                next[b] += 1
            }
            writer.write(pieces)
            for c in chunks where c.bytes.baseAddress != nil { c.bytes.deallocate() }
        }
        var failure: CollectError? = nil
        files: for path in options.readFiles {
            let source: FrameSource
            do {
                source = try FrameSource(path: path, batches: Self.batchesInFlight + 1)
            } catch {
                failure = error
                break
            }
            var inFlight: [FrameBatch] = []
            while true {
                let batch = source.next()
                // Routed here, so that each frame is decoded once for the routing and then only by its share.
                batch.route(shares: workers.count, framesBefore: router.framesSeen) { bytes, frame in
                    let route = router.route(frame: bytes, linkType: frame.linkType, timestamp: frame.timestamp)
                    return (route, router.now)
                }
                for w in workers { w.send(.batch(batch)) }
                inFlight.append(batch)
                // Merged once every worker has a batch's lines, or when too many are out: line buffers come back
                // sooner (fewer of them, fewer fresh pages), and the output goes out sooner.
                while !inFlight.isEmpty && (inFlight.count >= Self.batchesInFlight || allPublished()) {
                    merge()
                    source.recycle(inFlight.removeFirst())
                }
                if batch.isLast {
                    if let error = batch.error { failure = CollectError(description: error.description) }
                    break
                }
                // The output is gone (reported by the caller): stop reading, end the workers.
                if writer.failed { break }
            }
            // The source's batches point into it: all of them come back before it goes.
            while !inFlight.isEmpty {
                merge()
                source.recycle(inFlight.removeFirst())
            }
            if failure != nil || writer.failed { break files }
        }
        for w in workers { w.send(.end) }
        merge()
        if let failure { throw failure }
        return (router, workers.map(\.collector))
    }
}

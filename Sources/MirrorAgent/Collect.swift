// vpcmirror: `collect`: VXLAN in (files or sockets), HTTP/1 exchanges out as ECS JSON lines.
public import MirrorCollector
import MirrorCapture
import MirrorReceiver
public import MirrorReassembly
public import MirrorWire
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

/// Buffered line output to a file descriptor.
final class LineWriter {
    let fd: Int32
    let closeAtEnd: Bool
    var buffer: [UInt8] = []
    var lines = 0

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
        self.buffer.reserveCapacity(1 << 16)
    }

    func write(_ line: String) {
        self.buffer.append(contentsOf: line.utf8)
        self.buffer.append(UInt8(ascii: "\n"))
        self.lines += 1
        if self.buffer.count >= 1 << 16 { self.flush() }
    }

    func flush() {
        var offset = 0
        while offset < self.buffer.count {
            let n = self.buffer.withUnsafeBytes { Glibc.write(self.fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                break
            }
            offset += n
        }
        self.buffer.removeAll(keepingCapacity: true)
    }

    deinit {
        self.flush()
        if self.closeAtEnd { close(self.fd) }
    }
}

/// Set by SIGINT/SIGTERM; the receive loop checks it between batches.
nonisolated(unsafe) var stopRequested: sig_atomic_t = 0

public enum Collect {
    public static func run(options: CollectOptions) throws(CollectError) -> CollectReport {
        let writer = try LineWriter(path: options.output)
        var collector = Collector(options: options.collector)
        let emit: (String) -> Void = { writer.write($0) }
        if !options.readFiles.isEmpty {
            for path in options.readFiles {
                var reader: CaptureFileReader
                do {
                    reader = try CaptureFileReader(path: path)
                } catch {
                    throw CollectError(description: error.description)
                }
                while true {
                    let more: Bool?
                    do {
                        more = try reader.next { frame -> Bool in
                            collector.process(frame: frame.bytes, linkType: frame.linkType, timestamp: frame.timestampNanoseconds, emit: emit)
                            return true
                        }
                    } catch {
                        collector.finish(emit: emit)
                        writer.flush()
                        throw CollectError(description: error.description)
                    }
                    if more == nil { break }
                }
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
                    collector.process(datagram: payload, timestamp: timestamp, emit: emit)
                }
                // Without traffic, time still passes for idle connections: expire on the receive clock.
                let now = monotonicNanoseconds()
                if now - lastExpiry > 1_000_000_000 {
                    lastExpiry = now
                    var t = timespec()
                    clock_gettime(CLOCK_REALTIME, &t)
                    collector.expire(now: Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec), emit: emit)
                    writer.flush()
                }
            }
        }
        collector.finish(emit: emit)
        writer.flush()
        return CollectReport(
            frames: collector.decapsulator.counters.frames, decapsulation: collector.decapsulator.counters,
            outerFragmentsReassembled: collector.decapsulator.outerFragments.counters.reassembled,
            collector: collector.counters, reassembly: collector.reassembler.counters, lines: writer.lines)
    }
}

// vpcmirror: `replay`: capture files through the sessions, out as VXLAN, with every frame accounted for.
import MirrorCapture
public import MirrorFilter
import MirrorSender
import MirrorVXLAN
public import MirrorWire

/// How `replay` runs.
public struct ReplayOptions: Sendable {
    public enum Speed: Hashable, Sendable {
        /// As fast as possible.
        case maximum
        /// At the capture's own pace, multiplied by a factor (1 = as recorded).
        case factor(Double)
    }
    public var speed = Speed.maximum
    /// Times to read the files (≥ 1).
    public var loops = 1
    /// The source interface MTU; TCP super-frames above it are segmented. AWS's default is 9001.
    public var mtu = 9001
    public var sourcePorts: ClosedRange<UInt16> = 65408...65535
    public var bindAddress: IPAddress? = nil
    /// Default: `wait` at maximum speed (nothing is lost by waiting on a file), `drop` when paced.
    public var queueFull: QueueFullPolicy? = nil
    /// Bytes of send queue per sender thread.
    public var queueBytes = 16 << 20
    /// Send runs of equal-size datagrams as one UDP GSO message (the wire carries the same datagrams).
    public var udpSegmentationOffload = true
    /// Sender threads; each owns a share of the outer source ports (and so of the flows).
    public var senderThreads = 1
    /// Called about twice a second with a progress line, when set.
    public var progress: (@Sendable (String) -> Void)? = nil
    public init() {}
}

/// A failure that stops a replay: a bad capture file or a sender that cannot start.
public struct ReplayError: Error, CustomStringConvertible, Sendable {
    public let description: String
    /// Counters up to the failure, when frames were already processed.
    public let partialReport: ReplayReport?
}

public enum Replay {
    /// Replays `files` through `configuration` and returns the counters.
    /// Every file is opened before anything is sent, so a missing or foreign file fails fast.
    public static func run(files: [String], configuration: MirrorConfiguration, options: ReplayOptions) throws(ReplayError) -> ReplayReport {
        for path in files {
            do {
                _ = try CaptureFileReader(path: path)
            } catch {
                throw ReplayError(description: error.description, partialReport: nil)
            }
        }
        let engine = TrafficMirrorEngine(configuration: configuration)
        let threads = max(1, min(options.senderThreads, options.sourcePorts.count))
        let queues = (0..<threads).map { _ in DatagramQueue(byteCapacity: options.queueBytes) }
        var pipeline = MirrorPipeline(
            engine: engine, encapsulator: VXLANEncapsulator(mtu: options.mtu), queues: queues,
            sourcePortCount: options.sourcePorts.count,
            policy: options.queueFull ?? (options.speed == .maximum ? .wait : .drop))
        guard !pipeline.destinations.isEmpty else {
            throw ReplayError(description: "no TrafficMirrorTargets endpoints to send to", partialReport: nil)
        }
        var senderOptions = UDPSender.Options()
        senderOptions.sourcePorts = options.sourcePorts
        senderOptions.bindAddress = options.bindAddress
        senderOptions.segmentationOffload = options.udpSegmentationOffload
        var senders: [UDPSender] = []
        do {
            for (k, queue) in queues.enumerated() {
                var o = senderOptions
                o.portShare = (k, threads)
                senders.append(try UDPSender(
                    destinations: pipeline.destinations.map { ($0.address, $0.port) },
                    sessionCount: configuration.trafficMirrorSessions.count, queue: queue, options: o))
            }
        } catch {
            throw ReplayError(description: error.description, partialReport: nil)
        }
        for s in senders { s.start() }

        let started = monotonicNanoseconds()
        var failure: String? = nil
        var lastProgress = started
        var firstTimestamp: Int64? = nil
        let factor: Double? = if case .factor(let f) = options.speed { f } else { nil }
        var paceOrigin = started
        var timestampOffset: Int64 = 0  // keeps pacing monotonic across files and loops
        var lastTimestamp: Int64 = 0

        outer: for _ in 0..<max(1, options.loops) {
            for path in files {
                var reader: CaptureFileReader
                do {
                    reader = try CaptureFileReader(path: path)
                } catch {
                    failure = error.description
                    break outer
                }
                var fileFirst: Int64? = nil
                while true {
                    let more: Bool?
                    do {
                        more = try reader.next { frame -> Bool in
                            if let factor {
                                if fileFirst == nil { fileFirst = frame.timestampNanoseconds; timestampOffset = lastTimestamp - frame.timestampNanoseconds }
                                let t = frame.timestampNanoseconds + timestampOffset
                                if firstTimestamp == nil { firstTimestamp = t; paceOrigin = monotonicNanoseconds() }
                                let due = paceOrigin + Int64(Double(t - firstTimestamp!) / factor)
                                sleep(untilMonotonic: due)
                                lastTimestamp = t
                            }
                            pipeline.process(frame.bytes, linkType: frame.linkType)
                            return true
                        }
                    } catch {
                        failure = error.description
                        break outer
                    }
                    guard more != nil else { break }
                    if let progress = options.progress, pipeline.counters.frames.framesRead & 0x3FF == 0 {
                        let now = monotonicNanoseconds()
                        if now - lastProgress > 500_000_000 {
                            lastProgress = now
                            progress(Self.progressLine(pipeline.counters, elapsed: now - started, queued: queues.reduce(0) { $0 + $1.count }))
                        }
                    }
                }
            }
        }
        var counters = pipeline.counters
        let sent = finishSenders(senders, counters: &counters)
        let elapsed = monotonicNanoseconds() - started
        let report = ReplayReport(
            configuration: configuration, files: files, loops: max(1, options.loops), elapsedNanoseconds: elapsed,
            counters: counters, malformedReasons: pipeline.malformedReasons, sendErrors: sent.errors,
            portUnreachable: sent.portUnreachable, destinations: pipeline.destinations.map(\.description))
        if let failure {
            throw ReplayError(description: failure, partialReport: report)
        }
        return report
    }

    static func progressLine(_ c: MirrorCounters, elapsed: Int64, queued: Int) -> String {
        let seconds = Double(elapsed) / 1e9
        let mirrored = c.sessions.reduce(0) { $0 + $1.mirrored }
        let rate = seconds > 0 ? Int(Double(c.frames.framesRead) / seconds) : 0
        return "frames \(c.frames.framesRead)  mirrored \(mirrored)  queued \(queued)  \(rate) frames/s"
    }
}

/// Stops the senders after they have sent what is queued, and adds what they did to `counters`.
/// - Returns: send failures by errno name, and how many ICMP port-unreachable reports came back.
func finishSenders(_ senders: [UDPSender], counters: inout MirrorCounters) -> (errors: [String: Int], portUnreachable: Int) {
    var errors: [Int32: Int] = [:]
    var portUnreachable = 0
    for sender in senders {
        let r = sender.finish()
        for (i, c) in r.perSession.enumerated() {
            counters.sessions[i].sent += c.sent
            counters.sessions[i].bytesSent += c.bytesSent
            counters.sessions[i].droppedSendError += c.failed
        }
        errors.merge(r.errors, uniquingKeysWith: +)
        portUnreachable += r.portUnreachable
    }
    return (Dictionary(uniqueKeysWithValues: errors.map { (errnoName($0.key), $0.value) }), portUnreachable)
}

// vpcmirror: `attach`: live interfaces through the sessions, out as VXLAN, through link events and reloads.
public import MirrorCapture
public import MirrorConfig
import MirrorFilter
import MirrorLink
import MirrorSender
import MirrorVXLAN
public import MirrorWire
import Glibc

/// How `attach` runs.
public struct AttachOptions: Sendable {
    /// The sessions file, read at start and again on SIGHUP.
    public var sessionsPath = "sessions.json"
    public var validation = ValidationOptions()
    /// Snapshot length, ring buffer and immediate mode of every handle (its `filter` is ignored).
    public var capture = LiveCaptureOptions()
    /// Install the kernel prefilter derived from the sessions (`CapturePrefilter`).
    public var prefilter = true
    public var sourcePorts: ClosedRange<UInt16> = 65408...65535
    public var bindAddress: IPAddress? = nil
    public var queueBytes = 16 << 20
    public var udpSegmentationOffload = true
    /// Finish TCP/UDP checksums the kernel left to the NIC (`VXLANEncapsulator.completesPartialChecksums`).
    public var completePartialChecksums = true
    /// Stop after this many seconds; nil runs until SIGINT/SIGTERM.
    public var duration: Double? = nil
    /// Where log lines go (link events, reloads, capture errors).
    public var log: @Sendable (String) -> Void = { _ in }
    public init() {}
}

/// A failure that stops `attach` before it captures: a bad config, a missing interface, no permission.
public struct AttachError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// Set by signal handlers; the capture loop checks them at least every `pollMilliseconds`.
nonisolated(unsafe) var attachStopRequested: sig_atomic_t = 0
nonisolated(unsafe) var attachReloadRequested: sig_atomic_t = 0

public enum Attach {
    static let pollMilliseconds: Int32 = 100
    /// Frames taken from one handle before the others get a turn.
    static let framesPerTurn = 512

    /// Captures until SIGINT/SIGTERM (or `duration`) and returns the counters of the configuration in force at
    /// the end; earlier configurations' counters are logged when a reload replaces them.
    public static func run(options: AttachOptions) throws(AttachError) -> ReplayReport {
        let monitor: LinkMonitor
        do {
            monitor = try LinkMonitor()
        } catch {
            throw AttachError(description: error.description)
        }
        var generation = try Generation(options: options, links: monitor.interfaces)
        var slots: [CaptureSlot] = []
        try Self.openSlots(&slots, for: generation, options: options, links: monitor.interfaces, atStart: true)

        var handled = sigset_t()
        sigemptyset(&handled)
        for s in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&handled, s) }
        pthread_sigmask(SIG_UNBLOCK, &handled, nil)
        signal(SIGINT) { _ in attachStopRequested = 1 }
        signal(SIGTERM) { _ in attachStopRequested = 1 }
        signal(SIGHUP) { _ in attachReloadRequested = 1 }

        let started = monotonicNanoseconds()
        let deadline = options.duration.map { started + Int64($0 * 1e9) }
        var lastRetry = started
        options.log("attached: " + slots.map { "\($0.name) \($0.direction.rawValue)" }.joined(separator: ", ")
            + " → " + generation.pipeline.destinations.map(\.description).joined(separator: ", "))
        var descriptors: [pollfd] = []
        while attachStopRequested == 0 {
            if let deadline, monotonicNanoseconds() >= deadline { break }
            if attachReloadRequested != 0 {
                attachReloadRequested = 0
                Self.reload(&generation, slots: &slots, options: options, links: monitor.interfaces, started: started)
            }
            descriptors.removeAll(keepingCapacity: true)
            descriptors.append(pollfd(fd: monitor.fileDescriptor, events: Int16(POLLIN), revents: 0))
            for slot in slots { descriptors.append(pollfd(fd: slot.capture?.fileDescriptor ?? -1, events: Int16(POLLIN), revents: 0)) }
            let ready = poll(&descriptors, nfds_t(descriptors.count), Self.pollMilliseconds)
            if ready < 0 && errno != EINTR {
                options.log("poll failed: errno \(errno)")
                break
            }
            for (k, slot) in slots.enumerated() where descriptors[k + 1].revents != 0 {
                Self.drain(slot, generation: generation, options: options)
            }
            if descriptors[0].revents != 0 {
                Self.handleLinkEvents(monitor: monitor, slots: slots, generation: generation, options: options)
            }
            // A handle that failed to reopen (the link flapped again meanwhile) is retried every second.
            let now = monotonicNanoseconds()
            if now - lastRetry > 1_000_000_000 {
                lastRetry = now
                for slot in slots where slot.capture == nil {
                    if let link = monitor.interfaces[slot.name], link.isCapturable {
                        Self.open(slot, generation: generation, options: options, link: link, reason: "capture resumed")
                    }
                }
            }
        }
        // Take what the rings still hold, then stop.
        for slot in slots { Self.drain(slot, generation: generation, options: options, all: true) }
        options.log("stopping")
        return generation.finish(slots: slots, elapsed: monotonicNanoseconds() - started)
    }

    // MARK: - Capture handles

    /// Opens both directions of every captured interface of the configuration.
    static func openSlots(
        _ slots: inout [CaptureSlot], for generation: Generation, options: AttachOptions,
        links: [String: NetworkInterfaceInfo], atStart: Bool
    ) throws(AttachError) {
        for (i, name) in generation.captured {
            for direction in [CaptureDirection.received, .sent] {
                if slots.contains(where: { $0.name == name && $0.direction == direction }) { continue }
                let slot = CaptureSlot(name: name, direction: direction, interfaceIndex: i)
                slots.append(slot)
                guard let link = links[name], link.isCapturable else {
                    options.log("\(name) \(direction.rawValue): link \(links[name]?.stateDescription ?? "absent"): capture waits for it")
                    continue
                }
                do {
                    try slot.open(generation: generation, options: options, linkIndex: link.index)
                } catch {
                    if atStart { throw AttachError(description: error.description) }
                    options.log("\(error.description)")
                }
            }
        }
    }

    static func open(_ slot: CaptureSlot, generation: Generation, options: AttachOptions, link: NetworkInterfaceInfo, reason: String) {
        let previous = slot.linkIndex
        do {
            try slot.open(generation: generation, options: options, linkIndex: link.index)
            let why = if let previous, previous != link.index {
                "interface re-created (index \(previous) → \(link.index)): re-attached"
            } else {
                "\(reason) (index \(link.index))"
            }
            options.log("\(slot.name) \(slot.direction.rawValue): \(why)")
        } catch {
            options.log("\(slot.name) \(slot.direction.rawValue): cannot reopen: \(error.description)")
        }
    }

    /// Runs pending frames of one handle through the pipeline: `framesPerTurn` of them, or with `all` what the ring
    /// holds (bounded, so that traffic arriving as fast as it is taken cannot hold up a stop or a reload).
    static func drain(_ slot: CaptureSlot, generation: Generation, options: AttachOptions, all: Bool = false) {
        let interface = slot.interfaceIndex
        let direction = slot.trafficDirection
        var taken = 0
        let limit = all ? Self.framesPerTurn * 1024 : Self.framesPerTurn
        while taken < limit {
            do {
                let got: Void? = try slot.capture?.next { frame in
                    generation.pipeline.process(frame.bytes, linkType: frame.linkType, capturedOn: interface, direction: direction)
                }
                if got == nil { return }
                taken += 1
            } catch {
                options.log("\(slot.name) \(slot.direction.rawValue): capture stopped: \(error.detail); paused until the link is back")
                slot.close()
                return
            }
        }
    }

    static func handleLinkEvents(monitor: LinkMonitor, slots: [CaptureSlot], generation: Generation, options: AttachOptions) {
        let changes: [LinkMonitor.Change]
        do {
            changes = try monitor.changes()
        } catch {
            options.log("link events: \(error.description)")
            return
        }
        for change in changes {
            switch change {
            case .disappeared(let name):
                for slot in slots where slot.name == name {
                    slot.close()
                    options.log("\(name) \(slot.direction.rawValue): interface deleted: capture paused until it is back")
                }
            case .appeared(let link):
                for slot in slots where slot.name == link.name {
                    if link.isCapturable {
                        Self.open(slot, generation: generation, options: options, link: link, reason: "interface appeared: attached")
                    } else {
                        options.log("\(link.name) \(slot.direction.rawValue): interface re-created, link \(link.stateDescription): waiting")
                    }
                }
            case .changed(let link, let previous):
                for slot in slots where slot.name == link.name {
                    if !link.isCapturable {
                        let was = slot.capture != nil
                        slot.close()
                        if was { options.log("\(link.name) \(slot.direction.rawValue): link \(link.stateDescription): capture paused") }
                    } else if slot.capture == nil || link.index != previous.index {
                        slot.close()
                        Self.open(slot, generation: generation, options: options, link: link, reason: "link up: capture resumed")
                    }
                }
            }
        }
    }

    // MARK: - SIGHUP

    /// Loads the sessions file again. A valid file replaces the configuration between two frames: the old
    /// senders drain, new ones start, and each kept handle gets its new prefilter (libpcap applies it to frames
    /// already in the ring too). An invalid file changes nothing.
    static func reload(
        _ generation: inout Generation, slots: inout [CaptureSlot], options: AttachOptions,
        links: [String: NetworkInterfaceInfo], started: Int64
    ) {
        let next: Generation
        do {
            next = try Generation(options: options, links: links)
        } catch {
            options.log("reload rejected, keeping the running configuration:\n" + error.description)
            return
        }
        // Frames the kernel holds were captured under the old configuration: they finish under it.
        for slot in slots { Self.drain(slot, generation: generation, options: options, all: true) }
        let report = generation.finish(slots: slots, elapsed: monotonicNanoseconds() - started)
        options.log("reloaded \(options.sessionsPath); counters of the configuration it replaces:\n" + report.text)
        generation = next
        let names = Set(next.captured.map(\.name))
        for slot in slots where !names.contains(slot.name) {
            slot.close()
            options.log("\(slot.name) \(slot.direction.rawValue): no longer in the sessions file: detached")
        }
        slots.removeAll { !names.contains($0.name) }
        for slot in slots {
            slot.interfaceIndex = next.captured.first { $0.name == slot.name }!.index
            slot.resetCounts()
            guard slot.capture != nil else { continue }
            do {
                guard let linkType = slot.capture?.linkType else { continue }
                try slot.capture?.setFilter(next.prefilter(for: slot, linkType: linkType, options: options))
            } catch {
                options.log("\(error.description); capture paused")
                slot.close()
            }
        }
        do {
            try Self.openSlots(&slots, for: next, options: options, links: links, atStart: false)
        } catch {
            options.log(error.description)
        }
    }
}

/// One interface and direction: its handle while the link is up, and the kernel's counts across reopenings.
final class CaptureSlot {
    let name: String
    let direction: CaptureDirection
    /// Index into the current configuration's `NetworkInterfaces`.
    var interfaceIndex: Int
    var capture: LiveCapture? = nil
    /// The kernel's index of the interface when last opened: a new index means it was re-created.
    var linkIndex: Int32? = nil
    /// Kernel counts of handles already closed.
    var closedReceived = 0
    var closedDropped = 0
    var openings = 0

    init(name: String, direction: CaptureDirection, interfaceIndex: Int) {
        self.name = name
        self.direction = direction
        self.interfaceIndex = interfaceIndex
    }

    /// The engine's name for the capture's direction.
    var trafficDirection: TrafficDirection { self.direction == .received ? .ingress : .egress }

    /// Opens the handle, then installs `generation`'s prefilter: the expression depends on the link type, known
    /// only once the handle is open. Frames that arrived in between are filtered too (libpcap refilters the ring).
    func open(generation: Generation, options: AttachOptions, linkIndex: Int32) throws(LiveCaptureError) {
        self.close()
        var o = options.capture
        o.filter = nil
        let capture = try LiveCapture(interface: self.name, direction: self.direction, options: o)
        if let expression = generation.prefilter(for: self, linkType: capture.linkType, options: options) {
            try capture.setFilter(expression)
        }
        self.capture = consume capture
        self.linkIndex = linkIndex
        self.openings += 1
    }

    func close() {
        if let s = self.capture?.statistics() {
            self.closedReceived += s.received
            self.closedDropped += s.dropped
        }
        self.capture = nil
    }

    /// Received by the filter and dropped by the kernel, over every handle this slot had.
    var counts: (received: Int, dropped: Int) {
        let s = self.capture?.statistics()
        return (self.closedReceived + (s?.received ?? 0), self.closedDropped + (s?.dropped ?? 0))
    }

    func resetCounts() {
        let s = self.capture?.statistics()
        self.closedReceived = -(s?.received ?? 0)
        self.closedDropped = -(s?.dropped ?? 0)
    }
}

/// One configuration in force: its pipeline and its senders.
final class Generation {
    let configuration: MirrorConfiguration
    /// The interfaces to capture on: named, and mirrored by at least one session (index into `NetworkInterfaces`).
    let captured: [(index: Int, name: String)]
    var pipeline: MirrorPipeline
    let senders: [UDPSender]

    init(options: AttachOptions, links: [String: NetworkInterfaceInfo]) throws(AttachError) {
        var config: MirrorConfiguration
        do {
            config = try ConfigLoader.load(path: options.sessionsPath, options: options.validation)
        } catch {
            throw AttachError(description: error.description)
        }
        var mtus: [Int] = []
        var captured: [(index: Int, name: String)] = []
        let withSessions = Set(config.trafficMirrorSessions.map(\.networkInterfaceId))
        for (i, e) in config.networkInterfaces.enumerated() {
            // Only interfaces some session mirrors are captured: the others have nothing to decide.
            guard let name = e.interfaceName, withSessions.contains(e.networkInterfaceId) else {
                mtus.append(9001)
                continue
            }
            captured.append((i, name))
            guard let link = links[name] else {
                let have = links.keys.sorted().joined(separator: ", ")
                throw AttachError(description: "\(options.sessionsPath): NetworkInterfaces[\(i)].InterfaceName: \"\(name)\" is not an interface on this host (have: \(have))")
            }
            // The file pins MAC and addresses when it gives them; otherwise the kernel's are used.
            if e.macAddress == nil, let mac = link.macAddress, mac != .zero { config.networkInterfaces[i].macAddress = mac }
            if e.addresses.isEmpty { config.networkInterfaces[i].addresses = link.addresses.map(\.address) }
            mtus.append(link.mtu)
        }
        guard !captured.isEmpty else {
            throw AttachError(description: "\(options.sessionsPath): no NetworkInterfaces entry that a session mirrors has an InterfaceName to capture on")
        }
        self.configuration = config
        self.captured = captured
        let queue = DatagramQueue(byteCapacity: options.queueBytes)
        var encapsulator = VXLANEncapsulator()
        encapsulator.completesPartialChecksums = options.completePartialChecksums
        self.pipeline = MirrorPipeline(
            engine: TrafficMirrorEngine(configuration: config), encapsulator: encapsulator, interfaceMTUs: mtus,
            queues: [queue], sourcePortCount: options.sourcePorts.count, policy: .drop)
        guard !self.pipeline.destinations.isEmpty else {
            throw AttachError(description: "\(options.sessionsPath): no TrafficMirrorTargets endpoints to send to")
        }
        var o = UDPSender.Options()
        o.sourcePorts = options.sourcePorts
        o.bindAddress = options.bindAddress
        o.segmentationOffload = options.udpSegmentationOffload
        do {
            self.senders = [try UDPSender(
                destinations: self.pipeline.destinations.map { ($0.address, $0.port) },
                sessionCount: config.trafficMirrorSessions.count, queue: queue, options: o)]
        } catch {
            throw AttachError(description: error.description)
        }
        for s in self.senders { s.start() }
    }

    /// The kernel filter for `slot` on a `linkType` link, or nil without `--prefilter`.
    func prefilter(for slot: CaptureSlot, linkType: LinkType, options: AttachOptions) -> String? {
        guard options.prefilter else { return nil }
        return CapturePrefilter.expression(
            for: self.configuration, interfaceIndex: slot.interfaceIndex, direction: slot.trafficDirection,
            vlanTags: linkType == .ethernet)
    }

    /// Drains the senders and returns the counters.
    func finish(slots: [CaptureSlot], elapsed: Int64) -> ReplayReport {
        var counters = self.pipeline.counters
        let sent = finishSenders(self.senders, counters: &counters)
        var report = ReplayReport(
            configuration: self.configuration, files: slots.map { "\($0.name) \($0.direction.rawValue)" }, loops: 1,
            elapsedNanoseconds: elapsed, counters: counters, malformedReasons: self.pipeline.malformedReasons,
            sendErrors: sent.errors, portUnreachable: sent.portUnreachable,
            destinations: self.pipeline.destinations.map(\.description))
        report.command = "attach"
        report.notes = ["capture: " + slots.map { s in
            let c = s.counts
            return "\(s.name) \(s.direction.rawValue) kept by the prefilter \(c.received), dropped by the kernel (ring full) \(c.dropped), opened \(s.openings)×"
        }.joined(separator: "; ")]
        return report
    }
}

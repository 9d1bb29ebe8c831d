// vpcmirror: decode → decide → encapsulate → queue, once per captured frame, allocating nothing.
public import MirrorFilter
public import MirrorSender
public import MirrorVXLAN
public import MirrorWire

/// What the pipeline does when the send queue is full.
public enum QueueFullPolicy: String, Sendable, CaseIterable {
    /// Drop the copy and count it: the mirror never holds up capture (AWS drops mirror copies first too).
    case drop
    /// Wait for room: for replaying files at full speed, where nothing is lost by waiting.
    case wait
}

/// The seed of the flow hash that picks outer source ports and endpoints. Fixed, so every vpcmirror
/// process sends a flow from the same port to the same endpoint.
public let routingSeed: UInt64 = 0x7670_636D_6972_726F  // "vpcmirro"

/// Runs AWS Traffic Mirroring on captured frames and queues the VXLAN copies for the sender thread.
public struct MirrorPipeline: ~Copyable {
    public let engine: TrafficMirrorEngine
    /// One per network interface: each segments super-frames to its interface's MTU.
    let encapsulators: [VXLANEncapsulator]
    public var counters: MirrorCounters
    /// Decoding failures by layer and code, for the report.
    public var malformedReasons: [String: Int] = [:]
    /// Gives later fragments their datagram's ports, so a fragmented datagram stays with its flow.
    var fragments = FragmentFlowTable()

    /// One queue per sender thread; a flow's source port picks its queue, so a flow keeps its order.
    let queues: [DatagramQueue]
    let policy: QueueFullPolicy
    let sourcePortCount: UInt64
    /// Per session: VNI, PacketLength, and the global indices of its target's endpoints.
    let sessionVNI: [UInt32]
    let sessionPacketLength: [Int?]
    let sessionEndpoints: [[UInt16]]
    let endpointKeys: [UInt64]
    let interfaceMAC: [MACAddress?]

    /// All endpoints of all targets, deduplicated; the sender opens one destination per entry.
    public let destinations: [TrafficMirrorEndpoint]

    /// - Parameter interfaceMTUs: the MTU of each network interface, in file order; nil gives them all
    ///   `encapsulator`'s.
    public init(engine: TrafficMirrorEngine, encapsulator: VXLANEncapsulator, interfaceMTUs: [Int]? = nil,
                queues: [DatagramQueue], sourcePortCount: Int, policy: QueueFullPolicy) {
        precondition(!queues.isEmpty)
        self.engine = engine
        let interfaceCount = engine.configuration.networkInterfaces.count
        self.encapsulators = (0..<interfaceCount).map { i in
            guard let mtus = interfaceMTUs else { return encapsulator }
            var e = encapsulator
            e.mtu = mtus[i]
            return e
        }
        self.counters = engine.makeCounters()
        self.queues = queues
        self.policy = policy
        self.sourcePortCount = UInt64(sourcePortCount)
        let config = engine.configuration
        self.destinations = config.endpoints
        var index: [TrafficMirrorEndpoint: UInt16] = [:]
        for (i, d) in self.destinations.enumerated() { index[d] = UInt16(i) }
        var targets: [String: TrafficMirrorTarget] = [:]
        for t in config.trafficMirrorTargets { targets[t.trafficMirrorTargetId] = t }
        self.sessionVNI = config.trafficMirrorSessions.map(\.virtualNetworkId)
        self.sessionPacketLength = config.trafficMirrorSessions.map(\.packetLength)
        self.sessionEndpoints = config.trafficMirrorSessions.map { s in
            targets[s.trafficMirrorTargetId]!.endpoints.map { index[$0]! }
        }
        self.endpointKeys = self.destinations.map { Self.endpointKey($0) }
        self.interfaceMAC = config.networkInterfaces.map(\.macAddress)
    }

    /// A stable per-endpoint salt for rendezvous hashing.
    public static func endpointKey(_ e: TrafficMirrorEndpoint) -> UInt64 {
        FlowHash.fmix64(e.address.high ^ FlowHash.fmix64(e.address.low ^ UInt64(e.port) << 48 ^ UInt64(e.address.family.rawValue)))
    }

    /// Rendezvous (highest random weight) hashing: the endpoint whose mixed score is highest wins, so adding or
    /// removing one endpoint moves only the flows that it wins or loses.
    @inlinable
    static func rendezvous(_ flowHash: UInt64, candidates: [UInt16], keys: [UInt64]) -> UInt16 {
        var best = candidates[0]
        var bestScore: UInt64 = 0
        for c in candidates {
            let score = FlowHash.fmix64(flowHash ^ keys[Int(c)])
            if score >= bestScore {
                bestScore = score
                best = c
            }
        }
        return best
    }

    /// Processes one frame read from a file: the interfaces that saw it are found by MAC and address.
    public mutating func process(_ bytes: UnsafeRawBufferPointer, linkType: LinkType) {
        guard let summary = self.decode(bytes, linkType: linkType) else { return }
        let decision = self.engine.evaluate(summary, counters: &self.counters)
        self.mirror(bytes, summary: summary, decision: decision)
    }

    /// Processes one frame captured live on interface `interface` (an index into `NetworkInterfaces`).
    public mutating func process(
        _ bytes: UnsafeRawBufferPointer, linkType: LinkType, capturedOn interface: Int, direction: TrafficDirection
    ) {
        guard let summary = self.decode(bytes, linkType: linkType) else { return }
        let decision = self.engine.evaluate(summary, capturedOn: interface, direction: direction, counters: &self.counters)
        self.mirror(bytes, summary: summary, decision: decision)
    }

    /// Decodes a frame, or counts it as malformed.
    @inline(__always)
    mutating func decode(_ bytes: UnsafeRawBufferPointer, linkType: LinkType) -> PacketSummary? {
        var summary: PacketSummary
        do {
            summary = try PacketSummary(decoding: bytes, linkType: linkType)
        } catch {
            self.engine.countMalformed(counters: &self.counters)
            self.malformedReasons["\(error.layer) \(error.code)", default: 0] += 1
            return nil
        }
        if summary.fragment != .none { self.fragments.resolve(&summary) }
        return summary
    }

    /// Encapsulates and queues the copies `decision` asks for.
    @inline(__always)
    mutating func mirror(_ bytes: UnsafeRawBufferPointer, summary: PacketSummary, decision: MirrorDecision) {
        guard decision.count > 0 else { return }
        let flowHash = FlowHash.hash(summary, seed: routingSeed)
        let portIndex = UInt16(truncatingIfNeeded: flowHash % self.sourcePortCount)
        for k in 0..<decision.count {
            let action = decision[k]
            let s = action.sessionIndex
            let endpoints = self.sessionEndpoints[s]
            let destination = endpoints.count == 1
                ? endpoints[0] : Self.rendezvous(flowHash, candidates: endpoints, keys: self.endpointKeys)
            var sink = QueueSink(
                queue: self.queues[Int(portIndex) % self.queues.count], policy: self.policy,
                route: DatagramRoute(destination: destination, sourcePortIndex: portIndex, session: UInt32(s)))
            let result = self.encapsulators[action.interfaceIndex].encapsulate(
                frame: bytes, summary: summary, vni: self.sessionVNI[s], packetLength: self.sessionPacketLength[s],
                interfaceMAC: self.interfaceMAC[action.interfaceIndex], isEgress: action.direction == .egress,
                into: &sink)
            self.counters.sessions[s].datagrams += result.datagrams + result.dropped
            self.counters.sessions[s].droppedQueueFull += result.dropped
            if result.truncated { self.counters.sessions[s].truncated += 1 }
            if result.segmented { self.counters.sessions[s].segmented += 1 }
            if result.checksumCompleted { self.counters.sessions[s].checksumsCompleted += 1 }
        }
    }
}

/// The encapsulator's view of the send queue for one datagram route.
struct QueueSink: DatagramSink {
    let queue: DatagramQueue
    let policy: QueueFullPolicy
    let route: DatagramRoute

    @inline(__always)
    mutating func reserve(_ byteCount: Int) -> UnsafeMutableRawBufferPointer? {
        if let room = self.queue.reserve(byteCount) { return room }
        guard self.policy == .wait, byteCount <= self.queue.byteCapacity / 2 else { return nil }
        return self.waitForRoom(byteCount)
    }

    @inline(never)
    func waitForRoom(_ byteCount: Int) -> UnsafeMutableRawBufferPointer? {
        var spins = 0
        while true {
            if let room = self.queue.reserve(byteCount) { return room }
            spins += 1
            if spins > 16 { pauseBriefly() }
        }
    }

    @inline(__always)
    mutating func commit(_ byteCount: Int) {
        self.queue.commit(byteCount, route: self.route)
    }
}

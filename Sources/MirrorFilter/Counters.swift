// vpcmirror: counters that account for every frame; the identities they satisfy are checked by tests.

/// Per-frame outcomes. `framesRead == malformed + notSeen + neverMirrored + seen`, where
/// `neverMirrored` is the sum of the `neverMirrored*` counters.
public struct FrameCounters: Hashable, Sendable {
    public var framesRead = 0
    /// Frames whose headers could not be decoded (cut short, impossible values, unsupported link).
    public var malformed = 0
    /// Frames no declared network interface sent or received.
    public var notSeen = 0
    /// Seen, but of a kind AWS never mirrors: non-IP (ARP, LLDP, …), DHCP, link-local services, mirror traffic.
    public var neverMirroredNonIP = 0
    public var neverMirroredDHCP = 0
    public var neverMirroredLinkLocal = 0
    /// UDP to one of the targets' endpoints: the mirror's own VXLAN (or another source's, on its way to a
    /// collector) is never mirrored again, even when it leaves through a mirrored interface.
    public var neverMirroredOwnOutput = 0
    /// Seen by at least one interface and eligible for its sessions.
    public var seen = 0
    public init() {}
    public var neverMirrored: Int { self.neverMirroredNonIP + self.neverMirroredDHCP + self.neverMirroredLinkLocal + self.neverMirroredOwnOutput }
    public var isBalanced: Bool {
        self.framesRead == self.malformed + self.notSeen + self.neverMirrored + self.seen
    }
}

/// Per-interface outcomes of each frame it saw (a frame between two interfaces is observed by both).
/// `observations == mirrored + sampledOut + rejected + noMatch + amazonDNSExcluded`.
public struct InterfaceCounters: Hashable, Sendable {
    public var ingress = 0
    public var egress = 0
    public var mirrored = 0
    public var sampledOut = 0
    /// No session accepted and at least one rejected explicitly.
    public var rejected = 0
    /// No session's rules matched.
    public var noMatch = 0
    /// Amazon DNS traffic that no session's filter opted in to with `amazon-dns`.
    public var amazonDNSExcluded = 0
    public init() {}
    public var observations: Int { self.ingress + self.egress }
    public var isBalanced: Bool {
        self.observations == self.mirrored + self.sampledOut + self.rejected + self.noMatch + self.amazonDNSExcluded
    }
}

/// Per-session outcomes of the frames it evaluated, and what became of the copies.
/// `evaluated == mirrored + sampledOut + rejected + noMatch + amazonDNSExcluded`;
/// `datagrams == sent + droppedQueueFull + droppedSendError`.
public struct SessionCounters: Hashable, Sendable {
    public var evaluated = 0
    public var mirrored = 0
    public var sampledOut = 0
    public var rejected = 0
    public var noMatch = 0
    public var amazonDNSExcluded = 0
    /// Mirrored frames cut at PacketLength.
    public var truncated = 0
    /// Mirrored frames that were TCP super-frames, split into MTU-sized segments.
    public var segmented = 0
    /// Mirrored frames whose partial (offloaded) TCP/UDP checksum was finished (live capture only).
    public var checksumsCompleted = 0
    /// VXLAN datagrams built (more than `mirrored` when frames were segmented).
    public var datagrams = 0
    public var sent = 0
    public var bytesSent = 0
    /// Dropped because the send queue was full (the mirror never holds up capture).
    public var droppedQueueFull = 0
    /// Dropped because the kernel refused the send (the errno is logged).
    public var droppedSendError = 0
    public init() {}
    public var dropped: Int { self.droppedQueueFull + self.droppedSendError }
    public var isBalanced: Bool {
        self.evaluated == self.mirrored + self.sampledOut + self.rejected + self.noMatch + self.amazonDNSExcluded
            && self.datagrams == self.sent + self.dropped
    }
}

/// All counters of one engine run.
public struct MirrorCounters: Hashable, Sendable {
    public var frames = FrameCounters()
    public var interfaces: [InterfaceCounters]
    public var sessions: [SessionCounters]
    public init(interfaceCount: Int, sessionCount: Int) {
        self.interfaces = Array(repeating: InterfaceCounters(), count: interfaceCount)
        self.sessions = Array(repeating: SessionCounters(), count: sessionCount)
    }
    public var isBalanced: Bool {
        self.frames.isBalanced && self.interfaces.allSatisfy(\.isBalanced) && self.sessions.allSatisfy(\.isBalanced)
    }
}


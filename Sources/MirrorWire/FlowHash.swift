// vpcmirror: one stable, symmetric flow hash for sampling, outer source ports and endpoint choice.

/// A hash of a packet's flow that is the same in both directions, in every process and on every run.
///
/// Algorithm ("vpcmirror flow hash v1", documented in docs/architecture.md so others can reproduce it):
/// order the two endpoints `(address, port)` so the smaller comes first (family, high word, low word, port),
/// then fold five 64-bit words into `seed ^ 0x6A09E667F3BCC909` with `h = fmix64(h ^ word)`:
/// lowerAddress.high, lowerAddress.low, higherAddress.high, higherAddress.low, and
/// `family << 56 | protocol << 32 | lowerPort << 16 | higherPort`. `fmix64` is MurmurHash3's finalizer.
/// Ports are those of TCP and UDP, the echo identifier (both sides) for ICMP echo, and 0 otherwise
/// (AWS's 3-tuple for other protocols). A first fragment carries its ports; a later fragment has the ports
/// `FragmentFlowTable` learnt from its first fragment, or 0 when that was not seen, so the fragments of a
/// datagram whose first fragment came first stay with the rest of their flow.
public enum FlowHash {
    @inlinable @inline(__always)
    public static func fmix64(_ value: UInt64) -> UInt64 {
        var k = value
        k ^= k >> 33
        k &*= 0xFF51_AFD7_ED55_8CCD
        k ^= k >> 33
        k &*= 0xC4CE_B9FE_1A85_EC53
        k ^= k >> 33
        return k
    }

    /// The flow hash of explicit endpoints; symmetric in (a, aPort) ↔ (b, bPort).
    @inlinable
    public static func hash(
        _ a: IPAddress, _ aPort: UInt16, _ b: IPAddress, _ bPort: UInt16, protocol: IPProtocol, seed: UInt64
    ) -> UInt64 {
        let aFirst = (a.high, a.low, aPort) <= (b.high, b.low, bPort)
        let (lo, loPort, hi, hiPort) = aFirst ? (a, aPort, b, bPort) : (b, bPort, a, aPort)
        var h = seed ^ 0x6A09_E667_F3BC_C909
        h = fmix64(h ^ lo.high)
        h = fmix64(h ^ lo.low)
        h = fmix64(h ^ hi.high)
        h = fmix64(h ^ hi.low)
        let last = UInt64(a.family.rawValue) << 56 | UInt64(`protocol`.rawValue) << 32
            | UInt64(loPort) << 16 | UInt64(hiPort)
        return fmix64(h ^ last)
    }

    /// The flow hash of a decoded IP packet.
    @inlinable
    public static func hash(_ p: PacketSummary, seed: UInt64) -> UInt64 {
        let (sp, dp) = self.ports(p) ?? (0, 0)
        return hash(p.source, sp, p.destination, dp, protocol: p.transportProtocol, seed: seed)
    }

    /// The ports a flow key uses: transport ports, ICMP echo identifiers, or a later fragment's learnt ports.
    @inlinable
    public static func ports(_ p: PacketSummary) -> (UInt16, UInt16)? {
        if p.hasPorts { return (p.sourcePort, p.destinationPort) }
        if p.hasFlowPorts { return (p.flowSourcePort, p.flowDestinationPort) }
        if p.isICMPEcho { return (p.icmpEchoIdentifier, p.icmpEchoIdentifier) }
        return nil
    }
}

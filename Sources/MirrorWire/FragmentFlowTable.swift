// vpcmirror: later IP fragments carry no ports; this remembers them from the first fragment.

/// A bounded table from (source, destination, protocol, identification) to the ports of a fragmented datagram.
///
/// Later fragments have no transport header, so without help they hash by the 3-tuple while the rest of their flow
/// hashes by the 5-tuple, and would leave from another outer source port (or reach another collector, or be
/// sampled differently). A first fragment records its ports here; later fragments of the same datagram take
/// them. Fixed size, no allocation after init; a colliding datagram overwrites an older entry. A later fragment
/// seen before its first fragment, or after its entry was overwritten, keeps the 3-tuple.
public struct FragmentFlowTable: Sendable {
    struct Entry: Sendable {
        var source: IPAddress
        var destination: IPAddress
        var identification: UInt32
        var transportProtocol: UInt8
        var used: Bool
        var sourcePort: UInt16
        var destinationPort: UInt16
    }

    var entries: [Entry]
    let mask: Int

    /// - Parameter capacity: rounded up to a power of two; 4096 datagrams in flight by default.
    public init(capacity: Int = 4096) {
        var n = 1
        while n < capacity { n <<= 1 }
        let empty = Entry(source: .zero(.ipv4), destination: .zero(.ipv4), identification: 0, transportProtocol: 0,
                          used: false, sourcePort: 0, destinationPort: 0)
        self.entries = Array(repeating: empty, count: n)
        self.mask = n - 1
    }

    func slot(_ p: PacketSummary) -> Int {
        let h = FlowHash.fmix64(p.source.low ^ p.source.high &* 31 ^ FlowHash.fmix64(
            p.destination.low ^ p.destination.high &* 31 ^ UInt64(p.fragmentIdentification) << 8
                ^ UInt64(p.transportProtocol.rawValue)))
        return Int(truncatingIfNeeded: h) & self.mask
    }

    /// Records a first fragment's ports, or gives a later fragment the ports of its first fragment.

    public mutating func resolve(_ p: inout PacketSummary) {
        switch p.fragment {
        case .none:
            return
        case .first:
            guard let (sp, dp) = FlowHash.ports(p) else { return }
            self.entries[self.slot(p)] = Entry(
                source: p.source, destination: p.destination, identification: p.fragmentIdentification,
                transportProtocol: p.transportProtocol.rawValue, used: true, sourcePort: sp, destinationPort: dp)
        case .later:
            let e = self.entries[self.slot(p)]
            guard e.used, e.identification == p.fragmentIdentification, e.source == p.source,
                e.destination == p.destination, e.transportProtocol == p.transportProtocol.rawValue
            else { return }
            p.hasFlowPorts = true
            p.flowSourcePort = e.sourcePort
            p.flowDestinationPort = e.destinationPort
        }
    }
}

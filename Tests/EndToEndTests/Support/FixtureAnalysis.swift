// vpcmirror end-to-end tests: what a fixture contains, found by reading it with the tests' own decoder.
import MirrorTestSupport
import MirrorWire

/// The facts about a capture that a sessions file for it needs.
struct FixtureAnalysis {
    let records: [PcapRecord]
    let isEthernet: Bool
    /// The IP address in the most frames (as source or destination); ties go to the lower address.
    let busiestHost: [UInt8]
    /// For Ethernet captures: the source MAC of most frames the busiest host sent.
    let busiestHostMAC: [UInt8]?
    /// The first address that answered from UDP port 53.
    let dnsServer: [UInt8]?
    /// The ports of the first TCP segment the busiest host sent or received (not a fragment): its own and its peer's.
    let firstTCPPorts: (host: UInt16, peer: UInt16)?
    /// The largest IP packet in the capture.
    let largestIPPacket: Int

    init(records: [PcapRecord]) {
        self.records = records
        self.isEthernet = records.allSatisfy { $0.linkType.rawValue == 1 }
        var counts: [[UInt8]: Int] = [:]
        var packets: [ReferencePacket?] = []
        var largest = 0
        for r in records {
            let p = ReferenceDecoder.decode(r.bytes, linkType: r.linkType.rawValue)
            packets.append(p)
            guard let p, p.isIP else { continue }
            counts[p.source, default: 0] += 1
            if p.destination != p.source { counts[p.destination, default: 0] += 1 }
            largest = max(largest, r.bytes.count - p.networkOffset)
        }
        self.largestIPPacket = largest
        let host = counts.max { a, b in
            a.value != b.value ? a.value < b.value : b.key.lexicographicallyPrecedes(a.key)
        }?.key ?? []
        self.busiestHost = host

        var macs: [[UInt8]: Int] = [:]
        var dns: [UInt8]? = nil
        var ports: (host: UInt16, peer: UInt16)? = nil
        for p in packets {
            guard let p, p.isIP else { continue }
            if p.source == host, let mac = p.sourceMAC { macs[mac, default: 0] += 1 }
            if dns == nil && p.ipProtocol == 17 && p.hasPorts && p.sourcePort == 53 { dns = p.source }
            if ports == nil && p.ipProtocol == 6 && p.hasPorts && !p.isFragment {
                if p.source == host {
                    ports = (p.sourcePort, p.destinationPort)
                } else if p.destination == host {
                    ports = (p.destinationPort, p.sourcePort)
                }
            }
        }
        self.busiestHostMAC = self.isEthernet
            ? macs.max { a, b in a.value != b.value ? a.value < b.value : b.key.lexicographicallyPrecedes(a.key) }?.key
            : nil
        self.dnsServer = dns
        self.firstTCPPorts = ports
    }
}

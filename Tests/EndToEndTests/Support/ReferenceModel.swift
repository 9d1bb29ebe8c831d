// vpcmirror end-to-end tests: AWS Traffic Mirroring as the tests understand it, frame in, datagrams out.
//
// Written from the rules (README, docs, AWS's documentation), not from TrafficMirrorEngine:
// - an interface sees a frame as egress when it sent it and ingress when it was addressed to it: by MAC for
//   Ethernet frames when the interface declares a MAC, else by IP; a frame it sends to itself counts once, as egress;
// - never mirrored: non-IP, DHCP (UDP 67/68, 546/547), the link-local service addresses;
// - Amazon DNS (UDP/TCP port 53 to or from an AmazonDnsAddresses address) is mirrored only by filters with the
//   amazon-dns network service;
// - sessions by ascending SessionNumber, rules by ascending RuleNumber, the first matching rule decides; reject and
//   no match fall through to the next session; the first session that accepts mirrors the frame (once);
// - port ranges match only packets with ports (TCP/UDP, not later fragments); no Protocol matches all;
// - the VXLAN payload is `08 00 00 00 | VNI << 8` + the inner frame cut to PacketLength, the inner frame being the
//   Ethernet frame as captured, or a synthesized Ethernet II header + the IP packet for other link types.
import MirrorTestSupport
import MirrorWire

struct ReferenceModel {
    struct Interface {
        var id: String
        var mac: [UInt8]?
        var addresses: [[UInt8]]
    }

    struct Rule {
        var number: Int
        var accept: Bool
        var ipProtocol: UInt8?
        var source: ReferenceCIDR
        var destination: ReferenceCIDR
        var sourcePorts: ClosedRange<UInt16>?
        var destinationPorts: ClosedRange<UInt16>?

        func matches(_ p: ReferencePacket) -> Bool {
            guard self.source.contains(p.source), self.destination.contains(p.destination) else { return false }
            if let proto = self.ipProtocol, proto != p.ipProtocol { return false }
            if let r = self.sourcePorts, !(p.hasPorts && r.contains(p.sourcePort)) { return false }
            if let r = self.destinationPorts, !(p.hasPorts && r.contains(p.destinationPort)) { return false }
            return true
        }
    }

    struct Session {
        var id: String
        var number: Int
        var vni: UInt32
        var packetLength: Int?
        var samplingPercent: Double
        var ingress: [Rule]
        var egress: [Rule]
        var amazonDNS: Bool
    }

    /// The counters vpcmirror's `frames` object should show.
    struct FrameCounts: Equatable, CustomStringConvertible {
        var read = 0
        var malformed = 0
        var notSeen = 0
        var nonIP = 0
        var dhcp = 0
        var linkLocal = 0
        var seen = 0
        var description: String {
            "read \(read) malformed \(malformed) notSeen \(notSeen) nonIP \(nonIP) dhcp \(dhcp) linkLocal \(linkLocal) seen \(seen)"
        }
    }

    /// One datagram the model expects.
    struct Datagram {
        var payload: [UInt8]
        var sessionID: String
    }

    struct Expectation {
        var datagrams: [Datagram] = []
        var frames = FrameCounts()
        /// Mirrored frames per session id.
        var mirrored: [String: Int] = [:]
        var sampledOut: [String: Int] = [:]
    }

    let interfaces: [Interface]
    /// Per interface, its sessions by ascending SessionNumber.
    let sessionsByInterface: [[Session]]
    let amazonDNS: [[UInt8]]
    let linkLocal: [[UInt8]]
    let samplingSeed: UInt64
    /// Every session's VNI, explicit or derived, by session id.
    let vniBySession: [String: UInt32]

    static let defaultAmazonDNS = ["169.254.169.253", "fd00:ec2::253"]
    static let defaultLinkLocal = [
        "169.254.169.254", "169.254.169.123", "169.254.169.250", "169.254.169.251", "fd00:ec2::254", "fd00:ec2::123",
    ]

    init(_ config: SessionsConfig) {
        self.interfaces = config.interfaces.map { i in
            Interface(id: i.id, mac: i.mac.flatMap(AddressText.parseMAC), addresses: i.addresses.compactMap(AddressText.parse))
        }
        let vnis = Self.virtualNetworkIds(config.sessions)
        self.vniBySession = vnis
        func rules(_ list: [SessionsConfig.Rule]) -> [Rule] {
            list.map { r in
                Rule(
                    number: r.number, accept: r.accept, ipProtocol: r.ipProtocol == 0 ? nil : r.ipProtocol,
                    source: ReferenceCIDR(r.source)!, destination: ReferenceCIDR(r.destination)!,
                    sourcePorts: r.sourcePorts, destinationPorts: r.destinationPorts)
            }.sorted { $0.number < $1.number }
        }
        var filters: [String: SessionsConfig.Filter] = [:]
        for f in config.filters { filters[f.id] = f }
        self.sessionsByInterface = config.interfaces.map { i in
            config.sessions.filter { $0.interface == i.id }.map { s in
                let f = filters[s.filter]!
                return Session(
                    id: s.id, number: s.number, vni: vnis[s.id]!, packetLength: s.packetLength,
                    samplingPercent: s.samplingPercent ?? 100, ingress: rules(f.ingress), egress: rules(f.egress),
                    amazonDNS: f.amazonDNS)
            }.sorted { $0.number < $1.number }
        }
        self.amazonDNS = (config.amazonDNSAddresses ?? Self.defaultAmazonDNS).compactMap(AddressText.parse)
        self.linkLocal = Self.defaultLinkLocal.compactMap(AddressText.parse)
        self.samplingSeed = config.samplingSeed ?? 0
    }

    // MARK: - VNIs

    /// FNV-1a-32 of the session id's UTF-8 bytes, masked to 24 bits (docs: the derived VNI before probing).
    static func fnv1a24(_ id: String) -> UInt32 {
        var hash: UInt32 = 0x811C_9DC5
        for byte in id.utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 0x0100_0193
        }
        return hash & 0xFF_FFFF
    }

    /// Explicit VNIs as given; the others derived in file order, stepping +1 past 0 and VNIs already taken.
    static func virtualNetworkIds(_ sessions: [SessionsConfig.Session]) -> [String: UInt32] {
        var used = Set(sessions.compactMap(\.vni))
        var result: [String: UInt32] = [:]
        for s in sessions {
            if let vni = s.vni {
                result[s.id] = vni
                continue
            }
            var vni = fnv1a24(s.id)
            var steps = 0
            while (vni == 0 || used.contains(vni)) && steps < 0x100_0000 {
                vni = (vni + 1) & 0xFF_FFFF
                steps += 1
            }
            used.insert(vni)
            result[s.id] = vni
        }
        return result
    }

    // MARK: - Flow hash ("vpcmirror flow hash v1", as documented in Sources/MirrorWire/FlowHash.swift)

    static func fmix64(_ value: UInt64) -> UInt64 {
        var k = value
        k ^= k >> 33
        k = k &* 0xFF51_AFD7_ED55_8CCD
        k ^= k >> 33
        k = k &* 0xC4CE_B9FE_1A85_EC53
        k ^= k >> 33
        return k
    }

    /// (high, low) 64-bit words of an address; IPv4 in the low 32 bits of `low`.
    static func words(_ a: [UInt8]) -> (UInt64, UInt64) {
        func word(_ bytes: ArraySlice<UInt8>) -> UInt64 { bytes.reduce(0) { $0 << 8 | UInt64($1) } }
        return a.count == 4 ? (0, word(a[...])) : (word(a[0..<8]), word(a[8..<16]))
    }

    static func flowHash(_ p: ReferencePacket, seed: UInt64) -> UInt64 {
        var sp: UInt16 = 0
        var dp: UInt16 = 0
        if !p.isFragment {
            if p.hasPorts {
                sp = p.sourcePort
                dp = p.destinationPort
            } else if let id = p.icmpEchoIdentifier {
                sp = id
                dp = id
            }
        }
        let a = words(p.source)
        let b = words(p.destination)
        let aFirst = (a.0, a.1, sp) <= (b.0, b.1, dp)
        let (lo, loPort, hi, hiPort) = aFirst ? (a, sp, b, dp) : (b, dp, a, sp)
        var h = seed ^ 0x6A09_E667_F3BC_C909
        h = fmix64(h ^ lo.0)
        h = fmix64(h ^ lo.1)
        h = fmix64(h ^ hi.0)
        h = fmix64(h ^ hi.1)
        let family: UInt64 = p.ipVersion == 4 ? 4 : 6
        let last = family << 56 | UInt64(p.ipProtocol) << 32 | UInt64(loPort) << 16 | UInt64(hiPort)
        return fmix64(h ^ last)
    }

    /// Whether a session keeping `percent` of flows keeps this packet's flow.
    func sampledIn(_ p: ReferencePacket, percent: Double) -> Bool {
        if percent >= 100 { return true }
        let threshold = UInt64((percent * 10_000).rounded())
        return Self.flowHash(p, seed: self.samplingSeed) % 1_000_000 < threshold
    }

    // MARK: - Per frame

    func isDHCP(_ p: ReferencePacket) -> Bool {
        guard p.ipProtocol == 17, p.hasPorts else { return false }
        let ports: ClosedRange<UInt16> = p.ipVersion == 4 ? 67...68 : 546...547
        return ports.contains(p.sourcePort) && ports.contains(p.destinationPort)
    }

    func isLinkLocalService(_ p: ReferencePacket) -> Bool {
        self.linkLocal.contains(p.source) || self.linkLocal.contains(p.destination)
    }

    /// UDP or TCP to or from port 53 of an Amazon DNS address. A fragment without ports counts when its address
    /// matches (vpcmirror's choice: every fragment of a DNS datagram is treated alike).
    func isAmazonDNS(_ p: ReferencePacket) -> Bool {
        guard p.ipProtocol == 6 || p.ipProtocol == 17 else { return false }
        for a in self.amazonDNS {
            if a == p.destination && (!p.hasPorts || p.destinationPort == 53) { return true }
            if a == p.source && (!p.hasPorts || p.sourcePort == 53) { return true }
        }
        return false
    }

    /// The index of the interface that sent and that received the frame.
    func interfaces(of p: ReferencePacket) -> (egress: Int?, ingress: Int?) {
        var egress: Int? = nil
        var ingress: Int? = nil
        for (i, e) in self.interfaces.enumerated() {
            let sends: Bool
            let receives: Bool
            if p.isEthernet, let mac = e.mac {
                sends = p.sourceMAC == mac
                receives = p.destinationMAC == mac
            } else {
                sends = p.isIP && e.addresses.contains(p.source)
                receives = p.isIP && e.addresses.contains(p.destination)
            }
            if sends && egress == nil { egress = i }
            if receives && ingress == nil { ingress = i }
        }
        if egress != nil && egress == ingress { ingress = nil }
        return (egress, ingress)
    }

    /// The inner frame vpcmirror must send for `p` seen by `interface`, before PacketLength.
    func innerFrame(_ bytes: [UInt8], _ p: ReferencePacket, interface: Interface, egress: Bool) -> [UInt8] {
        if p.isEthernet { return bytes }
        let zero = [UInt8](repeating: 0, count: 6)
        let source: [UInt8]
        let destination: [UInt8]
        if egress {
            source = interface.mac ?? p.cookedSourceMAC ?? zero
            destination = zero
        } else {
            source = p.cookedSourceMAC ?? zero
            destination = interface.mac ?? zero
        }
        let etherType: [UInt8] = p.ipVersion == 4 ? [0x08, 0x00] : [0x86, 0xDD]
        return destination + source + etherType + bytes[p.networkOffset...]
    }

    static func vxlanHeader(_ vni: UInt32) -> [UInt8] {
        [0x08, 0, 0, 0, UInt8(truncatingIfNeeded: vni >> 16), UInt8(truncatingIfNeeded: vni >> 8), UInt8(truncatingIfNeeded: vni), 0]
    }

    func expect(_ records: [PcapRecord]) -> Expectation {
        var x = Expectation()
        for record in records {
            x.frames.read += 1
            guard let p = ReferenceDecoder.decode(record.bytes, linkType: record.linkType.rawValue) else {
                x.frames.malformed += 1
                continue
            }
            let (egress, ingress) = self.interfaces(of: p)
            if egress == nil && ingress == nil {
                x.frames.notSeen += 1
                continue
            }
            if !p.isIP {
                x.frames.nonIP += 1
                continue
            }
            if self.isDHCP(p) {
                x.frames.dhcp += 1
                continue
            }
            if self.isLinkLocalService(p) {
                x.frames.linkLocal += 1
                continue
            }
            x.frames.seen += 1
            let amazonDNS = self.isAmazonDNS(p)
            for (index, isEgress) in [(egress, true), (ingress, false)] {
                guard let index else { continue }
                for s in self.sessionsByInterface[index] {
                    let accepted: Bool
                    if amazonDNS {
                        accepted = s.amazonDNS
                    } else {
                        let rule = (isEgress ? s.egress : s.ingress).first { $0.matches(p) }
                        accepted = rule?.accept ?? false
                    }
                    guard accepted else { continue }
                    if !self.sampledIn(p, percent: s.samplingPercent) {
                        x.sampledOut[s.id, default: 0] += 1
                        break  // a sampled-out flow does not fall through to the next session
                    }
                    var inner = self.innerFrame(record.bytes, p, interface: self.interfaces[index], egress: isEgress)
                    if let length = s.packetLength, inner.count > length { inner = Array(inner.prefix(length)) }
                    x.datagrams.append(Datagram(payload: Self.vxlanHeader(s.vni) + inner, sessionID: s.id))
                    x.mirrored[s.id, default: 0] += 1
                    break
                }
            }
        }
        return x
    }
}

// MARK: - Flows of received datagrams

/// A flow as the tests group datagrams: VNI, protocol, and the two endpoints in canonical order.
struct InnerFlowKey: Hashable, CustomStringConvertible {
    var vni: UInt32
    var ipProtocol: UInt8
    var low: [UInt8]
    var lowPort: UInt16
    var high: [UInt8]
    var highPort: UInt16
    /// A later fragment whose first fragment was not seen: keyed by addresses only.
    var fragments: Bool

    var description: String {
        let kind = self.fragments ? " fragments" : ""
        return "vni \(vni) proto \(ipProtocol)\(kind) \(AddressText.format(low)):\(lowPort) ↔ \(AddressText.format(high)):\(highPort)"
    }

    /// The keys of VXLAN payloads in capture order; nil for ones that are not TCP/UDP or cannot be decoded.
    /// vpcmirror's documented rule: a later fragment belongs to the 5-tuple flow of its datagram's first fragment
    /// (same addresses, protocol and identification) when that came before it; otherwise to its address pair.
    static func keys(inCaptureOrder payloads: [[UInt8]]) -> [InnerFlowKey?] {
        struct Datagram: Hashable { var source: [UInt8]; var destination: [UInt8]; var ipProtocol: UInt8; var id: UInt32 }
        var firstFragments: [Datagram: InnerFlowKey] = [:]
        return payloads.map { payload in
            guard payload.count > 8 else { return nil }
            let vni = UInt32(payload[4]) << 16 | UInt32(payload[5]) << 8 | UInt32(payload[6])
            guard let p = ReferenceDecoder.decode(Array(payload[8...]), linkType: 1), p.isIP,
                p.ipProtocol == 6 || p.ipProtocol == 17
            else { return nil }
            let datagram = Datagram(source: p.source, destination: p.destination, ipProtocol: p.ipProtocol, id: p.fragmentIdentification)
            if p.isLaterFragment {
                // The first fragment may have gone to another session (it has ports, later ones do not), so its
                // flow is taken with this datagram's VNI.
                if var key = firstFragments[datagram] {
                    key.vni = vni
                    return key
                }
                let swap = !p.source.lexicographicallyPrecedes(p.destination) && p.source != p.destination
                return InnerFlowKey(
                    vni: vni, ipProtocol: p.ipProtocol, low: swap ? p.destination : p.source, lowPort: 0,
                    high: swap ? p.source : p.destination, highPort: 0, fragments: true)
            }
            guard p.hasPorts else { return nil }
            let a = (p.source, p.sourcePort)
            let b = (p.destination, p.destinationPort)
            let aFirst = a.0.lexicographicallyPrecedes(b.0) || (a.0 == b.0 && a.1 <= b.1)
            let (l, h) = aFirst ? (a, b) : (b, a)
            let key = InnerFlowKey(vni: vni, ipProtocol: p.ipProtocol, low: l.0, lowPort: l.1, high: h.0, highPort: h.1, fragments: false)
            if p.isFragment { firstFragments[datagram] = key }
            return key
        }
    }

    /// `keys(inCaptureOrder:)` by payload (the first occurrence of a payload decides).
    static func keysByPayload(inCaptureOrder payloads: [[UInt8]]) -> [[UInt8]: InnerFlowKey] {
        var keyOf: [[UInt8]: InnerFlowKey] = [:]
        for (payload, key) in zip(payloads, Self.keys(inCaptureOrder: payloads)) where keyOf[payload] == nil {
            if let key { keyOf[payload] = key }
        }
        return keyOf
    }

    /// The key of one payload on its own (a later fragment goes by its address pair).
    init?(vxlanPayload payload: [UInt8]) {
        guard let key = Self.keys(inCaptureOrder: [payload])[0] else { return nil }
        self = key
    }

    init(vni: UInt32, ipProtocol: UInt8, low: [UInt8], lowPort: UInt16, high: [UInt8], highPort: UInt16, fragments: Bool) {
        self.vni = vni
        self.ipProtocol = ipProtocol
        self.low = low
        self.lowPort = lowPort
        self.high = high
        self.highPort = highPort
        self.fragments = fragments
    }
}

/// Byte-array order for sorting payloads.
func lexicographicallyOrdered(_ a: [UInt8], _ b: [UInt8]) -> Bool { a.lexicographicallyPrecedes(b) }

/// Hex of the first `limit` bytes.
func hexPrefix(_ bytes: [UInt8], limit: Int = 64) -> String {
    bytes.prefix(limit).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() + (bytes.count > limit ? "…" : "")
        + " (\(bytes.count) bytes)"
}

// vpcmirror end-to-end tests: a sessions file as Swift values, written out as the JSON text vpcmirror reads.
import Foundation

/// The resources of a sessions file, in the words of AWS's API. The tests build one, write it with `json`,
/// and give the same value to `ReferenceModel`, so the file and the expectation cannot drift apart.
struct SessionsConfig {
    struct Rule {
        var number: Int
        var accept: Bool
        /// nil: `Protocol` omitted (all protocols).
        var ipProtocol: UInt8? = nil
        var source: String
        var destination: String
        var sourcePorts: ClosedRange<UInt16>? = nil
        var destinationPorts: ClosedRange<UInt16>? = nil
    }

    struct Filter {
        var id: String
        var ingress: [Rule]
        var egress: [Rule]
        var amazonDNS = false
    }

    struct Interface {
        var id: String
        var mac: String?
        var addresses: [String]
        var interfaceName: String? = nil
    }

    struct Target {
        var id: String
        var endpoints: [String]
    }

    struct Session {
        var id: String
        var interface: String
        var target: String
        var filter: String
        var number: Int
        /// nil: omitted, derived by vpcmirror.
        var vni: UInt32? = nil
        var packetLength: Int? = nil
        var samplingPercent: Double? = nil
    }

    var interfaces: [Interface] = []
    var filters: [Filter] = []
    var targets: [Target] = []
    /// In file order (which need not be SessionNumber order).
    var sessions: [Session] = []
    /// nil: omitted (vpcmirror's defaults).
    var amazonDNSAddresses: [String]? = nil
    var samplingSeed: UInt64? = nil

    /// Accept-all rules for IPv4 and IPv6, numbered `first` and `first + 1`.
    /// Everything both ways (IPv4 and IPv6), except IPv4 broadcasts sent by the interface.
    static func acceptAllButBroadcasts(id: String) -> Filter {
        .init(
            id: id, ingress: Self.acceptAll(from: 100),
            egress: [Rule(number: 90, accept: false, source: "0.0.0.0/0", destination: "255.255.255.255/32")]
                + Self.acceptAll(from: 100))
    }

    /// Everything both ways, and Amazon DNS.
    static func acceptAllWithAmazonDNS(id: String) -> Filter {
        .init(id: id, ingress: Self.acceptAll(from: 100), egress: Self.acceptAll(from: 100), amazonDNS: true)
    }

    static func acceptAll(from first: Int) -> [Rule] {
        [
            Rule(number: first, accept: true, source: "0.0.0.0/0", destination: "0.0.0.0/0"),
            Rule(number: first + 1, accept: true, source: "::/0", destination: "::/0"),
        ]
    }

    // MARK: - JSON

    var json: String {
        var parts: [String] = []
        parts.append("\"NetworkInterfaces\": [\n" + self.interfaces.map(Self.json).joined(separator: ",\n") + "\n]")
        if let dns = self.amazonDNSAddresses {
            parts.append("\"AmazonDnsAddresses\": [" + dns.map(Self.quote).joined(separator: ", ") + "]")
        }
        if let seed = self.samplingSeed { parts.append("\"SamplingSeed\": \(seed)") }
        parts.append("\"TrafficMirrorFilters\": [\n" + self.filters.map(Self.json).joined(separator: ",\n") + "\n]")
        parts.append("\"TrafficMirrorTargets\": [\n" + self.targets.map(Self.json).joined(separator: ",\n") + "\n]")
        parts.append("\"TrafficMirrorSessions\": [\n" + self.sessions.map(Self.json).joined(separator: ",\n") + "\n]")
        return "{\n" + parts.joined(separator: ",\n") + "\n}\n"
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    static func json(_ i: Interface) -> String {
        var fields = ["\"NetworkInterfaceId\": \(quote(i.id))"]
        if let mac = i.mac { fields.append("\"MacAddress\": \(quote(mac))") }
        let v4 = i.addresses.filter { !$0.contains(":") }
        let v6 = i.addresses.filter { $0.contains(":") }
        if !v4.isEmpty {
            let list = v4.enumerated().map { "{\"PrivateIpAddress\": \(quote($1)), \"Primary\": \($0 == 0)}" }
            fields.append("\"PrivateIpAddresses\": [" + list.joined(separator: ", ") + "]")
        }
        if !v6.isEmpty {
            fields.append("\"Ipv6Addresses\": [" + v6.map { "{\"Ipv6Address\": \(quote($0))}" }.joined(separator: ", ") + "]")
        }
        if let name = i.interfaceName { fields.append("\"InterfaceName\": \(quote(name))") }
        return "  {" + fields.joined(separator: ", ") + "}"
    }

    static func json(_ r: Rule) -> String {
        var fields = ["\"RuleNumber\": \(r.number)", "\"RuleAction\": \"\(r.accept ? "accept" : "reject")\""]
        if let p = r.ipProtocol { fields.append("\"Protocol\": \(p)") }
        fields.append("\"SourceCidrBlock\": \(quote(r.source))")
        fields.append("\"DestinationCidrBlock\": \(quote(r.destination))")
        if let range = r.sourcePorts {
            fields.append("\"SourcePortRange\": {\"FromPort\": \(range.lowerBound), \"ToPort\": \(range.upperBound)}")
        }
        if let range = r.destinationPorts {
            fields.append("\"DestinationPortRange\": {\"FromPort\": \(range.lowerBound), \"ToPort\": \(range.upperBound)}")
        }
        return "      {" + fields.joined(separator: ", ") + "}"
    }

    static func json(_ f: Filter) -> String {
        "  {\"TrafficMirrorFilterId\": \(quote(f.id)),\n"
            + "   \"IngressFilterRules\": [\n" + f.ingress.map(json).joined(separator: ",\n") + "\n   ],\n"
            + "   \"EgressFilterRules\": [\n" + f.egress.map(json).joined(separator: ",\n") + "\n   ],\n"
            + "   \"NetworkServices\": [" + (f.amazonDNS ? "\"amazon-dns\"" : "") + "]}"
    }

    static func json(_ t: Target) -> String {
        "  {\"TrafficMirrorTargetId\": \(quote(t.id)), \"Type\": \"network-interface\", \"Endpoints\": ["
            + t.endpoints.map(quote).joined(separator: ", ") + "]}"
    }

    static func json(_ s: Session) -> String {
        var fields = [
            "\"TrafficMirrorSessionId\": \(quote(s.id))", "\"NetworkInterfaceId\": \(quote(s.interface))",
            "\"TrafficMirrorTargetId\": \(quote(s.target))", "\"TrafficMirrorFilterId\": \(quote(s.filter))",
            "\"SessionNumber\": \(s.number)",
        ]
        if let vni = s.vni { fields.append("\"VirtualNetworkId\": \(vni)") }
        if let length = s.packetLength { fields.append("\"PacketLength\": \(length)") }
        if let percent = s.samplingPercent { fields.append("\"SamplingPercent\": \(percent)") }
        return "  {" + fields.joined(separator: ", ") + "}"
    }
}

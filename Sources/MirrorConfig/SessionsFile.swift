// vpcmirror: sessions.json, the AWS describe-* outputs merged plus our extensions, read into a MirrorConfiguration.
public import MirrorFilter
import MirrorWire

/// Reads a sessions file: the outputs of `aws ec2 describe-traffic-mirror-{filters,targets,sessions}` and
/// `describe-network-interfaces` merged into one object, plus the extensions documented in `docs/config.md`.
public enum SessionsFile {
    /// Parses and validates a sessions file.
    ///
    /// Collects every problem rather than stopping at the first, and does not report problems that only follow
    /// from another one (a session that names a filter with errors is fine).
    /// - Parameters:
    ///   - bytes: the file's contents, UTF-8 JSON.
    ///   - fileName: how problems name the file.
    ///   - options: whether AWS's quotas apply.
    /// - Returns: the validated configuration, with defaults applied and derived VNIs filled in.
    /// - Throws: `ConfigError` with every problem found.
    public static func parse(
        _ bytes: [UInt8],
        fileName: String,
        options: ValidationOptions = .init()
    ) throws(ConfigError) -> MirrorConfiguration {
        let json: JSONValue
        do {
            json = try JSONParser.parse(bytes)
        } catch {
            throw ConfigError(problems: [
                ConfigProblem(fileName: fileName, path: "", value: nil, message: error.description)
            ])
        }
        var loader = Loader(validator: Validator(fileName: fileName, options: options))
        let configuration = loader.load(json)
        guard loader.validator.problems.isEmpty, let configuration else {
            throw ConfigError(problems: loader.validator.problems)
        }
        return configuration
    }

    /// The VNI for a session whose file gives none, before collisions: FNV-1a-32 of the id's UTF-8 bytes,
    /// masked to 24 bits. `Loader.assignDerivedVNIs` steps past 0 and VNIs already used.
    static func derivedVNISeed(_ sessionId: String) -> UInt32 {
        var hash: UInt32 = 2_166_136_261
        for byte in sessionId.utf8 {
            hash ^= UInt32(byte)
            hash &*= 16_777_619
        }
        return hash & 0xFF_FFFF
    }
}

// MARK: - Field names

private enum Names {
    static let top = FieldNames(
        read: [
            "TrafficMirrorFilters", "TrafficMirrorTargets", "NetworkInterfaces", "TrafficMirrorSessions",
            "AmazonDnsAddresses", "LinkLocalServiceAddresses", "SamplingSeed",
        ],
        ignored: ["NextToken"]
    )
    static let filter = FieldNames(
        read: ["TrafficMirrorFilterId", "IngressFilterRules", "EgressFilterRules", "NetworkServices", "Description"],
        ignored: ["Tags"]
    )
    static let rule = FieldNames(
        read: [
            "RuleNumber", "RuleAction", "Protocol", "SourceCidrBlock", "DestinationCidrBlock", "SourcePortRange",
            "DestinationPortRange", "TrafficDirection", "TrafficMirrorFilterRuleId", "TrafficMirrorFilterId",
            "Description",
        ],
        ignored: ["Tags"]
    )
    static let portRange = FieldNames(read: ["FromPort", "ToPort"])
    static let target = FieldNames(
        read: ["TrafficMirrorTargetId", "Type", "Endpoints", "Description"],
        ignored: ["NetworkInterfaceId", "NetworkLoadBalancerArn", "GatewayLoadBalancerEndpointId", "OwnerId", "Tags"]
    )
    static let networkInterface = FieldNames(
        read: [
            "NetworkInterfaceId", "MacAddress", "PrivateIpAddress", "PrivateIpAddresses", "Ipv6Addresses",
            "InterfaceName", "Description",
        ],
        ignored: [
            "Association", "Attachment", "AvailabilityZone", "AvailabilityZoneId", "ConnectionTrackingConfiguration",
            "Groups", "InterfaceType", "OutpostArn", "OwnerId", "PrivateDnsName", "PublicDnsName",
            "PublicIpDnsNameOptions", "Ipv4Prefixes", "Ipv6Prefixes", "RequesterId", "RequesterManaged",
            "SourceDestCheck", "Status", "SubnetId", "TagSet", "VpcId", "DenyAllIgwTraffic", "Ipv6Native",
            "Ipv6Address", "Operator", "AssociatedSubnets",
        ]
    )
    static let privateIpAddress = FieldNames(
        read: ["PrivateIpAddress"],
        ignored: ["Primary", "PrivateDnsName", "Association"]
    )
    static let ipv6Address = FieldNames(read: ["Ipv6Address"], ignored: ["PublicIpv6DnsName", "IsPrimaryIpv6"])
    static let session = FieldNames(
        read: [
            "TrafficMirrorSessionId", "NetworkInterfaceId", "TrafficMirrorTargetId", "TrafficMirrorFilterId",
            "SessionNumber", "VirtualNetworkId", "PacketLength", "SamplingPercent", "Description",
        ],
        ignored: ["OwnerId", "Tags"]
    )
}

// MARK: - Limits

private enum Limits {
    static let ruleNumber = 1...32766
    static let sessionNumber = 1...32766
    static let `protocol` = 0...255
    static let port = 0...65535
    static let virtualNetworkId = 0...0xFF_FFFF
    static let packetLength = 1...8500
    static let relaxedPacketLength = 1...65535
    static let rulesPerFilter = 10
    static let sessionsPerInterface = 3
    static let defaultNLBPacketLength = 8500
}

// MARK: - The loader

/// One pass over the parsed file. Ids are registered as they are read, so references are checked after the
/// sections they point into; sessions are read last.
private struct Loader {
    var validator: Validator
    /// Declared id -> path of the object that declared it first.
    var interfaceIds: [String: String] = [:]
    var filterIds: [String: String] = [:]
    var targetIds: [String: String] = [:]
    /// Target id -> its type, when the type is known.
    var targetTypes: [String: TrafficMirrorTargetType] = [:]

    init(validator: Validator) {
        self.validator = validator
    }

    var enforceQuotas: Bool { self.validator.options.enforceAWSQuotas }

    /// - Returns: the configuration built from the parts that were valid; meaningful only without problems.
    mutating func load(_ json: JSONValue) -> MirrorConfiguration? {
        guard let top = self.validator.object(json, at: "", Names.top) else { return nil }
        let interfaces = self.networkInterfaces(top)
        let filters = self.filters(top)
        let targets = self.targets(top)
        let sessions = self.sessions(top)

        var neverMirrored = NeverMirroredServices()
        if let addresses = self.addressList(top, "AmazonDnsAddresses") {
            neverMirrored.amazonDNSAddresses = addresses
        }
        if let addresses = self.addressList(top, "LinkLocalServiceAddresses") {
            neverMirrored.linkLocalServiceAddresses = addresses
        }
        var seed: UInt64 = 0
        if let value = top["SamplingSeed"], let s = self.validator.unsigned64(value, at: top.path("SamplingSeed")) {
            seed = s
        }
        return MirrorConfiguration(
            trafficMirrorFilters: filters,
            trafficMirrorTargets: targets,
            networkInterfaces: interfaces,
            trafficMirrorSessions: sessions,
            neverMirrored: neverMirrored,
            samplingSeed: seed
        )
    }

    // MARK: Shared pieces

    /// Registers an id; reports a duplicate. `objectPath` is where the declaring object is.
    static func declare(
        _ id: String,
        _ value: JSONValue,
        at path: String,
        objectPath: String,
        in registry: inout [String: String],
        _ validator: inout Validator
    ) {
        if let first = registry[id] {
            validator.reject(path, value, "is already declared at \(first)")
        } else {
            registry[id] = objectPath
        }
    }

    /// `Description` is accepted anywhere and not checked; it is kept when it is a string.
    static func description(_ fields: Fields) -> String? {
        if case .string(let s) = fields["Description"] { return s }
        return nil
    }

    /// An IP address string of `family` (either when `nil`).
    mutating func address(_ value: JSONValue, at path: String, family: IPAddress.Family?) -> IPAddress? {
        guard let text = self.validator.string(value, at: path) else { return nil }
        guard let address = IPAddress(text) else {
            let kind = family.map { $0 == .ipv4 ? "an IPv4 address" : "an IPv6 address" } ?? "an IP address"
            self.validator.reject(path, value, "is not \(kind)")
            return nil
        }
        if let family, address.family != family {
            let other = family == .ipv4 ? "Ipv6Addresses" : "PrivateIpAddresses"
            self.validator.reject(
                path,
                value,
                "is an \(address.isIPv4 ? "IPv4" : "IPv6") address; this field takes \(family == .ipv4 ? "IPv4" : "IPv6") (see \(other))"
            )
            return nil
        }
        return address
    }

    /// `AmazonDnsAddresses` / `LinkLocalServiceAddresses`: IP strings, deduplicated in file order.
    mutating func addressList(_ top: Fields, _ key: String) -> [IPAddress]? {
        guard let list = self.validator.array(top, key) else { return nil }
        var addresses: [IPAddress] = []
        for (i, element) in list.enumerated() {
            if let a = self.address(element, at: "\(key)[\(i)]", family: nil), !addresses.contains(a) {
                addresses.append(a)
            }
        }
        return addresses
    }

    // MARK: NetworkInterfaces

    mutating func networkInterfaces(_ top: Fields) -> [NetworkInterface] {
        guard let list = self.validator.array(top, "NetworkInterfaces") else { return [] }
        var result: [NetworkInterface] = []
        for (i, element) in list.enumerated() {
            if let interface = self.networkInterface(element, at: "NetworkInterfaces[\(i)]") {
                result.append(interface)
            }
        }
        return result
    }

    mutating func networkInterface(_ element: JSONValue, at path: String) -> NetworkInterface? {
        guard let f = self.validator.object(element, at: path, Names.networkInterface) else { return nil }
        let id = self.validator.string(f, "NetworkInterfaceId", required: true, nonEmpty: true)
        if let id, let value = f["NetworkInterfaceId"] {
            Self.declare(
                id, value, at: f.path("NetworkInterfaceId"), objectPath: path,
                in: &self.interfaceIds, &self.validator
            )
        }
        // Whether a field that could identify frames was present but wrong (or misspelt): then "nothing to match"
        // would repeat a problem already reported.
        var sawBadMatcher = !f.suggested.isDisjoint(with: [
            "MacAddress", "PrivateIpAddress", "PrivateIpAddresses", "Ipv6Addresses", "InterfaceName",
        ])

        var mac: MACAddress? = nil
        if let value = f["MacAddress"] {
            if let text = self.validator.string(value, at: f.path("MacAddress")) {
                mac = MACAddress(text)
                if mac == nil { self.validator.reject(f.path("MacAddress"), value, "is not a MAC address") }
            }
            sawBadMatcher = sawBadMatcher || mac == nil
        }

        var addresses: [IPAddress] = []
        func add(_ address: IPAddress?) {
            guard let address else {
                sawBadMatcher = true
                return
            }
            if !addresses.contains(address) { addresses.append(address) }
        }
        if let value = f["PrivateIpAddress"] {
            add(self.address(value, at: f.path("PrivateIpAddress"), family: .ipv4))
        }
        // The two lists in the order the file has them.
        for key in f.keys where key == "PrivateIpAddresses" || key == "Ipv6Addresses" {
            guard let list = self.validator.array(f, key) else {
                sawBadMatcher = true
                continue
            }
            let ipv4 = key == "PrivateIpAddresses"
            let field = ipv4 ? "PrivateIpAddress" : "Ipv6Address"
            for (i, entry) in list.enumerated() {
                let entryPath = "\(f.path(key))[\(i)]"
                guard let e = self.validator.object(entry, at: entryPath, ipv4 ? Names.privateIpAddress : Names.ipv6Address)
                else {
                    sawBadMatcher = true
                    continue
                }
                guard let value = e[field] else {
                    self.validator.missing(e, field)
                    sawBadMatcher = true
                    continue
                }
                add(self.address(value, at: e.path(field), family: ipv4 ? .ipv4 : .ipv6))
            }
        }

        var interfaceName: String? = nil
        if f["InterfaceName"] != nil {
            interfaceName = self.validator.string(f, "InterfaceName", nonEmpty: true)
            sawBadMatcher = sawBadMatcher || interfaceName == nil
        }

        if mac == nil && addresses.isEmpty && interfaceName == nil && !sawBadMatcher {
            self.validator.report(
                path,
                nil,
                "has no MacAddress, no address and no InterfaceName, so no frame can ever match it"
            )
        }
        guard let id else { return nil }
        return NetworkInterface(
            networkInterfaceId: id,
            macAddress: mac,
            addresses: addresses,
            interfaceName: interfaceName,
            description: Self.description(f)
        )
    }

    // MARK: TrafficMirrorFilters

    mutating func filters(_ top: Fields) -> [TrafficMirrorFilter] {
        guard let list = self.validator.array(top, "TrafficMirrorFilters") else { return [] }
        var result: [TrafficMirrorFilter] = []
        for (i, element) in list.enumerated() {
            if let filter = self.filter(element, at: "TrafficMirrorFilters[\(i)]") {
                result.append(filter)
            }
        }
        return result
    }

    mutating func filter(_ element: JSONValue, at path: String) -> TrafficMirrorFilter? {
        guard let f = self.validator.object(element, at: path, Names.filter) else { return nil }
        let id = self.validator.string(f, "TrafficMirrorFilterId", required: true, nonEmpty: true)
        if let id, let value = f["TrafficMirrorFilterId"] {
            Self.declare(
                id, value, at: f.path("TrafficMirrorFilterId"), objectPath: path,
                in: &self.filterIds, &self.validator
            )
        }
        let (ingress, ingressCount) = self.rules(f, "IngressFilterRules", .ingress, filterId: id)
        let (egress, egressCount) = self.rules(f, "EgressFilterRules", .egress, filterId: id)
        if self.enforceQuotas && ingressCount + egressCount > Limits.rulesPerFilter {
            self.validator.report(
                path,
                nil,
                "has \(ingressCount + egressCount) rules; AWS allows \(Limits.rulesPerFilter) per filter, "
                    + "ingress and egress together (--relax-quotas lifts this)"
            )
        }

        var services: Set<TrafficMirrorNetworkService> = []
        if let list = self.validator.array(f, "NetworkServices") {
            for (i, element) in list.enumerated() {
                let elementPath = "\(f.path("NetworkServices"))[\(i)]"
                guard let name = self.validator.string(element, at: elementPath) else { continue }
                let service = TrafficMirrorNetworkService(rawValue: name)
                if service == .amazonDNS {
                    services.insert(service)
                } else {
                    self.validator.reject(elementPath, element, "is not a network service (the only one is \"amazon-dns\")")
                }
            }
        }
        guard let id else { return nil }
        return TrafficMirrorFilter(
            trafficMirrorFilterId: id,
            ingressFilterRules: ingress,
            egressFilterRules: egress,
            networkServices: services,
            description: Self.description(f)
        )
    }

    /// The valid rules of one direction, and how many entries the list has (for the quota).
    mutating func rules(
        _ filter: Fields,
        _ key: String,
        _ direction: TrafficDirection,
        filterId: String?
    ) -> ([TrafficMirrorFilterRule], Int) {
        guard let list = self.validator.array(filter, key) else { return ([], 0) }
        var rules: [TrafficMirrorFilterRule] = []
        var numbers: [Int: String] = [:]
        for (i, element) in list.enumerated() {
            let path = "\(filter.path(key))[\(i)]"
            guard let rule = self.rule(element, at: path, in: key, direction, filterId: filterId) else { continue }
            if let first = numbers[rule.ruleNumber] {
                self.validator.reject(
                    "\(path).RuleNumber",
                    .number(String(rule.ruleNumber)),
                    "is already used by \(first); rule numbers are unique per direction"
                )
                continue
            }
            numbers[rule.ruleNumber] = path
            rules.append(rule)
        }
        return (rules, list.count)
    }

    mutating func rule(
        _ element: JSONValue,
        at path: String,
        in listKey: String,
        _ direction: TrafficDirection,
        filterId: String?
    ) -> TrafficMirrorFilterRule? {
        guard let f = self.validator.object(element, at: path, Names.rule) else { return nil }
        let number = self.validator.integer(f, "RuleNumber", required: true, in: Limits.ruleNumber)

        var action: TrafficMirrorRuleAction? = nil
        if let text = self.validator.string(f, "RuleAction", required: true), let value = f["RuleAction"] {
            action = TrafficMirrorRuleAction(rawValue: text)
            if action == nil {
                self.validator.reject(f.path("RuleAction"), value, "is not a RuleAction (accept or reject)")
            }
        }

        // nil after a problem; .some(nil) is "all protocols".
        var ipProtocol: IPProtocol?? = .some(nil)
        if let value = f["Protocol"] {
            if let n = self.validator.integer(value, at: f.path("Protocol"), in: Limits.protocol) {
                ipProtocol = n == 0 ? .some(nil) : .some(IPProtocol(rawValue: UInt8(n)))
            } else {
                ipProtocol = nil
            }
        }

        let source = self.cidr(f, "SourceCidrBlock")
        let destination = self.cidr(f, "DestinationCidrBlock")
        if let source, let destination, source.family != destination.family, let value = f["DestinationCidrBlock"] {
            self.validator.reject(
                f.path("DestinationCidrBlock"),
                value,
                "is \(Self.familyName(destination)) but SourceCidrBlock is \(Self.familyName(source)); "
                    + "both must be the same family"
            )
        }

        let (sourcePorts, sourcePortsOK) = self.portRange(f, "SourcePortRange", protocol: ipProtocol)
        let (destinationPorts, destinationPortsOK) = self.portRange(f, "DestinationPortRange", protocol: ipProtocol)

        if let text = self.validator.string(f, "TrafficDirection"), let value = f["TrafficDirection"] {
            if let given = TrafficDirection(rawValue: text) {
                if given != direction {
                    self.validator.reject(
                        f.path("TrafficDirection"),
                        value,
                        "does not belong in \(listKey); expected \"\(direction.rawValue)\" or no TrafficDirection"
                    )
                }
            } else {
                self.validator.reject(f.path("TrafficDirection"), value, "is not a TrafficDirection (ingress or egress)")
            }
        }

        if let text = self.validator.string(f, "TrafficMirrorFilterId"), let filterId, text != filterId,
            let value = f["TrafficMirrorFilterId"]
        {
            self.validator.reject(
                f.path("TrafficMirrorFilterId"),
                value,
                "does not match the enclosing filter's TrafficMirrorFilterId \(Validator.quote(filterId))"
            )
        }
        let ruleId = self.validator.string(f, "TrafficMirrorFilterRuleId")

        guard let number, let action, let ipProtocol, let source, let destination, sourcePortsOK, destinationPortsOK
        else { return nil }
        return TrafficMirrorFilterRule(
            trafficMirrorFilterRuleId: ruleId,
            ruleNumber: number,
            ruleAction: action,
            protocol: ipProtocol,
            sourceCidrBlock: source,
            destinationCidrBlock: destination,
            sourcePortRange: sourcePorts,
            destinationPortRange: destinationPorts,
            description: Self.description(f)
        )
    }

    static func familyName(_ block: CIDRBlock) -> String { block.family == .ipv4 ? "IPv4" : "IPv6" }

    mutating func cidr(_ f: Fields, _ key: String) -> CIDRBlock? {
        guard let text = self.validator.string(f, key, required: true), let value = f[key] else { return nil }
        guard let block = CIDRBlock(text) else {
            self.validator.reject(f.path(key), value, "is not a CIDR")
            return nil
        }
        return block
    }

    /// A port range, or nil when absent; `ok` is false after a problem.
    /// `protocol` is the rule's protocol: `nil` when it had a problem, `.some(nil)` for all protocols.
    mutating func portRange(
        _ f: Fields,
        _ key: String,
        protocol ipProtocol: IPProtocol??
    ) -> (TrafficMirrorPortRange?, ok: Bool) {
        guard let value = f[key] else { return (nil, true) }
        guard let r = self.validator.object(value, at: f.path(key), Names.portRange) else { return (nil, false) }
        let from = self.validator.integer(r, "FromPort", required: true, in: Limits.port)
        let to = self.validator.integer(r, "ToPort", required: true, in: Limits.port)
        guard let from, let to else { return (nil, false) }
        guard from <= to else {
            self.validator.report(f.path(key), value, "FromPort \(from) is greater than ToPort \(to)")
            return (nil, false)
        }
        // AWS and Terraform reject port ranges unless the rule is for TCP or UDP.
        if case .some(let p) = ipProtocol, p != .tcp, p != .udp {
            let what = p.map { "Protocol is \($0.rawValue)" } ?? "Protocol is omitted or 0 (all protocols)"
            self.validator.report(
                f.path(key),
                value,
                "a port range needs Protocol 6 (TCP) or 17 (UDP), and \(what)"
            )
            return (nil, false)
        }
        return (TrafficMirrorPortRange(fromPort: UInt16(from), toPort: UInt16(to)), true)
    }

    // MARK: TrafficMirrorTargets

    mutating func targets(_ top: Fields) -> [TrafficMirrorTarget] {
        guard let list = self.validator.array(top, "TrafficMirrorTargets") else { return [] }
        var result: [TrafficMirrorTarget] = []
        for (i, element) in list.enumerated() {
            if let target = self.target(element, at: "TrafficMirrorTargets[\(i)]") {
                result.append(target)
            }
        }
        return result
    }

    static let targetTypes: [TrafficMirrorTargetType] = [
        .networkInterface, .networkLoadBalancer, .gatewayLoadBalancerEndpoint,
    ]

    mutating func target(_ element: JSONValue, at path: String) -> TrafficMirrorTarget? {
        guard let f = self.validator.object(element, at: path, Names.target) else { return nil }
        let id = self.validator.string(f, "TrafficMirrorTargetId", required: true, nonEmpty: true)
        if let id, let value = f["TrafficMirrorTargetId"] {
            Self.declare(
                id, value, at: f.path("TrafficMirrorTargetId"), objectPath: path,
                in: &self.targetIds, &self.validator
            )
        }

        var type: TrafficMirrorTargetType? = nil
        if let value = f["Type"] {
            if let text = self.validator.string(value, at: f.path("Type")) {
                type = Self.targetTypes.first { $0.rawValue == text }
                if type == nil {
                    self.validator.reject(
                        f.path("Type"),
                        value,
                        "is not a target Type (network-interface, network-load-balancer or gateway-load-balancer-endpoint)"
                    )
                }
            }
        } else if f["NetworkLoadBalancerArn"] != nil {
            type = .networkLoadBalancer
        } else if f["GatewayLoadBalancerEndpointId"] != nil {
            type = .gatewayLoadBalancerEndpoint
        } else {
            type = .networkInterface
        }
        if let id, let type, self.targetTypes[id] == nil {
            self.targetTypes[id] = type
        }

        var endpoints: [TrafficMirrorEndpoint] = []
        var endpointsOK = false
        if let list = self.validator.array(f, "Endpoints", required: true), let listValue = f["Endpoints"] {
            endpointsOK = true
            if list.isEmpty {
                self.validator.reject(f.path("Endpoints"), listValue, "is empty; a target needs at least one endpoint")
                endpointsOK = false
            }
            var seen: [TrafficMirrorEndpoint: Int] = [:]
            for (i, element) in list.enumerated() {
                let elementPath = "\(f.path("Endpoints"))[\(i)]"
                guard let text = self.validator.string(element, at: elementPath) else {
                    endpointsOK = false
                    continue
                }
                switch Self.parseEndpoint(text) {
                case .failure(let failure):
                    self.validator.reject(elementPath, element, failure.message)
                    endpointsOK = false
                case .success(let endpoint):
                    if let first = seen[endpoint] {
                        self.validator.reject(elementPath, element, "repeats Endpoints[\(first)] (\(endpoint))")
                        endpointsOK = false
                    } else {
                        seen[endpoint] = i
                        endpoints.append(endpoint)
                    }
                }
            }
        }
        guard let id, let type, endpointsOK else { return nil }
        return TrafficMirrorTarget(
            trafficMirrorTargetId: id,
            type: type,
            endpoints: endpoints,
            description: Self.description(f)
        )
    }

    struct EndpointFailure: Error {
        var message: String
    }

    /// `host:port`, `[ipv6]:port`, or a bare host (port 4789). The host must be an IP literal: no DNS here.
    static func parseEndpoint(_ text: String) -> Result<TrafficMirrorEndpoint, EndpointFailure> {
        var host = Substring(text)
        var port: Substring? = nil
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                return .failure(EndpointFailure(message: "has '[' without ']'"))
            }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.first == ":" else {
                    return .failure(EndpointFailure(message: "has something other than ':port' after ']'"))
                }
                port = rest.dropFirst()
            }
            if host.isEmpty { return .failure(EndpointFailure(message: "has no host")) }
            guard let address = IPAddress(host), !address.isIPv4 else {
                return .failure(EndpointFailure(message: "has \"\(host)\" in brackets, which is not an IPv6 address"))
            }
        } else if text.utf8.count(where: { $0 == UInt8(ascii: ":") }) == 1, let colon = text.firstIndex(of: ":") {
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        }
        // More than one ':' and no brackets: a bare IPv6 address.
        if host.isEmpty { return .failure(EndpointFailure(message: "has no host")) }
        guard let address = IPAddress(host) else {
            return .failure(
                EndpointFailure(message: "does not start with an IP address (host names are not resolved; use an IP)")
            )
        }
        var portNumber = 4789
        if let port {
            guard !port.isEmpty else { return .failure(EndpointFailure(message: "has no port after ':'")) }
            guard port.utf8.count <= 5, port.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                let n = Int(port)
            else {
                return .failure(EndpointFailure(message: "has a port that is not a number from 1 to 65535"))
            }
            guard (1...65535).contains(n) else {
                return .failure(EndpointFailure(message: "has port \(n), out of range (1 to 65535)"))
            }
            portNumber = n
        }
        return .success(TrafficMirrorEndpoint(address: address, port: UInt16(portNumber)))
    }

    // MARK: TrafficMirrorSessions

    /// A session's fields as read; nil where absent or wrong.
    struct PendingSession {
        var path: String
        var id: String?
        var networkInterfaceId: String?
        var targetId: String?
        var filterId: String?
        var sessionNumber: Int?
        /// `.some(nil)` when absent (to be derived); nil after a problem.
        var virtualNetworkId: UInt32??
        var packetLength: Int??
        var samplingPercent: Double?
        var description: String?
    }

    mutating func sessions(_ top: Fields) -> [TrafficMirrorSession] {
        guard let list = self.validator.array(top, "TrafficMirrorSessions") else { return [] }
        var sessionIds: [String: String] = [:]
        var pending: [PendingSession] = []
        // Per network interface: session number -> path, and how many sessions.
        var numbersByInterface: [String: [Int: String]] = [:]
        var countByInterface: [String: Int] = [:]

        for (i, element) in list.enumerated() {
            let path = "TrafficMirrorSessions[\(i)]"
            guard let f = self.validator.object(element, at: path, Names.session) else { continue }
            var s = PendingSession(path: path)
            s.id = self.validator.string(f, "TrafficMirrorSessionId", required: true, nonEmpty: true)
            if let id = s.id, let value = f["TrafficMirrorSessionId"] {
                Self.declare(
                    id, value, at: f.path("TrafficMirrorSessionId"), objectPath: path,
                    in: &sessionIds, &self.validator
                )
            }
            s.networkInterfaceId = self.reference(f, "NetworkInterfaceId", self.interfaceIds, "NetworkInterfaces")
            s.targetId = self.reference(f, "TrafficMirrorTargetId", self.targetIds, "TrafficMirrorTargets")
            s.filterId = self.reference(f, "TrafficMirrorFilterId", self.filterIds, "TrafficMirrorFilters")
            s.sessionNumber = self.validator.integer(f, "SessionNumber", required: true, in: Limits.sessionNumber)

            s.virtualNetworkId = .some(nil)
            if let value = f["VirtualNetworkId"] {
                s.virtualNetworkId = self.validator.integer(value, at: f.path("VirtualNetworkId"), in: Limits.virtualNetworkId)
                    .map { .some(UInt32($0)) }
            }

            s.packetLength = .some(nil)
            if let value = f["PacketLength"] {
                s.packetLength = self.packetLength(value, at: f.path("PacketLength")).map { .some($0) }
            }

            s.samplingPercent = 100
            if f["SamplingPercent"] != nil {
                s.samplingPercent = self.validator.double(f, "SamplingPercent")
                if let p = s.samplingPercent, !(p > 0 && p <= 100), let value = f["SamplingPercent"] {
                    self.validator.reject(f.path("SamplingPercent"), value, "is out of range (more than 0, at most 100)")
                    s.samplingPercent = nil
                }
            }
            s.description = Self.description(f)

            if let eni = s.networkInterfaceId {
                if let number = s.sessionNumber {
                    if let first = numbersByInterface[eni]?[number] {
                        self.validator.reject(
                            f.path("SessionNumber"),
                            .number(String(number)),
                            "is already used by \(first) on network interface \(Validator.quote(eni)); "
                                + "session numbers are unique per network interface"
                        )
                        s.sessionNumber = nil
                    } else {
                        numbersByInterface[eni, default: [:]][number] = path
                    }
                }
                countByInterface[eni, default: 0] += 1
                if self.enforceQuotas && countByInterface[eni] == Limits.sessionsPerInterface + 1,
                    let value = f["NetworkInterfaceId"]
                {
                    self.validator.reject(
                        f.path("NetworkInterfaceId"),
                        value,
                        "has more than \(Limits.sessionsPerInterface) sessions; AWS allows "
                            + "\(Limits.sessionsPerInterface) per network interface (--relax-quotas lifts this)"
                    )
                }
            }
            pending.append(s)
        }

        self.assignDerivedVNIs(&pending)
        return pending.compactMap { s in
            guard let id = s.id, let eni = s.networkInterfaceId, let target = s.targetId, let filter = s.filterId,
                let number = s.sessionNumber, case .some(.some(let vni)) = s.virtualNetworkId,
                case .some(let packetLength) = s.packetLength, let sampling = s.samplingPercent
            else { return nil }
            let defaultLength = self.targetTypes[target] == .networkLoadBalancer ? Limits.defaultNLBPacketLength : nil
            return TrafficMirrorSession(
                trafficMirrorSessionId: id,
                networkInterfaceId: eni,
                trafficMirrorTargetId: target,
                trafficMirrorFilterId: filter,
                sessionNumber: number,
                virtualNetworkId: vni,
                packetLength: packetLength ?? defaultLength,
                samplingPercent: sampling,
                description: s.description
            )
        }
    }

    /// A required id that must name an object declared in `section`.
    mutating func reference(_ f: Fields, _ key: String, _ declared: [String: String], _ section: String) -> String? {
        guard let id = self.validator.string(f, key, required: true, nonEmpty: true), let value = f[key] else {
            return nil
        }
        guard declared[id] != nil else {
            self.validator.reject(f.path(key), value, "is not declared in \(section)")
            return nil
        }
        return id
    }

    mutating func packetLength(_ value: JSONValue, at path: String) -> Int? {
        if self.enforceQuotas {
            return self.validator.integer(
                value,
                at: path,
                in: Limits.packetLength,
                hintAbove: "--relax-quotas allows up to \(Limits.relaxedPacketLength.upperBound)"
            )
        }
        return self.validator.integer(value, at: path, in: Limits.relaxedPacketLength)
    }

    /// Gives each session without `VirtualNetworkId` a VNI that is deterministic and unique in the file:
    /// `SessionsFile.derivedVNISeed` of its id, then +1 (mod 2^24, skipping 0) while taken by an explicit VNI
    /// anywhere in the file or by a VNI derived earlier in file order.
    mutating func assignDerivedVNIs(_ sessions: inout [PendingSession]) {
        var used: Set<UInt32> = []
        for s in sessions {
            if case .some(.some(let vni)) = s.virtualNetworkId { used.insert(vni) }
        }
        for i in sessions.indices {
            guard case .some(.none) = sessions[i].virtualNetworkId, let id = sessions[i].id else { continue }
            var vni = SessionsFile.derivedVNISeed(id)
            var steps = 0
            while vni == 0 || used.contains(vni) {
                vni = (vni &+ 1) & 0xFF_FFFF
                steps += 1
                guard steps <= 0xFF_FFFF else {
                    self.validator.report(sessions[i].path, nil, "no free VirtualNetworkId is left to derive one")
                    return
                }
            }
            used.insert(vni)
            sessions[i].virtualNetworkId = .some(vni)
        }
    }
}

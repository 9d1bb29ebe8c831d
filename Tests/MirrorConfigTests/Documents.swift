// vpcmirror: small sessions files for the MirrorConfig tests, built from valid parts.
import MirrorConfig
import MirrorFilter

/// Pieces of a valid sessions file; a test swaps one piece for a broken one.
enum Doc {
    static let interface = #"{"NetworkInterfaceId": "eni-1", "MacAddress": "02:00:00:00:00:01"}"#
    static let target = #"{"TrafficMirrorTargetId": "tmt-1", "Endpoints": ["10.0.0.9"]}"#
    static let cidrs = #""SourceCidrBlock": "0.0.0.0/0", "DestinationCidrBlock": "0.0.0.0/0""#

    /// An accept-everything rule; `more` is appended inside the object.
    static func rule(_ number: Int = 100, _ more: String = "") -> String {
        #"{"RuleNumber": \#(number), "RuleAction": "accept", \#(cidrs)\#(more.isEmpty ? "" : ", " + more)}"#
    }

    static func filter(
        id: String = "tmf-1",
        ingress: [String] = [Doc.rule()],
        egress: [String] = [],
        more: String = ""
    ) -> String {
        #"{"TrafficMirrorFilterId": "\#(id)", "IngressFilterRules": [\#(ingress.joined(separator: ", "))], "#
            + #""EgressFilterRules": [\#(egress.joined(separator: ", "))]\#(more.isEmpty ? "" : ", " + more)}"#
    }

    static func session(
        _ id: String = "tms-1",
        interface: String = "eni-1",
        number: Int = 1,
        _ more: String = ""
    ) -> String {
        #"{"TrafficMirrorSessionId": "\#(id)", "NetworkInterfaceId": "\#(interface)", "#
            + #""TrafficMirrorTargetId": "tmt-1", "TrafficMirrorFilterId": "tmf-1", "SessionNumber": \#(number)"#
            + (more.isEmpty ? "}" : ", \(more)}")
    }

    static func make(
        interfaces: [String] = [Doc.interface],
        filters: [String] = [Doc.filter()],
        targets: [String] = [Doc.target],
        sessions: [String] = [Doc.session()],
        more: String = ""
    ) -> String {
        """
        {
          "NetworkInterfaces": [\(interfaces.joined(separator: ",\n    "))],
          "TrafficMirrorFilters": [\(filters.joined(separator: ",\n    "))],
          "TrafficMirrorTargets": [\(targets.joined(separator: ",\n    "))],
          "TrafficMirrorSessions": [\(sessions.joined(separator: ",\n    "))]\(more.isEmpty ? "" : ",\n  " + more)
        }
        """
    }

    /// The first example `sessions.json` (the repository file has since grown; this copy stays fixed).
    static let example = """
        {
          "NetworkInterfaces": [
            {"NetworkInterfaceId": "eni-0a1b2c3d4e5f60001", "MacAddress": "00:00:00:00:00:00", "PrivateIpAddresses": [{"PrivateIpAddress": "10.0.0.5", "Primary": true}], "InterfaceName": "eth0"}
          ],
          "TrafficMirrorFilters": [
            {"TrafficMirrorFilterId": "tmf-0123456789abcdef0", "Description": "HTTP both ways",
             "IngressFilterRules": [{"RuleNumber": 100, "RuleAction": "accept", "Protocol": 6, "SourceCidrBlock": "0.0.0.0/0", "DestinationCidrBlock": "0.0.0.0/0", "DestinationPortRange": {"FromPort": 80, "ToPort": 80}}],
             "EgressFilterRules": [{"RuleNumber": 100, "RuleAction": "accept", "Protocol": 6, "SourceCidrBlock": "0.0.0.0/0", "DestinationCidrBlock": "0.0.0.0/0", "SourcePortRange": {"FromPort": 80, "ToPort": 80}}],
             "NetworkServices": []}
          ],
          "TrafficMirrorTargets": [{"TrafficMirrorTargetId": "tmt-0123456789abcdef0", "Type": "network-interface", "Endpoints": ["127.0.0.1:4789"]}],
          "TrafficMirrorSessions": [{"TrafficMirrorSessionId": "tms-0123456789abcdef0", "NetworkInterfaceId": "eni-0a1b2c3d4e5f60001", "TrafficMirrorTargetId": "tmt-0123456789abcdef0", "TrafficMirrorFilterId": "tmf-0123456789abcdef0", "SessionNumber": 1}]
        }
        """
}

/// Parses `json`; returns the configuration or the problems.
func load(_ json: String, relaxed: Bool = false) -> Result<MirrorConfiguration, ConfigError> {
    load(Array(json.utf8), relaxed: relaxed)
}

func load(_ bytes: [UInt8], relaxed: Bool = false) -> Result<MirrorConfiguration, ConfigError> {
    var options = ValidationOptions()
    options.enforceAWSQuotas = !relaxed
    do {
        return .success(try SessionsFile.parse(bytes, fileName: "sessions.json", options: options))
    } catch {
        return .failure(error)
    }
}

/// The problems of a file that must not load; empty if it loaded.
func problems(_ json: String, relaxed: Bool = false) -> [ConfigProblem] {
    switch load(json, relaxed: relaxed) {
    case .success: []
    case .failure(let error): error.problems
    }
}

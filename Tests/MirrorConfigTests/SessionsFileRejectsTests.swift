// vpcmirror: sessions files that must not load, each with the one problem it must report.
import MirrorConfig
import Testing

/// A broken file, the path of its one problem, and a phrase the message must contain.
struct BadFile: Sendable, CustomTestStringConvertible {
    var name: String
    var json: String
    var path: String
    var mentions: String
    var relaxed = false

    init(_ name: String, _ json: String, path: String, mentions: String, relaxed: Bool = false) {
        self.name = name
        self.json = json
        self.path = path
        self.mentions = mentions
        self.relaxed = relaxed
    }

    var testDescription: String { self.name }
}

private let d = Doc.self

/// Syntax errors: path "", and the message starts with the exact position.
let syntaxErrors: [BadFile] = [
    BadFile("empty input", "", path: "", mentions: "byte 0 (line 1, column 1): empty input"),
    BadFile("only whitespace", " \n ", path: "", mentions: "byte 3 (line 2, column 2): expected a JSON value"),
    BadFile(
        "truncated file",
        #"{"NetworkInterfaces": ["#,
        path: "",
        mentions: "byte 23 (line 1, column 24): unexpected end of input; expected a JSON value"
    ),
    BadFile(
        "truncated inside a string",
        "{\n  \"NextToken\": \"abc",
        path: "",
        mentions: "byte 21 (line 2, column 20): unexpected end of input inside a string"
    ),
    BadFile(
        "trailing comma in an object",
        "{\n  \"NextToken\": \"x\",\n}",
        path: "",
        mentions: "byte 22 (line 3, column 1): trailing comma before '}'"
    ),
    BadFile(
        "trailing comma in an array",
        #"{"NetworkInterfaces": [{}, ]}"#,
        path: "",
        mentions: "byte 27 (line 1, column 28): trailing comma before ']'"
    ),
    BadFile(
        "bad escape",
        #"{"NextToken": "a\qb"}"#,
        path: "",
        mentions: #"byte 16 (line 1, column 17): invalid escape \ followed by 'q'"#
    ),
    BadFile(
        "duplicate key",
        #"{"NextToken": "a", "NextToken": "b"}"#,
        path: "",
        mentions: #"byte 19 (line 1, column 20): duplicate key "NextToken""#
    ),
    BadFile(
        "nesting past the depth cap",
        String(repeating: "[", count: 65) + String(repeating: "]", count: 65),
        path: "",
        mentions: "byte 64 (line 1, column 65): arrays and objects nest more than 64 deep"
    ),
    BadFile(
        "trailing garbage",
        "{}\n x",
        path: "",
        mentions: "byte 4 (line 2, column 2): unexpected 'x' after the end of the JSON value"
    ),
    BadFile(
        "second document",
        "{} {}",
        path: "",
        mentions: "byte 3 (line 1, column 4): unexpected '{' after the end"
    ),
    BadFile(
        "missing colon",
        #"{"NextToken" "x"}"#,
        path: "",
        mentions: "byte 13 (line 1, column 14): expected ':' after an object key, found '\"'"
    ),
    BadFile(
        "missing comma; columns count characters, not bytes",
        #"{"NextToken": "é" 1}"#,
        path: "",
        mentions: "byte 19 (line 1, column 19): expected ',' or '}' after an object member, found '1'"
    ),
    BadFile(
        "lone surrogate escape",
        #"{"NextToken": "\ud800"}"#,
        path: "",
        mentions: "byte 15 (line 1, column 16): unpaired UTF-16 surrogate"
    ),
    BadFile(
        "single quotes",
        "{'NextToken': 1}",
        path: "",
        mentions: #"byte 1 (line 1, column 2): expected a string key or '}', found "'""#
    ),
]

/// Wrong shapes and unknown names.
let shapeErrors: [BadFile] = [
    BadFile("top level is an array", "[]", path: "", mentions: "the top level: expected an object, not an array"),
    BadFile("top level is a string", #""x""#, path: "", mentions: #"expected an object, not the string "x""#),
    BadFile(
        "section is an object",
        #"{"TrafficMirrorSessions": {}}"#,
        path: "TrafficMirrorSessions",
        mentions: "expected an array, not an object"
    ),
    BadFile(
        "unknown field with a suggestion",
        d.make(sessions: [d.session("tms-1", #""SesionNumber": 2"#)]),
        path: "TrafficMirrorSessions[0].SesionNumber",
        mentions: "unknown field; did you mean SessionNumber?"
    ),
    BadFile(
        "unknown top-level field with a suggestion",
        #"{"TrafficMirrorSession": []}"#,
        path: "TrafficMirrorSession",
        mentions: "did you mean TrafficMirrorSessions?"
    ),
    BadFile(
        "misspelt required field is not also reported missing",
        d.make(sessions: [#"{"TrafficMirrorSessionId": "tms-1", "NetworkInterfaceId": "eni-1", "TrafficMirrorTargetId": "tmt-1", "TrafficMirrorFilterId": "tmf-1", "sessionNumber": 1}"#]),
        path: "TrafficMirrorSessions[0].sessionNumber",
        mentions: "unknown field; did you mean SessionNumber?"
    ),
    BadFile(
        "misspelt MacAddress is not also an interface with nothing to match",
        d.make(interfaces: [#"{"NetworkInterfaceId": "eni-1", "MacAdress": "02:00:00:00:00:01"}"#]),
        path: "NetworkInterfaces[0].MacAdress",
        mentions: "did you mean MacAddress?"
    ),
    BadFile(
        "unknown field far from every name",
        d.make(targets: [#"{"TrafficMirrorTargetId": "tmt-1", "Endpoints": ["10.0.0.9"], "Weight": 3}"#]),
        path: "TrafficMirrorTargets[0].Weight",
        mentions: "unknown field"
    ),
    BadFile(
        "unknown field in a port range",
        d.make(filters: [d.filter(ingress: [d.rule(100, #""Protocol": 6, "DestinationPortRange": {"FromPort": 1, "Toport": 2}"#)])]),
        path: "TrafficMirrorFilters[0].IngressFilterRules[0].DestinationPortRange.Toport",
        mentions: "did you mean ToPort?"
    ),
    BadFile(
        "string where an integer is required",
        d.make(sessions: [#"{"TrafficMirrorSessionId": "tms-1", "NetworkInterfaceId": "eni-1", "TrafficMirrorTargetId": "tmt-1", "TrafficMirrorFilterId": "tmf-1", "SessionNumber": "1"}"#]),
        path: "TrafficMirrorSessions[0].SessionNumber",
        mentions: #"expected an integer, not the string "1""#
    ),
    BadFile(
        "fraction where an integer is required",
        d.make(filters: [d.filter(ingress: [#"{"RuleNumber": 1.5, "RuleAction": "accept", \#(d.cidrs)}"#])]),
        path: "TrafficMirrorFilters[0].IngressFilterRules[0].RuleNumber",
        mentions: "1.5 is not an integer"
    ),
    BadFile(
        "number where a string is required",
        d.make(interfaces: [#"{"NetworkInterfaceId": 7, "MacAddress": "02:00:00:00:00:01"}"#], sessions: []),
        path: "NetworkInterfaces[0].NetworkInterfaceId",
        mentions: "expected a string, not the number 7"
    ),
    BadFile(
        "null where a string is required",
        d.make(filters: [d.filter(ingress: [#"{"RuleNumber": 1, "RuleAction": null, \#(d.cidrs)}"#])]),
        path: "TrafficMirrorFilters[0].IngressFilterRules[0].RuleAction",
        mentions: "expected a string, not null"
    ),
]

/// Required fields that are missing: the path is where the field belongs.
let missingFields: [BadFile] = [
    BadFile(
        "filter without TrafficMirrorFilterId",
        d.make(filters: [#"{"IngressFilterRules": []}"#], sessions: []),
        path: "TrafficMirrorFilters[0].TrafficMirrorFilterId",
        mentions: "required"
    ),
    BadFile(
        "rule without RuleNumber",
        d.make(filters: [d.filter(ingress: [#"{"RuleAction": "accept", \#(d.cidrs)}"#])]),
        path: "TrafficMirrorFilters[0].IngressFilterRules[0].RuleNumber",
        mentions: "required"
    ),
    BadFile(
        "rule without RuleAction",
        d.make(filters: [d.filter(ingress: [#"{"RuleNumber": 1, \#(d.cidrs)}"#])]),
        path: "TrafficMirrorFilters[0].IngressFilterRules[0].RuleAction",
        mentions: "required"
    ),
    BadFile(
        "rule without SourceCidrBlock",
        d.make(filters: [d.filter(egress: [#"{"RuleNumber": 1, "RuleAction": "reject", "DestinationCidrBlock": "::/0"}"#])]),
        path: "TrafficMirrorFilters[0].EgressFilterRules[0].SourceCidrBlock",
        mentions: "required"
    ),
    BadFile(
        "rule without DestinationCidrBlock",
        d.make(filters: [d.filter(ingress: [#"{"RuleNumber": 1, "RuleAction": "accept", "SourceCidrBlock": "::/0"}"#])]),
        path: "TrafficMirrorFilters[0].IngressFilterRules[0].DestinationCidrBlock",
        mentions: "required"
    ),
    BadFile(
        "port range without FromPort",
        d.make(filters: [d.filter(ingress: [d.rule(1, #""Protocol": 17, "SourcePortRange": {"ToPort": 53}"#)])]),
        path: "TrafficMirrorFilters[0].IngressFilterRules[0].SourcePortRange.FromPort",
        mentions: "required"
    ),
    BadFile(
        "target without TrafficMirrorTargetId",
        d.make(targets: [#"{"Endpoints": ["10.0.0.9"]}"#], sessions: []),
        path: "TrafficMirrorTargets[0].TrafficMirrorTargetId",
        mentions: "required"
    ),
    BadFile(
        "target without Endpoints",
        d.make(targets: [#"{"TrafficMirrorTargetId": "tmt-1", "NetworkInterfaceId": "eni-9"}"#]),
        path: "TrafficMirrorTargets[0].Endpoints",
        mentions: "required"
    ),
    BadFile(
        "interface without NetworkInterfaceId",
        d.make(interfaces: [#"{"MacAddress": "02:00:00:00:00:01"}"#], sessions: []),
        path: "NetworkInterfaces[0].NetworkInterfaceId",
        mentions: "required"
    ),
    BadFile(
        "PrivateIpAddresses entry without PrivateIpAddress",
        d.make(interfaces: [#"{"NetworkInterfaceId": "eni-1", "InterfaceName": "eth0", "PrivateIpAddresses": [{"Primary": true}]}"#]),
        path: "NetworkInterfaces[0].PrivateIpAddresses[0].PrivateIpAddress",
        mentions: "required"
    ),
    BadFile(
        "session without TrafficMirrorSessionId",
        d.make(sessions: [#"{"NetworkInterfaceId": "eni-1", "TrafficMirrorTargetId": "tmt-1", "TrafficMirrorFilterId": "tmf-1", "SessionNumber": 1}"#]),
        path: "TrafficMirrorSessions[0].TrafficMirrorSessionId",
        mentions: "required"
    ),
    BadFile(
        "session without NetworkInterfaceId",
        d.make(sessions: [#"{"TrafficMirrorSessionId": "tms-1", "TrafficMirrorTargetId": "tmt-1", "TrafficMirrorFilterId": "tmf-1", "SessionNumber": 1}"#]),
        path: "TrafficMirrorSessions[0].NetworkInterfaceId",
        mentions: "required"
    ),
    BadFile(
        "session without TrafficMirrorTargetId",
        d.make(sessions: [#"{"TrafficMirrorSessionId": "tms-1", "NetworkInterfaceId": "eni-1", "TrafficMirrorFilterId": "tmf-1", "SessionNumber": 1}"#]),
        path: "TrafficMirrorSessions[0].TrafficMirrorTargetId",
        mentions: "required"
    ),
    BadFile(
        "session without TrafficMirrorFilterId",
        d.make(sessions: [#"{"TrafficMirrorSessionId": "tms-1", "NetworkInterfaceId": "eni-1", "TrafficMirrorTargetId": "tmt-1", "SessionNumber": 1}"#]),
        path: "TrafficMirrorSessions[0].TrafficMirrorFilterId",
        mentions: "required"
    ),
    BadFile(
        "session without SessionNumber",
        d.make(sessions: [#"{"TrafficMirrorSessionId": "tms-1", "NetworkInterfaceId": "eni-1", "TrafficMirrorTargetId": "tmt-1", "TrafficMirrorFilterId": "tmf-1"}"#]),
        path: "TrafficMirrorSessions[0].SessionNumber",
        mentions: "required"
    ),
    BadFile(
        "empty filter id",
        d.make(filters: [d.filter(id: "")], sessions: []),
        path: "TrafficMirrorFilters[0].TrafficMirrorFilterId",
        mentions: "must not be empty"
    ),
]

/// Numbers outside their ranges.
let rangeErrors: [BadFile] = [
    BadFile(
        "RuleNumber 0",
        d.make(filters: [d.filter(ingress: [d.rule(0)])]),
        path: "TrafficMirrorFilters[0].IngressFilterRules[0].RuleNumber",
        mentions: "0 is out of range (1 to 32766)"
    ),
    BadFile(
        "RuleNumber 32767",
        d.make(filters: [d.filter(egress: [d.rule(32767)])]),
        path: "TrafficMirrorFilters[0].EgressFilterRules[0].RuleNumber",
        mentions: "32767 is out of range (1 to 32766)"
    ),
    BadFile(
        "SessionNumber 0",
        d.make(sessions: [d.session(number: 0)]),
        path: "TrafficMirrorSessions[0].SessionNumber",
        mentions: "0 is out of range (1 to 32766)"
    ),
    BadFile(
        "SessionNumber 32767",
        d.make(sessions: [d.session(number: 32767)]),
        path: "TrafficMirrorSessions[0].SessionNumber",
        mentions: "32767 is out of range (1 to 32766)"
    ),
    BadFile(
        "SessionNumber beyond 64 bits",
        d.make(sessions: [d.session(number: 1).replacingSessionNumber("99999999999999999999999")]),
        path: "TrafficMirrorSessions[0].SessionNumber",
        mentions: "99999999999999999999999 is out of range"
    ),
    BadFile(
        "VirtualNetworkId 16777216",
        d.make(sessions: [d.session("tms-1", #""VirtualNetworkId": 16777216"#)]),
        path: "TrafficMirrorSessions[0].VirtualNetworkId",
        mentions: "16777216 is out of range (0 to 16777215)"
    ),
    BadFile(
        "VirtualNetworkId -1",
        d.make(sessions: [d.session("tms-1", #""VirtualNetworkId": -1"#)]),
        path: "TrafficMirrorSessions[0].VirtualNetworkId",
        mentions: "-1 is out of range (0 to 16777215)"
    ),
    BadFile(
        "PacketLength 0",
        d.make(sessions: [d.session("tms-1", #""PacketLength": 0"#)]),
        path: "TrafficMirrorSessions[0].PacketLength",
        mentions: "0 is out of range (1 to 8500)"
    ),
    BadFile(
        "PacketLength 8501",
        d.make(sessions: [d.session("tms-1", #""PacketLength": 8501"#)]),
        path: "TrafficMirrorSessions[0].PacketLength",
        mentions: "8501 is out of range (1 to 8500; --relax-quotas"
    ),
    BadFile(
        "PacketLength 65536 even with quotas relaxed",
        d.make(sessions: [d.session("tms-1", #""PacketLength": 65536"#)]),
        path: "TrafficMirrorSessions[0].PacketLength",
        mentions: "65536 is out of range (1 to 65535)",
        relaxed: true
    ),
    BadFile(
        "Protocol 256",
        d.make(filters: [d.filter(ingress: [d.rule(1, #""Protocol": 256"#)])]),
        path: "TrafficMirrorFilters[0].IngressFilterRules[0].Protocol",
        mentions: "256 is out of range (0 to 255)"
    ),
    BadFile(
        "ToPort 65536",
        d.make(filters: [d.filter(ingress: [d.rule(1, #""Protocol": 6, "DestinationPortRange": {"FromPort": 1, "ToPort": 65536}"#)])]),
        path: "TrafficMirrorFilters[0].IngressFilterRules[0].DestinationPortRange.ToPort",
        mentions: "65536 is out of range (0 to 65535)"
    ),
    BadFile(
        "FromPort greater than ToPort",
        d.make(filters: [d.filter(ingress: [d.rule(1, #""Protocol": 6, "SourcePortRange": {"FromPort": 90, "ToPort": 80}"#)])]),
        path: "TrafficMirrorFilters[0].IngressFilterRules[0].SourcePortRange",
        mentions: "FromPort 90 is greater than ToPort 80"
    ),
    BadFile(
        "SamplingPercent 0",
        d.make(sessions: [d.session("tms-1", #""SamplingPercent": 0"#)]),
        path: "TrafficMirrorSessions[0].SamplingPercent",
        mentions: "0 is out of range (more than 0, at most 100)"
    ),
    BadFile(
        "SamplingPercent 100.5",
        d.make(sessions: [d.session("tms-1", #""SamplingPercent": 100.5"#)]),
        path: "TrafficMirrorSessions[0].SamplingPercent",
        mentions: "100.5 is out of range"
    ),
    BadFile(
        "SamplingSeed 2^64",
        d.make(more: #""SamplingSeed": 18446744073709551616"#),
        path: "SamplingSeed",
        mentions: "18446744073709551616 is out of range (0 to 18446744073709551615)"
    ),
    BadFile(
        "SamplingSeed negative",
        d.make(more: #""SamplingSeed": -5"#),
        path: "SamplingSeed",
        mentions: "-5 is out of range"
    ),
]

/// Values of the right type that mean nothing, and rules that contradict themselves.
let valueErrors: [BadFile] = [
    BadFile(
        "bad CIDR",
        d.make(filters: [d.filter(ingress: [d.rule(1), d.rule(2), #"{"RuleNumber": 3, "RuleAction": "accept", "SourceCidrBlock": "0.0.0.0/0", "DestinationCidrBlock": "10.0.0/8"}"#])]),
        path: "TrafficMirrorFilters[0].IngressFilterRules[2].DestinationCidrBlock",
        mentions: #""10.0.0/8" is not a CIDR"#
    ),
    BadFile(
        "prefix too long for IPv4",
        d.make(filters: [d.filter(ingress: [#"{"RuleNumber": 3, "RuleAction": "accept", "SourceCidrBlock": "10.0.0.0/33", "DestinationCidrBlock": "0.0.0.0/0"}"#])]),
        path: "TrafficMirrorFilters[0].IngressFilterRules[0].SourceCidrBlock",
        mentions: #""10.0.0.0/33" is not a CIDR"#
    ),
    BadFile(
        "mixed-family CIDRs",
        d.make(filters: [d.filter(ingress: [#"{"RuleNumber": 3, "RuleAction": "accept", "SourceCidrBlock": "0.0.0.0/0", "DestinationCidrBlock": "::/0"}"#])]),
        path: "TrafficMirrorFilters[0].IngressFilterRules[0].DestinationCidrBlock",
        mentions: "is IPv6 but SourceCidrBlock is IPv4"
    ),
    BadFile(
        "port range with Protocol 1",
        d.make(filters: [d.filter(ingress: [d.rule(1, #""Protocol": 1, "DestinationPortRange": {"FromPort": 0, "ToPort": 8}"#)])]),
        path: "TrafficMirrorFilters[0].IngressFilterRules[0].DestinationPortRange",
        mentions: "a port range needs Protocol 6 (TCP) or 17 (UDP), and Protocol is 1"
    ),
    BadFile(
        "port range with Protocol omitted",
        d.make(filters: [d.filter(egress: [d.rule(1, #""SourcePortRange": {"FromPort": 443, "ToPort": 443}"#)])]),
        path: "TrafficMirrorFilters[0].EgressFilterRules[0].SourcePortRange",
        mentions: "Protocol is omitted or 0 (all protocols)"
    ),
    BadFile(
        "duplicate rule number in one direction",
        d.make(filters: [d.filter(ingress: [d.rule(100), d.rule(200), d.rule(100)], egress: [d.rule(100)])]),
        path: "TrafficMirrorFilters[0].IngressFilterRules[2].RuleNumber",
        mentions: "100 is already used by TrafficMirrorFilters[0].IngressFilterRules[0]"
    ),
    BadFile(
        "egress TrafficDirection in IngressFilterRules",
        d.make(filters: [d.filter(ingress: [d.rule(1, #""TrafficDirection": "egress""#)])]),
        path: "TrafficMirrorFilters[0].IngressFilterRules[0].TrafficDirection",
        mentions: #""egress" does not belong in IngressFilterRules"#
    ),
    BadFile(
        "unknown TrafficDirection",
        d.make(filters: [d.filter(egress: [d.rule(1, #""TrafficDirection": "outbound""#)])]),
        path: "TrafficMirrorFilters[0].EgressFilterRules[0].TrafficDirection",
        mentions: #""outbound" is not a TrafficDirection"#
    ),
    BadFile(
        "bad RuleAction",
        d.make(filters: [d.filter(ingress: [#"{"RuleNumber": 1, "RuleAction": "allow", \#(d.cidrs)}"#])]),
        path: "TrafficMirrorFilters[0].IngressFilterRules[0].RuleAction",
        mentions: #""allow" is not a RuleAction (accept or reject)"#
    ),
    BadFile(
        "rule names another filter",
        d.make(filters: [d.filter(ingress: [d.rule(1, #""TrafficMirrorFilterId": "tmf-2""#)])]),
        path: "TrafficMirrorFilters[0].IngressFilterRules[0].TrafficMirrorFilterId",
        mentions: #"does not match the enclosing filter's TrafficMirrorFilterId "tmf-1""#
    ),
    BadFile(
        "unknown NetworkServices value",
        d.make(filters: [d.filter(more: #""NetworkServices": ["amazon-dns", "amazon-ntp"]"#)]),
        path: "TrafficMirrorFilters[0].NetworkServices[1]",
        mentions: #""amazon-ntp" is not a network service"#
    ),
    BadFile(
        "bad target Type",
        d.make(targets: [#"{"TrafficMirrorTargetId": "tmt-1", "Type": "nlb", "Endpoints": ["10.0.0.9"]}"#]),
        path: "TrafficMirrorTargets[0].Type",
        mentions: #""nlb" is not a target Type"#
    ),
    BadFile(
        "bad MAC",
        d.make(interfaces: [#"{"NetworkInterfaceId": "eni-1", "MacAddress": "02:00:00:00:01"}"#]),
        path: "NetworkInterfaces[0].MacAddress",
        mentions: #""02:00:00:00:01" is not a MAC address"#
    ),
    BadFile(
        "IPv6 in PrivateIpAddress",
        d.make(interfaces: [#"{"NetworkInterfaceId": "eni-1", "PrivateIpAddress": "fd00::5"}"#]),
        path: "NetworkInterfaces[0].PrivateIpAddress",
        mentions: #""fd00::5" is an IPv6 address"#
    ),
    BadFile(
        "IPv4 in Ipv6Addresses",
        d.make(interfaces: [#"{"NetworkInterfaceId": "eni-1", "Ipv6Addresses": [{"Ipv6Address": "10.0.0.5"}]}"#]),
        path: "NetworkInterfaces[0].Ipv6Addresses[0].Ipv6Address",
        mentions: #""10.0.0.5" is an IPv4 address"#
    ),
    BadFile(
        "not an address in PrivateIpAddresses",
        d.make(interfaces: [#"{"NetworkInterfaceId": "eni-1", "PrivateIpAddresses": [{"PrivateIpAddress": "10.0.0.256"}]}"#]),
        path: "NetworkInterfaces[0].PrivateIpAddresses[0].PrivateIpAddress",
        mentions: #""10.0.0.256" is not an IPv4 address"#
    ),
    BadFile(
        "interface with nothing to match",
        d.make(interfaces: [#"{"NetworkInterfaceId": "eni-1", "PrivateIpAddresses": [], "Description": "idle"}"#]),
        path: "NetworkInterfaces[0]",
        mentions: "no frame can ever match it"
    ),
    BadFile(
        "endpoint without a host",
        d.make(targets: [#"{"TrafficMirrorTargetId": "tmt-1", "Endpoints": [":4789"]}"#]),
        path: "TrafficMirrorTargets[0].Endpoints[0]",
        mentions: #"":4789" has no host"#
    ),
    BadFile(
        "endpoint with port 0",
        d.make(targets: [#"{"TrafficMirrorTargetId": "tmt-1", "Endpoints": ["10.0.0.9:4789", "10.0.0.10:0"]}"#]),
        path: "TrafficMirrorTargets[0].Endpoints[1]",
        mentions: "has port 0, out of range (1 to 65535)"
    ),
    BadFile(
        "endpoint with a host name",
        d.make(targets: [#"{"TrafficMirrorTargetId": "tmt-1", "Endpoints": ["collector.internal:4789"]}"#]),
        path: "TrafficMirrorTargets[0].Endpoints[0]",
        mentions: "host names are not resolved"
    ),
    BadFile(
        "endpoint with IPv4 in brackets",
        d.make(targets: [#"{"TrafficMirrorTargetId": "tmt-1", "Endpoints": ["[10.0.0.9]:4789"]}"#]),
        path: "TrafficMirrorTargets[0].Endpoints[0]",
        mentions: "not an IPv6 address"
    ),
    BadFile(
        "endpoint with an empty port",
        d.make(targets: [#"{"TrafficMirrorTargetId": "tmt-1", "Endpoints": ["[fd00::9]:"]}"#]),
        path: "TrafficMirrorTargets[0].Endpoints[0]",
        mentions: "has no port after ':'"
    ),
    BadFile(
        "the same endpoint twice",
        d.make(targets: [#"{"TrafficMirrorTargetId": "tmt-1", "Endpoints": ["10.0.0.9", "10.0.0.9:4789"]}"#]),
        path: "TrafficMirrorTargets[0].Endpoints[1]",
        mentions: "repeats Endpoints[0]"
    ),
    BadFile(
        "no endpoints",
        d.make(targets: [#"{"TrafficMirrorTargetId": "tmt-1", "Endpoints": []}"#]),
        path: "TrafficMirrorTargets[0].Endpoints",
        mentions: "a target needs at least one endpoint"
    ),
    BadFile(
        "bad AmazonDnsAddresses entry",
        d.make(more: #""AmazonDnsAddresses": ["10.0.0.2", "10.0.0"]"#),
        path: "AmazonDnsAddresses[1]",
        mentions: #""10.0.0" is not an IP address"#
    ),
]

/// Cross-references, uniqueness and quotas.
let referenceErrors: [BadFile] = [
    BadFile(
        "session names an undeclared interface",
        d.make(sessions: [d.session(interface: "eni-404")]),
        path: "TrafficMirrorSessions[0].NetworkInterfaceId",
        mentions: #""eni-404" is not declared in NetworkInterfaces"#
    ),
    BadFile(
        "session names an undeclared target",
        d.make(sessions: [d.session().replacingOccurrences("tmt-1", "tmt-404")]),
        path: "TrafficMirrorSessions[0].TrafficMirrorTargetId",
        mentions: #""tmt-404" is not declared in TrafficMirrorTargets"#
    ),
    BadFile(
        "session names an undeclared filter",
        d.make(sessions: [d.session().replacingOccurrences("tmf-1", "tmf-404")]),
        path: "TrafficMirrorSessions[0].TrafficMirrorFilterId",
        mentions: #""tmf-404" is not declared in TrafficMirrorFilters"#
    ),
    BadFile(
        "duplicate filter id",
        d.make(filters: [d.filter(), d.filter()]),
        path: "TrafficMirrorFilters[1].TrafficMirrorFilterId",
        mentions: #""tmf-1" is already declared at TrafficMirrorFilters[0]"#
    ),
    BadFile(
        "duplicate target id",
        d.make(targets: [d.target, d.target]),
        path: "TrafficMirrorTargets[1].TrafficMirrorTargetId",
        mentions: #""tmt-1" is already declared at TrafficMirrorTargets[0]"#
    ),
    BadFile(
        "duplicate interface id",
        d.make(interfaces: [d.interface, d.interface]),
        path: "NetworkInterfaces[1].NetworkInterfaceId",
        mentions: #""eni-1" is already declared at NetworkInterfaces[0]"#
    ),
    BadFile(
        "duplicate session id",
        d.make(sessions: [d.session("tms-1", number: 1), d.session("tms-1", number: 2)]),
        path: "TrafficMirrorSessions[1].TrafficMirrorSessionId",
        mentions: #""tms-1" is already declared at TrafficMirrorSessions[0]"#
    ),
    BadFile(
        "duplicate session number on one interface",
        d.make(sessions: [d.session("tms-1", number: 5), d.session("tms-2", number: 5)]),
        path: "TrafficMirrorSessions[1].SessionNumber",
        mentions: #"5 is already used by TrafficMirrorSessions[0] on network interface "eni-1""#
    ),
    BadFile(
        "4 sessions on one interface",
        d.make(sessions: (1...4).map { d.session("tms-\($0)", number: $0) }),
        path: "TrafficMirrorSessions[3].NetworkInterfaceId",
        mentions: "AWS allows 3 per network interface"
    ),
    BadFile(
        "11 rules in one filter",
        d.make(filters: [d.filter(ingress: (1...6).map { d.rule($0) }, egress: (1...5).map { d.rule($0) })]),
        path: "TrafficMirrorFilters[0]",
        mentions: "has 11 rules; AWS allows 10 per filter, ingress and egress together"
    ),
]

extension String {
    /// Swaps the `"SessionNumber": 1` of `Doc.session(number: 1)` for another literal.
    fileprivate func replacingSessionNumber(_ literal: String) -> String {
        self.replacingOccurrences(#""SessionNumber": 1"#, #""SessionNumber": \#(literal)"#)
    }

    /// Foundation-free replace-all.
    func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        self.split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

@Suite("SessionsFile rejects")
struct SessionsFileRejectsTests {
    @Test(arguments: syntaxErrors + shapeErrors + missingFields + rangeErrors + valueErrors + referenceErrors)
    func reportsExactlyOneProblem(_ bad: BadFile) {
        let found = problems(bad.json, relaxed: bad.relaxed)
        #expect(found.count == 1, "\(found)")
        guard let problem = found.first else { return }
        #expect(problem.fileName == "sessions.json")
        #expect(problem.path == bad.path)
        #expect(problem.message.contains(bad.mentions), "\(problem.message)")
        #expect(problem.description.hasPrefix(bad.path.isEmpty ? "sessions.json: " : "sessions.json: \(bad.path): "))
    }

    @Test func caseCount() {
        let all = syntaxErrors + shapeErrors + missingFields + rangeErrors + valueErrors + referenceErrors
        #expect(all.count >= 30)
        #expect(Set(all.map(\.name)).count == all.count, "case names are unique")
    }

    @Test func quotasCanBeRelaxed() {
        let fourSessions = Doc.make(sessions: (1...4).map { Doc.session("tms-\($0)", number: $0) })
        let elevenRules = Doc.make(
            filters: [Doc.filter(ingress: (1...6).map { Doc.rule($0) }, egress: (1...5).map { Doc.rule($0) })]
        )
        let longPackets = Doc.make(sessions: [Doc.session("tms-1", #""PacketLength": 9001"#)])
        for json in [fourSessions, elevenRules, longPackets] {
            #expect(problems(json).count == 1)
            #expect(problems(json, relaxed: true).isEmpty)
        }
        guard case .success(let configuration) = load(longPackets, relaxed: true) else {
            Issue.record("did not load")
            return
        }
        #expect(configuration.trafficMirrorSessions.first?.packetLength == 9001)
    }

    @Test func theSameRuleNumberIsFineInTheOtherDirection() {
        let json = Doc.make(filters: [Doc.filter(ingress: [Doc.rule(100)], egress: [Doc.rule(100)])])
        #expect(problems(json).isEmpty)
    }

    @Test func reportsEveryProblemInFileOrder() {
        let json = Doc.make(
            interfaces: [#"{"NetworkInterfaceId": "eni-1", "MacAddress": "zz"}"#],
            filters: [Doc.filter(ingress: [Doc.rule(0), Doc.rule(1, #""Protocol": 300"#)])],
            targets: [#"{"TrafficMirrorTargetId": "tmt-1", "Endpoints": ["10.0.0.9:99999"]}"#],
            sessions: [Doc.session("tms-1", number: 40000, #""SamplingPercent": -1, "Colour": "red""#)]
        )
        let found = problems(json)
        #expect(
            found.map(\.path) == [
                "NetworkInterfaces[0].MacAddress",
                "TrafficMirrorFilters[0].IngressFilterRules[0].RuleNumber",
                "TrafficMirrorFilters[0].IngressFilterRules[1].Protocol",
                "TrafficMirrorTargets[0].Endpoints[0]",
                "TrafficMirrorSessions[0].Colour",
                "TrafficMirrorSessions[0].SessionNumber",
                "TrafficMirrorSessions[0].SamplingPercent",
            ]
        )
        #expect(found.map(\.value) == [#""zz""#, "0", "300", #""10.0.0.9:99999""#, nil, "40000", "-1"])
    }

    @Test func doesNotCascadeFromABrokenFilterOrTarget() {
        // The filter and target have errors, but their ids are good: sessions that use them are not blamed.
        let json = Doc.make(
            filters: [Doc.filter(ingress: [Doc.rule(0)])],
            targets: [#"{"TrafficMirrorTargetId": "tmt-1", "Type": "network-load-balancer", "Endpoints": ["x"]}"#]
        )
        #expect(
            problems(json).map(\.path) == [
                "TrafficMirrorFilters[0].IngressFilterRules[0].RuleNumber", "TrafficMirrorTargets[0].Endpoints[0]",
            ]
        )
    }

    @Test func errorDescriptionHasOneLinePerProblem() {
        let json = Doc.make(filters: [Doc.filter(ingress: [#"{"RuleNumber": 3, "RuleAction": "accept", "SourceCidrBlock": "0.0.0.0/0", "DestinationCidrBlock": "10.0.0/8"}"#])], more: #""SamplingSeed": 1.5"#)
        guard case .failure(let error) = load(json) else {
            Issue.record("loaded")
            return
        }
        #expect(
            error.description == """
                sessions.json: TrafficMirrorFilters[0].IngressFilterRules[0].DestinationCidrBlock: "10.0.0/8" is not a CIDR
                sessions.json: SamplingSeed: 1.5 is not an integer
                """
        )
        #expect(error.problems[0].value == #""10.0.0/8""#)
    }

    @Test func syntaxErrorDescription() {
        guard case .failure(let error) = load("{\n  \"NextToken\": \"x\"\n  \"SamplingSeed\": 1\n}") else {
            Issue.record("loaded")
            return
        }
        #expect(
            error.description
                == "sessions.json: byte 23 (line 3, column 3): expected ',' or '}' after an object member, found '\"'"
        )
        #expect(error.problems[0].path == "")
        #expect(error.problems[0].value == nil)
    }

    @Test func longValuesAreCutInMessages() {
        let long = String(repeating: "x", count: 500)
        let found = problems(Doc.make(interfaces: [#"{"NetworkInterfaceId": "eni-1", "MacAddress": "\#(long)"}"#]))
        #expect(found.count == 1)
        #expect(found.first?.value?.hasSuffix("…") == true)
        #expect((found.first?.message.count ?? 0) < 150)
    }

    @Test func wrongTypeInsideAnIgnoredFieldIsNotInspected() {
        let json = Doc.make(
            interfaces: [#"{"NetworkInterfaceId": "eni-1", "InterfaceName": "eth0", "TagSet": 7, "Groups": {"odd": [null]}}"#],
            targets: [#"{"TrafficMirrorTargetId": "tmt-1", "Endpoints": ["10.0.0.9"], "Tags": "not a list", "Description": 4}"#]
        )
        #expect(problems(json).isEmpty)
    }
}

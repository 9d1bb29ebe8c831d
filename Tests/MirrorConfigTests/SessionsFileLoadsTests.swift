// vpcmirror: sessions files that load, and the exact values they load to.
import MirrorConfig
import MirrorFilter
import MirrorWire
import Testing

private func ip(_ text: String) -> IPAddress { IPAddress(text)! }
private func cidr(_ text: String) -> CIDRBlock { CIDRBlock(text)! }

private func loaded(_ json: String, sourceLocation: SourceLocation = #_sourceLocation) -> MirrorConfiguration? {
    switch load(json) {
    case .success(let configuration):
        return configuration
    case .failure(let error):
        Issue.record("did not load:\n\(error)", sourceLocation: sourceLocation)
        return nil
    }
}

@Suite("SessionsFile loads")
struct SessionsFileLoadsTests {
    @Test func theExampleFile() {
        guard let configuration = loaded(Doc.example) else { return }
        let anywhere = cidr("0.0.0.0/0")
        let http = TrafficMirrorPortRange(fromPort: 80, toPort: 80)
        let expected = MirrorConfiguration(
            trafficMirrorFilters: [
                TrafficMirrorFilter(
                    trafficMirrorFilterId: "tmf-0123456789abcdef0",
                    ingressFilterRules: [
                        TrafficMirrorFilterRule(
                            ruleNumber: 100, ruleAction: .accept, protocol: .tcp,
                            sourceCidrBlock: anywhere, destinationCidrBlock: anywhere, destinationPortRange: http
                        )
                    ],
                    egressFilterRules: [
                        TrafficMirrorFilterRule(
                            ruleNumber: 100, ruleAction: .accept, protocol: .tcp,
                            sourceCidrBlock: anywhere, destinationCidrBlock: anywhere, sourcePortRange: http
                        )
                    ],
                    networkServices: [],
                    description: "HTTP both ways"
                )
            ],
            trafficMirrorTargets: [
                TrafficMirrorTarget(
                    trafficMirrorTargetId: "tmt-0123456789abcdef0",
                    type: .networkInterface,
                    endpoints: [TrafficMirrorEndpoint(address: ip("127.0.0.1"), port: 4789)]
                )
            ],
            networkInterfaces: [
                NetworkInterface(
                    networkInterfaceId: "eni-0a1b2c3d4e5f60001",
                    macAddress: .zero,
                    addresses: [ip("10.0.0.5")],
                    interfaceName: "eth0"
                )
            ],
            trafficMirrorSessions: [
                TrafficMirrorSession(
                    trafficMirrorSessionId: "tms-0123456789abcdef0",
                    networkInterfaceId: "eni-0a1b2c3d4e5f60001",
                    trafficMirrorTargetId: "tmt-0123456789abcdef0",
                    trafficMirrorFilterId: "tmf-0123456789abcdef0",
                    sessionNumber: 1,
                    // FNV-1a-32("tms-0123456789abcdef0") = 0xD593E686; the low 24 bits are 0x93E686.
                    virtualNetworkId: 0x93_E686,
                    packetLength: nil,
                    samplingPercent: 100
                )
            ],
            neverMirrored: NeverMirroredServices(),
            samplingSeed: 0
        )
        #expect(configuration == expected)
        #expect(configuration.trafficMirrorSessions.first?.virtualNetworkId == 9_692_806)
    }

    @Test func anEmptyObjectIsAnEmptyConfiguration() {
        #expect(loaded("{}") == MirrorConfiguration())
        #expect(loaded(#"{"NextToken": null, "TrafficMirrorSessions": []}"#) == MirrorConfiguration())
    }

    @Test func rulesAreSortedAndDefaultsApplied() {
        let json = Doc.make(
            filters: [
                Doc.filter(
                    ingress: [Doc.rule(300), Doc.rule(100, #""Protocol": 0"#), Doc.rule(200, #""Protocol": 17, "DestinationPortRange": {"FromPort": 53, "ToPort": 53}"#)],
                    egress: [Doc.rule(7, #""Protocol": 6, "SourcePortRange": {"FromPort": 0, "ToPort": 65535}"#)]
                )
            ]
        )
        guard let filter = loaded(json)?.trafficMirrorFilters.first else { return }
        #expect(filter.ingressFilterRules.map(\.ruleNumber) == [100, 200, 300])
        #expect(filter.ingressFilterRules.map(\.protocol) == [nil, .udp, nil])
        #expect(filter.ingressFilterRules[1].destinationPortRange == TrafficMirrorPortRange(fromPort: 53, toPort: 53))
        #expect(filter.ingressFilterRules[1].sourcePortRange == nil)
        #expect(filter.egressFilterRules.first?.sourcePortRange == TrafficMirrorPortRange(fromPort: 0, toPort: 65535))
        #expect(filter.networkServices.isEmpty)

        guard let session = loaded(Doc.make())?.trafficMirrorSessions.first else { return }
        #expect(session.packetLength == nil)
        #expect(session.samplingPercent == 100)
    }

    @Test func packetLengthDefaultsTo8500ForNetworkLoadBalancers() {
        let targets = [
            #"{"TrafficMirrorTargetId": "tmt-1", "Type": "network-load-balancer", "Endpoints": ["10.0.0.9"]}"#,
            #"{"TrafficMirrorTargetId": "tmt-2", "NetworkLoadBalancerArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/mirror/0123456789abcdef", "Endpoints": ["10.0.0.10"]}"#,
            #"{"TrafficMirrorTargetId": "tmt-3", "GatewayLoadBalancerEndpointId": "vpce-0123456789abcdef0", "Endpoints": ["10.0.0.11"]}"#,
            #"{"TrafficMirrorTargetId": "tmt-4", "NetworkInterfaceId": "eni-0fedcba9876543210", "Endpoints": ["10.0.0.12"]}"#,
        ]
        let sessions = [
            Doc.session("tms-1", number: 1),
            Doc.session("tms-2", number: 2).replacingOccurrences("tmt-1", "tmt-2"),
            Doc.session("tms-3", number: 3).replacingOccurrences("tmt-1", "tmt-3"),
            Doc.session("tms-4", interface: "eni-2", number: 1, #""PacketLength": 128"#),
            Doc.session("tms-5", interface: "eni-2", number: 2).replacingOccurrences("tmt-1", "tmt-4"),
        ]
        let interfaces = [Doc.interface, #"{"NetworkInterfaceId": "eni-2", "InterfaceName": "ens5"}"#]
        guard let configuration = loaded(Doc.make(interfaces: interfaces, targets: targets, sessions: sessions)) else {
            return
        }
        #expect(
            configuration.trafficMirrorTargets.map(\.type) == [
                .networkLoadBalancer, .networkLoadBalancer, .gatewayLoadBalancerEndpoint, .networkInterface,
            ]
        )
        #expect(configuration.trafficMirrorSessions.map(\.packetLength) == [8500, 8500, nil, 128, nil])
    }

    @Test func derivedVNIsAreFNV1aAndUnique() {
        // FNV-1a-32, low 24 bits: "tms-1" -> 0xC01BE9 = 12590057, "tms-2" -> 0xC01730 = 12588848,
        // "tms-3" -> 0xC018C3 = 12589251, "tms-602c46" -> 0xC01BE9 (collides with "tms-1"),
        // "tms-b59b1c" -> 0x000000 (0 is never used).
        let interfaces = [Doc.interface, #"{"NetworkInterfaceId": "eni-2", "InterfaceName": "ens6"}"#]
        let sessions = [
            Doc.session("tms-1", number: 1),
            Doc.session("tms-2", number: 2),
            Doc.session("tms-602c46", number: 3),
            Doc.session("tms-b59b1c", interface: "eni-2", number: 1),
            // An explicit VNI later in the file still counts as used: it pushes "tms-2" to 12588849.
            Doc.session("tms-explicit", interface: "eni-2", number: 2, #""VirtualNetworkId": 12588848"#),
            // Explicit VNIs may repeat, as on AWS.
            Doc.session("tms-3", interface: "eni-2", number: 3, #""VirtualNetworkId": 12588848"#),
        ]
        let json = Doc.make(interfaces: interfaces, sessions: sessions)
        guard let first = loaded(json), let second = loaded(json) else { return }
        #expect(
            first.trafficMirrorSessions.map(\.virtualNetworkId) == [
                12_590_057, 12_588_849, 12_590_058, 1, 12_588_848, 12_588_848,
            ]
        )
        #expect(first == second, "the same file gives the same VNIs every time")

        let alone = Doc.make(sessions: [Doc.session("tms-2", number: 1), Doc.session("tms-3", number: 2)])
        #expect(loaded(alone)?.trafficMirrorSessions.map(\.virtualNetworkId) == [12_588_848, 12_589_251])

        // 0 is skipped, and so is an explicit 1.
        let zero = Doc.make(sessions: [
            Doc.session("tms-one", number: 1, #""VirtualNetworkId": 1"#), Doc.session("tms-b59b1c", number: 2),
        ])
        #expect(loaded(zero)?.trafficMirrorSessions.map(\.virtualNetworkId) == [1, 2])
    }

    @Test func extensionsAndTheirDefaults() {
        let json = Doc.make(
            sessions: [Doc.session("tms-1", #""VirtualNetworkId": 0, "SamplingPercent": 12.5, "Description": "web"#
                + #" tier""#)],
            more: #""AmazonDnsAddresses": ["10.0.0.2", "169.254.169.253", "10.0.0.2", "fd00:ec2::253"], "#
                + #""LinkLocalServiceAddresses": [], "SamplingSeed": 18446744073709551615"#
        )
        guard let configuration = loaded(json) else { return }
        #expect(
            configuration.neverMirrored.amazonDNSAddresses == [ip("10.0.0.2"), ip("169.254.169.253"), ip("fd00:ec2::253")]
        )
        #expect(configuration.neverMirrored.linkLocalServiceAddresses == [])
        #expect(configuration.samplingSeed == UInt64.max)
        let session = configuration.trafficMirrorSessions.first
        #expect(session?.virtualNetworkId == 0)
        #expect(session?.samplingPercent == 12.5)
        #expect(session?.description == "web tier")

        guard let defaults = loaded(Doc.make()) else { return }
        #expect(defaults.neverMirrored == NeverMirroredServices())
        #expect(defaults.samplingSeed == 0)
    }

    @Test func endpointForms() {
        let target = #"{"TrafficMirrorTargetId": "tmt-1", "Endpoints": ["[fd00::1]:4790", "fd00::2", "10.0.0.1", "10.0.0.1:6081", "[fd00::3]"]}"#
        guard let configuration = loaded(Doc.make(targets: [target])) else { return }
        #expect(
            configuration.trafficMirrorTargets.first?.endpoints == [
                TrafficMirrorEndpoint(address: ip("fd00::1"), port: 4790),
                TrafficMirrorEndpoint(address: ip("fd00::2"), port: 4789),
                TrafficMirrorEndpoint(address: ip("10.0.0.1"), port: 4789),
                TrafficMirrorEndpoint(address: ip("10.0.0.1"), port: 6081),
                TrafficMirrorEndpoint(address: ip("fd00::3"), port: 4789),
            ]
        )
    }

    @Test func amazonDNSServiceAndIPv6Rules() {
        let rule = #"{"RuleNumber": 1, "RuleAction": "reject", "SourceCidrBlock": "fd00::/8", "DestinationCidrBlock": "::/0", "Protocol": 58}"#
        let json = Doc.make(filters: [Doc.filter(ingress: [rule], more: #""NetworkServices": ["amazon-dns"]"#)])
        guard let filter = loaded(json)?.trafficMirrorFilters.first else { return }
        #expect(filter.networkServices == [.amazonDNS])
        #expect(filter.ingressFilterRules.first?.ruleAction == .reject)
        #expect(filter.ingressFilterRules.first?.protocol == .icmpv6)
        #expect(filter.ingressFilterRules.first?.sourceCidrBlock == cidr("fd00::/8"))
    }

    /// The four `aws ec2 describe-*` outputs merged with `jq -s add`, with every AWS field they print.
    static let awsOutputs = #"""
        {
          "TrafficMirrorFilters": [
            {
              "TrafficMirrorFilterId": "tmf-0a1b2c3d4e5f67890",
              "IngressFilterRules": [
                {
                  "TrafficMirrorFilterRuleId": "tmfr-0123456789abcdef1",
                  "TrafficMirrorFilterId": "tmf-0a1b2c3d4e5f67890",
                  "TrafficDirection": "ingress",
                  "RuleNumber": 200,
                  "RuleAction": "accept",
                  "Protocol": 6,
                  "DestinationPortRange": {"FromPort": 443, "ToPort": 443},
                  "DestinationCidrBlock": "10.0.0.0/16",
                  "SourceCidrBlock": "0.0.0.0/0",
                  "Description": "HTTPS in"
                },
                {
                  "TrafficMirrorFilterRuleId": "tmfr-0123456789abcdef2",
                  "TrafficMirrorFilterId": "tmf-0a1b2c3d4e5f67890",
                  "TrafficDirection": "ingress",
                  "RuleNumber": 100,
                  "RuleAction": "reject",
                  "DestinationCidrBlock": "0.0.0.0/0",
                  "SourceCidrBlock": "10.0.0.0/16",
                  "Tags": []
                }
              ],
              "EgressFilterRules": [
                {
                  "TrafficMirrorFilterRuleId": "tmfr-0123456789abcdef3",
                  "TrafficMirrorFilterId": "tmf-0a1b2c3d4e5f67890",
                  "TrafficDirection": "egress",
                  "RuleNumber": 100,
                  "RuleAction": "accept",
                  "Protocol": 17,
                  "SourcePortRange": {"FromPort": 1024, "ToPort": 65535},
                  "DestinationCidrBlock": "::/0",
                  "SourceCidrBlock": "::/0"
                }
              ],
              "NetworkServices": ["amazon-dns"],
              "Description": "web tier",
              "Tags": [{"Key": "Name", "Value": "web-mirror"}]
            }
          ],
          "TrafficMirrorTargets": [
            {
              "TrafficMirrorTargetId": "tmt-0fedcba9876543210",
              "NetworkInterfaceId": "eni-0123456789abcdef9",
              "Type": "network-interface",
              "Description": "collector",
              "OwnerId": "123456789012",
              "Tags": [],
              "Endpoints": ["10.0.2.50:4789"]
            }
          ],
          "TrafficMirrorSessions": [
            {
              "TrafficMirrorSessionId": "tms-0aa11bb22cc33dd44",
              "TrafficMirrorTargetId": "tmt-0fedcba9876543210",
              "TrafficMirrorFilterId": "tmf-0a1b2c3d4e5f67890",
              "NetworkInterfaceId": "eni-0abcdef1234567890",
              "OwnerId": "123456789012",
              "PacketLength": 1500,
              "SessionNumber": 1,
              "VirtualNetworkId": 4242,
              "Description": "web-1",
              "Tags": [{"Key": "team", "Value": "net"}]
            }
          ],
          "NetworkInterfaces": [
            {
              "Association": {
                "IpOwnerId": "amazon",
                "PublicDnsName": "ec2-52-54-62-169.compute-1.amazonaws.com",
                "PublicIp": "52.54.62.169"
              },
              "Attachment": {
                "AttachTime": "2024-10-06T13:52:49+00:00",
                "AttachmentId": "eni-attach-0123456789abcdef0",
                "DeleteOnTermination": true,
                "DeviceIndex": 0,
                "NetworkCardIndex": 0,
                "InstanceId": "i-0123456789abcdef0",
                "InstanceOwnerId": "123456789012",
                "Status": "attached"
              },
              "AvailabilityZone": "us-east-1a",
              "AvailabilityZoneId": "use1-az4",
              "ConnectionTrackingConfiguration": {"TcpEstablishedTimeout": 432000, "UdpStreamTimeout": 180, "UdpTimeout": 30},
              "Description": "Primary network interface",
              "Groups": [{"GroupName": "web", "GroupId": "sg-0123456789abcdef0"}],
              "InterfaceType": "interface",
              "Ipv6Addresses": [{"Ipv6Address": "2600:1f18:1234:5600::1", "IsPrimaryIpv6": false}],
              "MacAddress": "0e:aa:bb:cc:dd:ee",
              "NetworkInterfaceId": "eni-0abcdef1234567890",
              "OwnerId": "123456789012",
              "PrivateDnsName": "ip-10-0-1-23.ec2.internal",
              "PrivateIpAddress": "10.0.1.23",
              "PrivateIpAddresses": [
                {
                  "Association": {"IpOwnerId": "amazon", "PublicDnsName": "ec2-52-54-62-169.compute-1.amazonaws.com", "PublicIp": "52.54.62.169"},
                  "Primary": true,
                  "PrivateDnsName": "ip-10-0-1-23.ec2.internal",
                  "PrivateIpAddress": "10.0.1.23"
                },
                {"Primary": false, "PrivateDnsName": "ip-10-0-1-24.ec2.internal", "PrivateIpAddress": "10.0.1.24"}
              ],
              "Ipv4Prefixes": [],
              "Ipv6Prefixes": [],
              "RequesterId": "AIDAEXAMPLE",
              "RequesterManaged": false,
              "SourceDestCheck": true,
              "Status": "in-use",
              "SubnetId": "subnet-0123456789abcdef0",
              "TagSet": [{"Key": "Name", "Value": "web-1"}],
              "VpcId": "vpc-0123456789abcdef0",
              "DenyAllIgwTraffic": false,
              "Ipv6Native": false,
              "Ipv6Address": "2600:1f18:1234:5600::1",
              "Operator": {"Managed": false},
              "PublicIpDnsNameOptions": {"HostnameType": "ip-name", "PublicIpv4DnsName": "ec2-52-54-62-169.compute-1.amazonaws.com"},
              "AssociatedSubnets": [],
              "OutpostArn": "arn:aws:outposts:us-east-1:123456789012:outpost/op-0123456789abcdef0",
              "PublicDnsName": "ec2-52-54-62-169.compute-1.amazonaws.com"
            }
          ],
          "NextToken": null
        }
        """#

    @Test func theAWSOutputsWithAllTheirFields() {
        guard let configuration = loaded(Self.awsOutputs) else { return }
        let interface = configuration.networkInterfaces.first
        #expect(interface?.networkInterfaceId == "eni-0abcdef1234567890")
        #expect(interface?.macAddress == MACAddress("0e:aa:bb:cc:dd:ee"))
        // PrivateIpAddress first, then the lists in file order, without repeats.
        #expect(interface?.addresses == [ip("10.0.1.23"), ip("2600:1f18:1234:5600::1"), ip("10.0.1.24")])
        #expect(interface?.interfaceName == nil)
        #expect(interface?.description == "Primary network interface")

        let filter = configuration.trafficMirrorFilters.first
        #expect(filter?.ingressFilterRules.map(\.ruleNumber) == [100, 200])
        #expect(filter?.ingressFilterRules.map(\.trafficMirrorFilterRuleId) == ["tmfr-0123456789abcdef2", "tmfr-0123456789abcdef1"])
        #expect(filter?.ingressFilterRules.last?.description == "HTTPS in")
        #expect(filter?.egressFilterRules.first?.sourceCidrBlock == cidr("::/0"))
        #expect(filter?.networkServices == [.amazonDNS])
        #expect(filter?.description == "web tier")

        #expect(configuration.trafficMirrorTargets.first?.description == "collector")
        let session = configuration.trafficMirrorSessions.first
        #expect(session?.virtualNetworkId == 4242)
        #expect(session?.packetLength == 1500)
        #expect(session?.description == "web-1")
    }
}

// vpcmirror end-to-end: `interfaces` agrees with iproute2, and `attach` refuses what it cannot capture with exit
// status 2 and a message naming the field (issue 4). The live path itself runs in scripts/attach-e2e.sh, which
// needs network namespaces.
import Foundation
import MirrorTestSupport
import Testing

@Suite("interfaces and attach")
struct AttachTests {
    /// `ip -j addr`: name, index, MTU, MAC and addresses of every link, as iproute2 reads them from netlink.
    static func iproute2() throws -> [String: (index: Int, mtu: Int, mac: String?, addresses: Set<String>)] {
        let result = try ToolRunner.run("ip", ["-j", "addr"], timeout: .seconds(10))
        guard result.exitStatus == 0,
            let links = try JSONSerialization.jsonObject(with: Data(result.standardOutputText.utf8)) as? [[String: Any]]
        else { throw TemporaryDirectory.Missing(description: "ip -j addr failed: \(result.standardErrorText)") }
        var out: [String: (Int, Int, String?, Set<String>)] = [:]
        for l in links {
            let addresses = ((l["addr_info"] as? [[String: Any]]) ?? []).compactMap { a -> String? in
                guard let local = a["local"] as? String, let prefix = a["prefixlen"] as? Int else { return nil }
                return "\(local)/\(prefix)"
            }
            out[l["ifname"] as! String] = (l["ifindex"] as! Int, l["mtu"] as! Int, l["address"] as? String, Set(addresses))
        }
        return out
    }

    @Test("interfaces --json lists what iproute2 lists")
    func interfacesAgreeWithIproute2() throws {
        let run = try VPCMirror.run(["interfaces", "--json"], timeout: .seconds(30))
        #expect(run.exitStatus == 0, "\(run.standardError)")
        let ours = try #require(try JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [[String: Any]])
        let theirs = try Self.iproute2()
        #expect(Set(ours.map { $0["name"] as! String }) == Set(theirs.keys))
        for i in ours {
            let name = i["name"] as! String
            guard let t = theirs[name] else { continue }
            #expect(i["index"] as? Int == t.index, "\(name)")
            #expect(i["mtu"] as? Int == t.mtu, "\(name)")
            if let mac = t.mac, mac.count == 17 { #expect(i["mac_address"] as? String == mac, "\(name)") }
            #expect(Set((i["addresses"] as? [String]) ?? []) == t.addresses, "\(name)")
        }
        #expect(ours.contains { $0["name"] as? String == "lo" && (($0["addresses"] as? [String]) ?? []).contains("127.0.0.1/8") })
    }

    @Test("attach to an interface that does not exist")
    func missingInterface() throws {
        let directory = try TemporaryDirectory("attach-missing")
        defer { directory.remove() }
        var config = BadInputTests.validSessions(endpoint: "127.0.0.1:9")
        config.interfaces[0].interfaceName = "vpcm-nosuch0"
        let sessions = try directory.write("sessions.json", config.json)
        let run = try VPCMirror.run(["attach", "--sessions", sessions.path, "--duration", "1"], timeout: .seconds(30))
        #expect(run.exitStatus == 2)
        #expect(run.standardError.contains("NetworkInterfaces[0].InterfaceName: \"vpcm-nosuch0\" is not an interface on this host"),
                "\(run.standardError)")
        #expect(run.standardError.contains("lo"), "the message lists the interfaces there are")
    }

    @Test("attach with no InterfaceName to capture on")
    func noInterfaceName() throws {
        let directory = try TemporaryDirectory("attach-unnamed")
        defer { directory.remove() }
        let sessions = try directory.write("sessions.json", BadInputTests.validSessions(endpoint: "127.0.0.1:9").json)
        let run = try VPCMirror.run(["attach", "--sessions", sessions.path, "--duration", "1"], timeout: .seconds(30))
        #expect(run.exitStatus == 2)
        #expect(run.standardError.contains("no NetworkInterfaces entry that a session mirrors has an InterfaceName"), "\(run.standardError)")
    }

    @Test("attach with an invalid sessions file names the field")
    func invalidSessions() throws {
        let directory = try TemporaryDirectory("attach-invalid")
        defer { directory.remove() }
        var config = BadInputTests.validSessions(endpoint: "127.0.0.1:9")
        config.sessions[0].number = 0
        let sessions = try directory.write("sessions.json", config.json)
        let run = try VPCMirror.run(["attach", "--sessions", sessions.path, "--duration", "1"], timeout: .seconds(30))
        #expect(run.exitStatus == 2)
        #expect(run.standardError.contains("TrafficMirrorSessions[0].SessionNumber"), "\(run.standardError)")
    }
}

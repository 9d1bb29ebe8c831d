// vpcmirror: `collect --read` finds the HTTP messages tshark finds, connection by connection, on every fixture.
import Foundation
import MirrorTestSupport
import Testing

/// One connection, both directions, as a canonical pair of endpoints.
struct ConnectionName: Hashable, CustomStringConvertible {
    var a: String
    var b: String
    init(_ x: String, _ y: String) { (self.a, self.b) = x < y ? (x, y) : (y, x) }
    var description: String { "\(a) ↔ \(b)" }
}

/// What one side found in one connection: requests as "METHOD target", responses as status codes (1xx included).
struct Found: Equatable {
    var requests: [String] = []
    var responses: [Int] = []
}

@Suite(.serialized) struct CollectAgreesWithTsharkTests {
    /// Files where we deliberately differ from tshark, and why (docs/collector.md says the same).
    static let tsharkArguments: [String: [String]] = [
        // tshark decides HTTP by port; the GET here goes to port 22.
        "pcap-nanosec-http-to-ssh-port.pcap": ["-d", "tcp.port==22,http"],
    ]
    /// tshark merges copies that differ only by VLAN or VNI into one conversation; we keep them apart, so each
    /// of tshark's messages appears once per copy.
    static let copies: [String: Int] = [
        "http-vlan-qinq-same-flow-3x.pcap": 3,
        "vxlan-http-same-flow-2vni-plus-plain.pcap": 3,
    ]

    static func tsharkFound(_ path: String, fixture: String) throws -> [ConnectionName: Found] {
        let rows = try Tshark.fields(
            file: path,
            fields: ["ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst", "tcp.dstport",
                     "http.request.method", "http.request.uri", "http.response.code"],
            // Several messages in one frame come back joined; join with a unit separator, since URIs hold commas.
            displayFilter: "http", extraArgs: ["-E", "aggregator=\u{1F}"] + (self.tsharkArguments[fixture] ?? []))
        var found: [ConnectionName: Found] = [:]
        let separator: Character = "\u{1F}"
        let last = { (s: String) in s.split(separator: separator).last.map(String.init) ?? "" }
        for r in rows {
            let src = last(r[0]).isEmpty ? "[\(last(r[1]))]" : last(r[0])
            let dst = last(r[3]).isEmpty ? "[\(last(r[4]))]" : last(r[3])
            let name = ConnectionName("\(src):\(last(r[2]))", "\(dst):\(last(r[5]))")
            let methods = r[6].split(separator: separator).map(String.init)
            let uris = r[7].split(separator: separator, omittingEmptySubsequences: false).map(String.init)
            for (i, m) in methods.enumerated() { found[name, default: Found()].requests.append("\(m) \(i < uris.count ? uris[i] : "")") }
            for c in r[8].split(separator: separator) { if let code = Int(c) { found[name, default: Found()].responses.append(code) } }
        }
        return found
    }

    struct Ours {
        var found: [ConnectionName: Found] = [:]
        /// Messages in flagged exchanges (gaps, no_request, …): allowed where tshark saw nothing.
        var flagged: [ConnectionName: Found] = [:]
        var lines = 0
    }

    static func ours(_ output: String) throws -> Ours {
        var o = Ours()
        for line in output.split(separator: "\n") where !line.isEmpty {
            o.lines += 1
            let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            func endpoint(_ k: String) -> String {
                let e = json[k] as? [String: Any] ?? [:]
                let ip = e["ip"] as? String ?? "?"
                return "\(ip.contains(":") ? "[\(ip)]" : ip):\(e["port"] as? Int ?? -1)"
            }
            let name = ConnectionName(endpoint("client"), endpoint("server"))
            let http = json["http"] as? [String: Any] ?? [:]
            let request = http["request"] as? [String: Any]
            let response = http["response"] as? [String: Any]
            let url = json["url"] as? [String: Any]
            let mirror = json["mirror"] as? [String: Any] ?? [:]
            let flags = mirror["flags"] as? [String] ?? []
            var f = Found()
            if let m = request?["method"] as? String { f.requests.append("\(m) \(url?["original"] as? String ?? "")") }
            f.responses += mirror["interim_status_codes"] as? [Int] ?? []
            if let c = response?["status_code"] as? Int { f.responses.append(c) }
            let clean = flags.allSatisfy { ["chunked", "close_delimited", "midstream", "upgrade"].contains($0) }
            if clean {
                o.found[name, default: Found()].requests += f.requests
                o.found[name, default: Found()].responses += f.responses
            } else {
                o.flagged[name, default: Found()].requests += f.requests
                o.flagged[name, default: Found()].responses += f.responses
            }
        }
        return o
    }

    @Test(arguments: Fixtures.all)
    func findsWhatTsharkFinds(fixture: String) throws {
        guard Tshark.path != nil else {
            if ToolRunner.toolsRequired { Issue.record("tshark is required (VPCMIRROR_REQUIRE_TOOLS=1)") }
            return
        }
        let path = Fixtures.path(fixture)
        let run = try VPCMirror.run(["collect", "--read", path, "--output", "-"], timeout: .seconds(120))
        #expect(run.exitStatus == 0, "\(fixture): \(run.standardError)")
        let ours = try Self.ours(run.standardOutput)
        let theirs = try Self.tsharkFound(path, fixture: fixture)
        let copies = Self.copies[fixture] ?? 1
        for (name, t) in theirs {
            let clean = ours.found[name] ?? Found()
            let flagged = ours.flagged[name] ?? Found()
            // Every request and response tshark decodes is in our output for the same connection (as many times
            // as there are copies of the connection).
            for r in Set(t.requests) {
                let want = t.requests.filter { $0 == r }.count * copies
                let have = (clean.requests + flagged.requests).filter { $0 == r }.count
                #expect(have >= want, "\(fixture) \(name): tshark finds \(want)× \(r), we \(have)×")
            }
            for c in Set(t.responses) {
                let want = t.responses.filter { $0 == c }.count * copies
                let have = (clean.responses + flagged.responses).filter { $0 == c }.count
                #expect(have >= want, "\(fixture) \(name): tshark finds \(want)× status \(c), we \(have)×")
            }
            // What we find beyond tshark must be flagged: unflagged exchanges match tshark's count exactly.
            #expect(clean.requests.count <= t.requests.count * copies, "\(fixture) \(name): \(clean.requests.count) unflagged requests, tshark \(t.requests.count)")
        }
        for (name, o) in ours.found where theirs[name] == nil {
            #expect(o.requests.isEmpty && o.responses.isEmpty, "\(fixture) \(name): unflagged exchanges tshark does not see: \(o)")
        }
        print("\(fixture): tshark \(theirs.values.reduce(0) { $0 + $1.requests.count }) requests / \(theirs.values.reduce(0) { $0 + $1.responses.count }) responses; ours \(ours.lines) exchanges (\(ours.flagged.values.reduce(0) { $0 + $1.requests.count }) flagged requests)")
    }
}

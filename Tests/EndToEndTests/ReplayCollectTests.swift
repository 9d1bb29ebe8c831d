// vpcmirror: replay → collect over loopback gives the transactions collect --read finds in the original file.
import Foundation
import MirrorTestSupport
import Testing

/// A running `vpcmirror collect --listen`, stopped with SIGINT (which writes the open exchanges).
final class CollectorProcess {
    let process = Process()
    let output: URL
    let errors: URL

    init(port: UInt16, directory: TemporaryDirectory, extra: [String] = []) throws {
        self.output = directory.file("collected-\(port).json")
        self.errors = directory.file("collect-\(port).err")
        _ = FileManager.default.createFile(atPath: self.errors.path, contents: nil)
        self.process.executableURL = URL(fileURLWithPath: try #require(VPCMirrorBinary.path, "vpcmirror not built"))
        // --duration bounds the run even if the test fails before stopping it.
        self.process.arguments = ["collect", "--listen", "127.0.0.1:\(port)", "--output", self.output.path, "--duration", "60"] + extra
        self.process.standardError = try FileHandle(forWritingTo: self.errors)
        try self.process.run()
        // Ready once the socket is bound: binding the same port without SO_REUSEPORT then fails.
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            let s = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = port.bigEndian
            a.sin_addr.s_addr = inet_addr("127.0.0.1")
            let bound = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            close(s)
            if bound != 0 { return }
            usleep(50_000)
        }
        Issue.record("collect did not start listening on \(port)")
    }

    /// Stops the collector after the datagrams in flight arrived, and returns its lines.
    func stop() throws -> [String] {
        usleep(1_000_000)
        self.process.interrupt()
        self.process.waitUntilExit()
        #expect(self.process.terminationStatus == 0, "collect: \(String(decoding: (try? Data(contentsOf: self.errors)) ?? Data(), as: UTF8.self))")
        let text = String(decoding: try Data(contentsOf: self.output), as: UTF8.self)
        return text.split(separator: "\n").map(String.init)
    }
}

/// What must match between a live collection and reading the file: everything but times and the VNI.
struct TransactionShape: Hashable, CustomStringConvertible {
    var client: String
    var server: String
    var method: String
    var target: String
    var status: Int
    var requestBytes: Int
    var responseBytes: Int
    var flags: [String]

    init(line: String) throws {
        let j = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        func endpoint(_ k: String) -> String {
            let e = j[k] as? [String: Any] ?? [:]
            return "\(e["ip"] as? String ?? ""):\(e["port"] as? Int ?? 0)"
        }
        let http = j["http"] as? [String: Any] ?? [:]
        let request = http["request"] as? [String: Any] ?? [:]
        let response = http["response"] as? [String: Any] ?? [:]
        self.client = endpoint("client")
        self.server = endpoint("server")
        self.method = request["method"] as? String ?? ""
        self.target = (j["url"] as? [String: Any])?["original"] as? String ?? ""
        self.status = response["status_code"] as? Int ?? 0
        self.requestBytes = request["bytes"] as? Int ?? -1
        self.responseBytes = response["bytes"] as? Int ?? -1
        self.flags = ((j["mirror"] as? [String: Any])?["flags"] as? [String] ?? []).sorted()
    }

    var connection: String { "\(self.client) ↔ \(self.server)" }
    var description: String { "\(self.connection) \(self.method) \(self.target) → \(self.status) [\(self.flags.joined(separator: ","))]" }
}

@Suite(.serialized) struct ReplayToCollectorTests {
    /// Ethernet captures of HTTP with a host that sends the requests: it is the interface, and both directions of
    /// each of its connections are mirrored once.
    static let fixtures = [
        "http11-get-simple.pcap", "http-keepalive-browser-wikipedia.pcap", "http-pipelined-many-retrans.pcap",
        "http-chunked-gzip-mixed.pcap", "http-keepalive-5req-one-conn.pcap", "mixed-http-dns-icmp-mpls-ipv6.pcap",
        "http10-post-ocsp-4conns.pcap",
    ]

    /// The addresses that sent requests (they become the interface).
    static func clients(_ transactions: [TransactionShape]) -> [String] {
        Array(Set(transactions.map { String($0.client.split(separator: ":").dropLast().joined(separator: ":")) })).sorted()
    }

    static func read(_ fixture: String) throws -> [TransactionShape] {
        let run = try VPCMirror.run(["collect", "--read", Fixtures.path(fixture), "--output", "-"])
        #expect(run.exitStatus == 0, "\(run.standardError)")
        return try run.standardOutput.split(separator: "\n").map { try TransactionShape(line: String($0)) }
    }

    /// An interface with every client address of the file, accepting everything both ways.
    static func sessions(clients: [String], port: UInt16, sampling: Double? = nil) -> String {
        var c = SessionsConfig()
        c.interfaces = [.init(id: "eni-0rc00000000000001", mac: nil, addresses: clients)]
        c.filters = [.init(id: "tmf-0rc00000000000001", ingress: SessionsConfig.acceptAll(from: 100), egress: SessionsConfig.acceptAll(from: 100))]
        c.targets = [.init(id: "tmt-0rc00000000000001", endpoints: ["127.0.0.1:\(port)"])]
        c.sessions = [.init(id: "tms-0rc00000000000001", interface: "eni-0rc00000000000001", target: "tmt-0rc00000000000001",
                            filter: "tmf-0rc00000000000001", number: 1, vni: 77, samplingPercent: sampling)]
        return c.json
    }

    @Test func replayedCapturesGiveTheSameTransactions() throws {
        let directory = try TemporaryDirectory("replay-collect")
        for (k, fixture) in Self.fixtures.enumerated() {
            let expected = try Self.read(fixture)
            #expect(!expected.isEmpty, "\(fixture): nothing to compare")
            let clients = Self.clients(expected)
            let port = UInt16(47_000 + k)
            let sessions = try directory.write("s-\(k).json", Self.sessions(clients: clients, port: port))
            let collector = try CollectorProcess(port: port, directory: directory)
            let run = try VPCMirror.replay(sessions: sessions, files: [Fixtures.path(fixture)], sourcePorts: SourcePorts.range(50),
                                           statsDirectory: directory.url)
            #expect(run.exitStatus == 0, "\(fixture): \(run.standardError)")
            let got = try collector.stop().map(TransactionShape.init(line:))
            // The same transactions (a connection picked up in the capture without its SYN is also midstream live).
            #expect(got.sorted { $0.description < $1.description } == expected.sorted { $0.description < $1.description },
                    "\(fixture): live \(got.count), read \(expected.count): \(Set(got).symmetricDifference(Set(expected)).prefix(4))")
            print("\(fixture): \(got.count) transactions live = \(expected.count) from the file")
        }
    }

    /// At SamplingPercent 50 about half of the connections arrive, each with every one of its transactions.
    @Test func samplingKeepsWholeConnections() throws {
        let directory = try TemporaryDirectory("replay-collect-sampling")
        let fixture = "http-keepalive-browser-wikipedia.pcap"
        let files = ["http-keepalive-browser-wikipedia.pcap", "http-chunked-gzip-mixed.pcap", "http10-post-ocsp-4conns.pcap",
                     "http-sll-3conns.pcap", "http-chunked-3conns.pcapng", "mixed-http-dns-icmp-mpls-ipv6.pcap"]
        var expected: [TransactionShape] = []
        for f in files { expected += try Self.read(f) }
        let clients = Self.clients(expected)
        let port: UInt16 = 47_050
        let sessions = try directory.write("s.json", Self.sessions(clients: clients, port: port, sampling: 50))
        let collector = try CollectorProcess(port: port, directory: directory)
        let run = try VPCMirror.replay(sessions: sessions, files: files.map(Fixtures.path), sourcePorts: SourcePorts.range(51),
                                       statsDirectory: directory.url)
        #expect(run.exitStatus == 0, "\(fixture): \(run.standardError)")
        let got = try collector.stop().map(TransactionShape.init(line:))
        let all = Dictionary(grouping: expected, by: \.connection)
        let kept = Dictionary(grouping: got, by: \.connection)
        #expect(kept.count > 0 && kept.count < all.count, "kept \(kept.count) of \(all.count) connections")
        // About half: within 25 points on this small sample (binomial, n = number of connections).
        let share = Double(kept.count) / Double(all.count)
        #expect(share > 0.25 && share < 0.75, "kept \(kept.count) of \(all.count) connections")
        for (connection, transactions) in kept {
            let whole = all[connection] ?? []
            #expect(transactions.sorted { $0.description < $1.description } == whole.sorted { $0.description < $1.description },
                    "\(connection): \(transactions.count) of \(whole.count) transactions")
        }
        print("sampling 50 %: \(kept.count) of \(all.count) connections, \(got.count) of \(expected.count) transactions")
    }
}

@Suite struct CollectDeterminismTests {
    /// With --read, the output is byte-identical from run to run (packet time only; fixed close order).
    @Test func readingTwiceGivesTheSameBytes() throws {
        let files = Fixtures.all.flatMap { ["--read", Fixtures.path($0)] }
        let first = try VPCMirror.run(["collect"] + files + ["--output", "-"])
        let second = try VPCMirror.run(["collect"] + files + ["--output", "-"])
        #expect(first.exitStatus == 0 && second.exitStatus == 0, "\(first.standardError)")
        #expect(first.standardOutput.split(separator: "\n").count > 1000)
        #expect(first.standardOutput == second.standardOutput)
        #expect(first.standardError == second.standardError, "the counters too")
    }

    /// Workers share the connections; merged, their lines are the one collector's, byte for byte, and so are the
    /// counters: file by file (so every file's idle sweeps and end come out in order), all files at once, with
    /// bodies stored and session ids looked up.
    @Test(arguments: Fixtures.all.map { [$0] } + [Fixtures.all])
    func workersWriteWhatOneCollectorWrites(fixtures: [String]) throws {
        let sessions = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../sessions.json").path
        let files = fixtures.flatMap { ["--read", Fixtures.path($0)] }
        let extra = fixtures.count > 1 ? ["--body-bytes", "40", "--sessions", sessions] : []
        let one = try VPCMirror.run(["collect", "--workers", "1"] + files + extra + ["--output", "-"])
        #expect(one.exitStatus == 0, "\(one.standardError)")
        for workers in [2, 3] {
            let many = try VPCMirror.run(["collect", "--workers", "\(workers)"] + files + extra + ["--output", "-"])
            #expect(many.exitStatus == 0, "\(many.standardError)")
            #expect(many.standardOutput == one.standardOutput, "\(fixtures.count == 1 ? fixtures[0] : "all"): \(workers) workers")
            #expect(many.standardError == one.standardError, "the counters too")
        }
    }

    /// A file that ends inside a record: the same lines up to it, then the same error and exit status.
    @Test func workersStopAtTheSameError() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("http-keepalive-browser-wikipedia.pcap")))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vpcmirror-cut-\(UUID().uuidString).pcap").path
        try data.dropLast(700).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let one = try VPCMirror.run(["collect", "--workers", "1", "--read", path, "--output", "-"])
        let two = try VPCMirror.run(["collect", "--workers", "2", "--read", path, "--output", "-"])
        #expect(one.exitStatus == 2 && two.exitStatus == 2)
        #expect(one.standardError.contains("truncated") && one.standardError.contains("frame"), "\(one.standardError)")
        #expect(two.standardError == one.standardError)
        #expect(one.standardOutput.split(separator: "\n").count > 10)
        #expect(two.standardOutput == one.standardOutput)
    }
}

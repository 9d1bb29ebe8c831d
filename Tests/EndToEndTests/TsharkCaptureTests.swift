// vpcmirror end-to-end: tcpdump captures what `vpcmirror replay` sends on the loopback interface, and
// Wireshark's VXLAN dissector judges it (issue 2, "must show" 3).
import Foundation
import Glibc
import MirrorTestSupport
import MirrorWire
import Testing

/// Whether tcpdump and tshark can run: both installed and we are root (tcpdump needs it to capture).
enum CaptureTools {
    static var available: Bool {
        ToolRunner.find("tcpdump") != nil && ToolRunner.find("tshark") != nil && geteuid() == 0
    }

    /// Run when the tools are there, or when VPCMIRROR_REQUIRE_TOOLS=1 demands them (the test then fails).
    static var shouldRun: Bool { self.available || ToolRunner.toolsRequired }
}

/// `tcpdump -i lo -U -w FILE FILTER`, started and stopped by the test.
///
/// Spawned with posix_spawn rather than Foundation's Process: the test runs on a thread that blocks most signals,
/// a spawned child inherits that mask, and a tcpdump with SIGINT blocked never sees the SIGINT that should stop it.
/// POSIX_SPAWN_SETSIGMASK (empty) and POSIX_SPAWN_SETSIGDEF give it a clean slate.
final class LoopbackCapture {
    let file: URL
    let errorFile: URL
    private var pid: pid_t = 0
    private var exited = false

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Starts tcpdump and waits (at most 5 s) until it says it is listening.
    init(filter: [String], file: URL, errorFile: URL) throws {
        self.file = file
        self.errorFile = errorFile
        guard let tcpdump = ToolRunner.find("tcpdump") else { throw Failure(description: "tcpdump is not on PATH") }
        // -Z root: keep root, so tcpdump can write into our temporary directory. --immediate-mode and a 64 MiB
        // buffer (-B, in KiB): a burst at full speed is neither dropped by the kernel nor held in an unflushed block.
        let arguments = [tcpdump, "-i", "lo", "-n", "-U", "--immediate-mode", "-B", "65536", "-Z", "root",
                         "-w", file.path] + filter
        self.pid = try Self.spawn(arguments, standardError: errorFile.path)
        let clock = ContinuousClock()
        let start = clock.now
        while clock.now - start < .seconds(5) {
            if self.standardError.contains("listening on") { return }
            if self.reap() { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        let stderr = self.standardError
        self.stop()
        throw Failure(description: "tcpdump did not start listening within 5 s: \(stderr)")
    }

    deinit { self.stop() }

    static func spawn(_ arguments: [String], standardError: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attributes)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attributes)
        }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, standardError, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGPIPE, SIGHUP] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, arguments[0], &actions, &attributes, &argv, environ)
        guard status == 0 else {
            throw Failure(description: "posix_spawn \(arguments[0]): \(String(cString: strerror(status)))")
        }
        return pid
    }

    var standardError: String {
        (try? String(contentsOf: self.errorFile, encoding: .utf8)) ?? ""
    }

    /// Whether the process has exited (reaping it if so).
    private func reap() -> Bool {
        if self.exited { return true }
        var status: Int32 = 0
        if waitpid(self.pid, &status, WNOHANG) == self.pid { self.exited = true }
        return self.exited
    }

    /// SIGINT, then waits up to 10 s (SIGKILL after that). Safe to call twice.
    func stop() {
        guard self.pid > 0, !self.reap() else { return }
        kill(self.pid, SIGINT)
        let clock = ContinuousClock()
        let start = clock.now
        while !self.reap() && clock.now - start < .seconds(10) {
            Thread.sleep(forTimeInterval: 0.02)
        }
        if !self.reap() {
            kill(self.pid, SIGKILL)
            var status: Int32 = 0
            waitpid(self.pid, &status, 0)
            self.exited = true
        }
    }
}

@Suite("tshark on a tcpdump capture of what replay sends", .serialized)
struct TsharkCaptureTests {
    static let fixtures = [
        "mixed-http-dns-icmp-mpls-ipv6.pcap", "http-ipv6-post-3req-null.pcap", "http-vlan120-keepalive-11req.pcap",
    ]
    static let slot = 20

    /// One interface per fixture (its busiest host), each with two sessions: TCP ports 1–1023 (explicit VNI) and
    /// accept-all (derived VNI). No PacketLength: a cut frame is what AWS sends, but tshark rightly calls the cut
    /// inner packets malformed, and this test wants zero malformed frames.
    static func sessions(endpoint: String) throws -> (SessionsConfig, [PcapRecord]) {
        var config = SessionsConfig()
        config.targets = [.init(id: "tmt-0e2etshark0000001", endpoints: [endpoint])]
        var records: [PcapRecord] = []
        for (i, fixture) in fixtures.enumerated() {
            let file = try PcapFile(path: Fixtures.path(fixture))
            records += file.records
            let a = FixtureAnalysis(records: file.records)
            let eni = "eni-0e2etshark000000\(i)"
            config.interfaces.append(
                .init(id: eni, mac: a.busiestHostMAC.map(AddressText.formatMAC), addresses: [AddressText.format(a.busiestHost)]))
            let ports = "tmf-0e2etsharkports0\(i)"
            let all = "tmf-0e2etsharkall000\(i)"
            config.filters.append(
                .init(
                    id: ports,
                    ingress: [
                        .init(number: 100, accept: true, ipProtocol: 6, source: "0.0.0.0/0", destination: "0.0.0.0/0", sourcePorts: 1...1023),
                        .init(number: 110, accept: true, ipProtocol: 6, source: "::/0", destination: "::/0", sourcePorts: 1...1023),
                    ],
                    egress: [
                        .init(number: 100, accept: true, ipProtocol: 6, source: "0.0.0.0/0", destination: "0.0.0.0/0", destinationPorts: 1...1023),
                        .init(number: 110, accept: true, ipProtocol: 6, source: "::/0", destination: "::/0", destinationPorts: 1...1023),
                    ]))
            config.filters.append(
                .init(id: all, ingress: SessionsConfig.acceptAll(from: 100), egress: SessionsConfig.acceptAll(from: 100)))
            config.sessions.append(
                .init(id: "tms-0e2etsharkports0\(i)", interface: eni, target: "tmt-0e2etshark0000001", filter: ports,
                      number: 1, vni: 5000 + UInt32(i)))
            config.sessions.append(
                .init(id: "tms-0e2etsharkall000\(i)", interface: eni, target: "tmt-0e2etshark0000001", filter: all,
                      number: 2))
        }
        return (config, records)
    }

    @Test("every datagram is a well-formed VXLAN frame with its session's VNI", .enabled(if: CaptureTools.shouldRun, "needs tcpdump, tshark and root (VPCMIRROR_REQUIRE_TOOLS=1 to insist)"))
    func tsharkDissectsWhatWasSent() throws {
        try #require(CaptureTools.available, "tcpdump and tshark must be installed and the tests run as root (VPCMIRROR_REQUIRE_TOOLS=1)")
        let directory = try TemporaryDirectory("tshark")
        defer { directory.remove() }
        let receiver = try UDPReceiver()
        defer { receiver.stop() }
        let (config, records) = try Self.sessions(endpoint: receiver.endpoint)
        let sessionsURL = try directory.write("sessions.json", config.json)
        let captureURL = directory.file("sent.pcap")

        let capture = try LoopbackCapture(
            filter: ["udp", "port", "\(receiver.port)"], file: captureURL, errorFile: directory.file("tcpdump.err"))
        defer { capture.stop() }
        // tcpdump on the sending host sees a UDP GSO run as one super-datagram (as it sees TSO super-segments),
        // before the kernel splits it; without GSO the capture holds the datagrams as the wire carries them.
        // The receivers of the other suites check the GSO path byte for byte.
        let run = try VPCMirror.replay(
            sessions: sessionsURL, files: Self.fixtures.map(Fixtures.path), sourcePorts: SourcePorts.range(Self.slot),
            statsDirectory: directory.url, extra: ["--udp-gso", "off"])
        let received = receiver.collect()
        capture.stop()
        try #require(run.exitStatus == 0, "vpcmirror replay exited \(run.exitStatus): \(run.standardError)")
        let stats = try #require(run.stats)
        #expect(stats.balanced)
        #expect(stats.framesRead == records.count)
        #expect(stats.sentTotal == received.count)

        // The model agrees on what was sent, as in the per-fixture tests.
        let expected = ReferenceModel(config).expect(records)
        ReplayChecks.expectSameDatagrams(
            received: received.map(\.payload), expected: expected.datagrams.map(\.payload), "three fixtures")

        let file = captureURL.path
        let decode = ["-d", "udp.port==\(receiver.port),vxlan"]
        let all = try Tshark.fields(file: file, fields: ["frame.number"], extraArgs: decode)
        let vxlan = try Tshark.fields(
            file: file, fields: ["vxlan.vni", "vxlan.flags"], displayFilter: "vxlan", extraArgs: decode)
        let malformed = try Tshark.fields(
            file: file, fields: ["frame.number", "_ws.col.Info"], displayFilter: "_ws.malformed", extraArgs: decode)
        // tcpdump was stopped by SIGINT (it prints its totals then) and dropped nothing.
        #expect(capture.standardError.contains("packets captured"), "tcpdump said: \(capture.standardError)")
        #expect(capture.standardError.split(separator: "\n").contains("0 packets dropped by kernel"), "tcpdump said: \(capture.standardError)")
        #expect(stats.sentTotal > 0)
        #expect(all.count == stats.sentTotal, "tcpdump captured \(all.count) frames, vpcmirror sent \(stats.sentTotal); tcpdump said: \(capture.standardError)")
        #expect(vxlan.count == stats.sentTotal, "tshark found \(vxlan.count) VXLAN frames, vpcmirror sent \(stats.sentTotal)")
        #expect(malformed.isEmpty, "tshark found \(malformed.count) malformed frames, first: \(malformed.first ?? [])")

        let flags = Set(vxlan.map { $0.count > 1 ? $0[1] : "" })
        #expect(flags == ["0x0800"], "vxlan.flags: \(flags.sorted())")
        var perVNI: [UInt32: Int] = [:]
        for row in vxlan { perVNI[UInt32(row.first ?? "") ?? UInt32.max, default: 0] += 1 }
        var expectedPerVNI: [UInt32: Int] = [:]
        for s in stats.sessions where s.sent > 0 { expectedPerVNI[s.virtualNetworkId, default: 0] += s.sent }
        #expect(perVNI == expectedPerVNI, "datagrams per VNI: tshark \(perVNI), vpcmirror's sessions \(expectedPerVNI)")
        #expect(Set(stats.vniBySession.values) == Set(ReferenceModel(config).vniBySession.values))
        print("tshark: \(vxlan.count) VXLAN frames, VNIs \(perVNI.sorted { $0.key < $1.key }), 0 malformed")
    }
}

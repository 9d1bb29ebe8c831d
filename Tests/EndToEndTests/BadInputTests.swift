// vpcmirror end-to-end: bad capture files and bad sessions files end with exit status 2 and a message that
// says what and where (issue 2).
import Foundation
import MirrorTestSupport
import MirrorWire
import Testing

@Suite("bad input exits 2 with a clear message")
struct BadInputTests {
    static let slot = 24
    static let fixture = "http-keepalive-browser-wikipedia.pcap"

    /// A valid sessions file for the fixture's browser host, sending to `endpoint`.
    static func validSessions(endpoint: String) -> SessionsConfig {
        var config = SessionsConfig()
        config.interfaces = [.init(id: "eni-0e2ebad0000000001", mac: "00:24:7e:e0:1d:b5", addresses: ["141.142.220.118"])]
        config.filters = [
            .init(id: "tmf-0e2ebad0000000001", ingress: SessionsConfig.acceptAll(from: 100), egress: SessionsConfig.acceptAll(from: 100))
        ]
        config.targets = [.init(id: "tmt-0e2ebad0000000001", endpoints: [endpoint])]
        config.sessions = [
            .init(id: "tms-0e2ebad0000000001", interface: "eni-0e2ebad0000000001", target: "tmt-0e2ebad0000000001",
                  filter: "tmf-0e2ebad0000000001", number: 1, vni: 7)
        ]
        return config
    }

    /// Lines of text, without empty ones.
    static func lines(_ text: String) -> [Substring] {
        text.split(separator: "\n").filter { !$0.allSatisfy(\.isWhitespace) }
    }

    @Test("a capture that does not exist")
    func missingCapture() throws {
        let directory = try TemporaryDirectory("missing")
        defer { directory.remove() }
        let sessions = try directory.write("sessions.json", Self.validSessions(endpoint: "127.0.0.1:9").json)
        let missing = directory.file("no-such-capture.pcap").path
        let run = try VPCMirror.replay(
            sessions: sessions, files: [missing], sourcePorts: SourcePorts.range(Self.slot), statsDirectory: directory.url)
        #expect(run.exitStatus == 2)
        #expect(run.standardError.contains(missing), "stderr: \(run.standardError)")
        #expect(run.standardError.lowercased().contains("not found") || run.standardError.contains("No such file"), "stderr: \(run.standardError)")
        #expect(run.stats == nil, "no stats for a run that never started")
    }

    @Test("a text file is not a capture")
    func textFileIsNotACapture() throws {
        let directory = try TemporaryDirectory("text")
        defer { directory.remove() }
        let sessions = try directory.write("sessions.json", Self.validSessions(endpoint: "127.0.0.1:9").json)
        let text = try directory.write("notes.pcap", "This is not a capture file.\nIt is a note about one.\n")
        let run = try VPCMirror.replay(
            sessions: sessions, files: [text.path], sourcePorts: SourcePorts.range(Self.slot), statsDirectory: directory.url)
        #expect(run.exitStatus == 2)
        #expect(run.standardError.contains(text.path), "stderr: \(run.standardError)")
        #expect(run.standardError.contains("not a capture file"), "stderr: \(run.standardError)")
    }

    struct Cut: Sendable, CustomTestStringConvertible {
        var fixture: String
        /// The record (frame index) cut in its middle.
        var record: Int
        var slot: Int
        var testDescription: String { "\(self.fixture) cut in frame \(self.record)" }
    }

    static let cuts = [
        Cut(fixture: fixture, record: 0, slot: 25), Cut(fixture: fixture, record: 1, slot: 26),
        Cut(fixture: fixture, record: 57, slot: 27), Cut(fixture: fixture, record: 135, slot: 28),
        Cut(fixture: "http-chunked-3conns.pcapng", record: 14, slot: 29),
    ]

    /// Where record `k` starts and how long it is: classic pcap (a 24-byte header, then per record 16 bytes of
    /// header and the captured bytes) or little-endian pcapng (blocks of type, length, …; packets in EPBs).
    static func recordSpan(_ bytes: [UInt8], _ records: [PcapRecord], _ k: Int) throws -> (start: Int, length: Int) {
        if bytes.starts(with: [0x0A, 0x0D, 0x0D, 0x0A]) {
            try #require(bytes[8..<12].elementsEqual([0x4D, 0x3C, 0x2B, 0x1A]), "the test reads little-endian pcapng only")
            func u32(_ i: Int) -> Int { Int(bytes[i]) | Int(bytes[i + 1]) << 8 | Int(bytes[i + 2]) << 16 | Int(bytes[i + 3]) << 24 }
            var offset = 0
            var packets = 0
            while offset + 8 <= bytes.count {
                let (type, length) = (u32(offset), u32(offset + 4))
                try #require(length >= 12)
                if type == 6 || type == 3 || type == 2 {
                    if packets == k { return (offset, length) }
                    packets += 1
                }
                offset += length
            }
            throw TemporaryDirectory.Missing(description: "no packet block \(k)")
        }
        let start = 24 + records[..<k].reduce(0) { $0 + 16 + $1.bytes.count }
        return (start, 16 + records[k].bytes.count)
    }

    /// A capture cut in the middle of record `k`: the frames before it are replayed and counted, and the error
    /// names frame k.
    @Test("a capture cut in the middle of a record", arguments: cuts)
    func truncatedCapture(_ c: Cut) throws {
        let k = c.record
        let bytes = try [UInt8](Data(contentsOf: Fixtures.url(c.fixture)))
        let records = try PcapFile(bytes: bytes).records
        try #require(k < records.count)
        let span = try Self.recordSpan(bytes, records, k)
        let cut = span.start + span.length / 2

        let directory = try TemporaryDirectory("truncated")
        defer { directory.remove() }
        let receiver = try UDPReceiver()
        defer { receiver.stop() }
        let sessions = try directory.write("sessions.json", Self.validSessions(endpoint: receiver.endpoint).json)
        let capture = directory.file("cut-\(c.fixture)")
        try Data(bytes[..<cut]).write(to: capture)
        let run = try VPCMirror.replay(
            sessions: sessions, files: [capture.path], sourcePorts: SourcePorts.range(c.slot),
            statsDirectory: directory.url)
        let received = receiver.collect(quiet: .milliseconds(500))
        #expect(run.exitStatus == 2)
        let errors = Self.lines(run.standardError)
        #expect(errors.contains { $0.contains(capture.path) && $0.contains("truncated") && $0.contains("frame \(k)") },
                "stderr: \(run.standardError)")
        // The counters up to the failure: printed, and written to --stats-json.
        #expect(run.standardOutput.contains("frames: read \(k) ="), "stdout: \(run.standardOutput)")
        let stats = try #require(run.stats, "no partial --stats-json")
        #expect(stats.framesRead == k)
        #expect(stats.balanced)
        #expect(stats.sentTotal == received.count)
        // Every frame before the cut was mirrored as usual: the model says which.
        let expected = ReferenceModel(Self.validSessions(endpoint: receiver.endpoint)).expect(Array(records[..<k]))
        ReplayChecks.expectSameDatagrams(
            received: received.map(\.payload), expected: expected.datagrams.map(\.payload), "frames before the cut")
    }

    @Test("replay with a sessions file that has an error names its JSON path")
    func replayRejectsBadSessions() throws {
        let directory = try TemporaryDirectory("badsessions")
        defer { directory.remove() }
        var config = Self.validSessions(endpoint: "127.0.0.1:9")
        config.sessions[0].number = 40_000
        let sessions = try directory.write("bad-sessions.json", config.json)
        let run = try VPCMirror.replay(
            sessions: sessions, files: [Fixtures.path(Self.fixture)], sourcePorts: SourcePorts.range(Self.slot),
            statsDirectory: directory.url)
        #expect(run.exitStatus == 2)
        let errors = Self.lines(run.standardError)
        #expect(errors.count == 1, "stderr: \(run.standardError)")
        #expect(errors.first?.contains("bad-sessions.json") == true)
        #expect(errors.first?.contains("TrafficMirrorSessions[0].SessionNumber") == true, "stderr: \(run.standardError)")
        #expect(errors.first?.contains("40000") == true)
        #expect(run.stats == nil)
    }

    @Test("validate accepts the repository's sessions.json")
    func validateAcceptsRepositorySessions() throws {
        let root = Fixtures.directory.deletingLastPathComponent().deletingLastPathComponent()
        let path = root.appendingPathComponent("sessions.json").path
        let run = try VPCMirror.run(["validate", "--sessions", path])
        #expect(run.exitStatus == 0, "stderr: \(run.standardError)")
        #expect(run.standardOutput.contains("valid"), "stdout: \(run.standardOutput)")
        #expect(run.standardError.isEmpty)
    }

    /// Three independent problems give three lines, each naming the file and the JSON path.
    @Test("validate reports one line per problem")
    func validateReportsEveryProblem() throws {
        let directory = try TemporaryDirectory("validate")
        defer { directory.remove() }
        var config = Self.validSessions(endpoint: "127.0.0.1:4789")
        config.interfaces[0].mac = "00:24:7e:e0:1d"  // 5 bytes
        config.filters[0].ingress[0].source = "10.0.0.0/33"
        config.sessions[0].number = 0
        let file = try directory.write("broken.json", config.json)
        let run = try VPCMirror.run(["validate", "--sessions", file.path])
        #expect(run.exitStatus == 2)
        let errors = Self.lines(run.standardError)
        #expect(errors.count == 3, "stderr: \(run.standardError)")
        let paths = [
            "NetworkInterfaces[0].MacAddress", "TrafficMirrorFilters[0].IngressFilterRules[0].SourceCidrBlock",
            "TrafficMirrorSessions[0].SessionNumber",
        ]
        for path in paths {
            #expect(errors.contains { $0.hasPrefix("broken.json: \(path): ") }, "no line for \(path) in: \(run.standardError)")
        }

        // A syntax error is one line too, with its position.
        let syntax = try directory.write("syntax.json", "{\"NetworkInterfaces\": [}\n")
        let syntaxRun = try VPCMirror.run(["validate", "--sessions", syntax.path])
        #expect(syntaxRun.exitStatus == 2)
        #expect(Self.lines(syntaxRun.standardError).count == 1, "stderr: \(syntaxRun.standardError)")
        #expect(syntaxRun.standardError.contains("line 1"), "stderr: \(syntaxRun.standardError)")
    }

    /// A full disk loses no line quietly: `collect` says what it could not write, how much, and exits 2.
    @Test("collect to a full device reports the lines it could not write", arguments: [1, 2])
    func collectOutputFails(workers: Int) throws {
        let path = Fixtures.path(Self.fixture)
        let good = try VPCMirror.run(["collect", "--read", path, "--output", "-", "--workers", "\(workers)"])
        #expect(good.exitStatus == 0, "stderr: \(good.standardError)")
        let lines = Self.lines(good.standardOutput).count
        #expect(lines > 0)
        let full = try VPCMirror.run(["collect", "--read", path, "--output", "/dev/full", "--workers", "\(workers)"])
        #expect(full.exitStatus == 2)
        #expect(full.standardError.contains("vpcmirror collect: cannot write /dev/full: No space left on device; \(lines) lines ("),
                "stderr: \(full.standardError)")
        #expect(full.standardError.contains("http: \(lines) exchanges (\(lines) not written: the output failed)"),
                "stderr: \(full.standardError)")
    }
}

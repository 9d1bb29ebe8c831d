// vpcmirror end-to-end tests: finds the real `vpcmirror` binary and runs it as a subprocess.
import Foundation
import MirrorTestSupport
import Testing

/// The `vpcmirror` executable the tests run: built next to the test bundle by `swift build --build-tests`.
enum VPCMirrorBinary {
    /// Where we looked, for the failure message.
    static let candidates: [String] = {
        var directories: [URL] = []
        if let first = CommandLine.arguments.first, !first.isEmpty {
            let url = URL(fileURLWithPath: first).standardizedFileURL.resolvingSymlinksInPath()
            directories.append(url.deletingLastPathComponent())
        }
        if let url = Bundle.main.executableURL?.standardizedFileURL.resolvingSymlinksInPath() {
            directories.append(url.deletingLastPathComponent())
        }
        var paths: [String] = []
        for directory in directories {
            // The bundle may be a directory (`….xctest/Contents/MacOS/…` on Darwin): look up to 4 levels up.
            var d = directory
            for _ in 0..<4 {
                paths.append(d.appendingPathComponent("vpcmirror").path)
                d = d.deletingLastPathComponent()
            }
        }
        // <package root>/.build/debug/vpcmirror, the root found from the fixtures directory (Tests/Fixtures).
        let root = Fixtures.directory.deletingLastPathComponent().deletingLastPathComponent()
        paths.append(root.appendingPathComponent(".build/debug/vpcmirror").path)
        var seen = Set<String>()
        return paths.filter { seen.insert($0).inserted }
    }()

    /// The first candidate that is an executable file.
    static let path: String? = candidates.first { FileManager.default.isExecutableFile(atPath: $0) }

    /// The binary's path, or a test failure that says where we looked and how to build it.
    static func require(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        try #require(
            path != nil,
            "vpcmirror binary not found; build it with `swift build --build-tests`. Looked in: \(candidates.joined(separator: ", "))",
            sourceLocation: sourceLocation)
        return path!
    }
}

/// The outcome of one `vpcmirror` run.
struct VPCMirrorRun {
    var exitStatus: Int32
    var standardOutput: String
    var standardError: String
    /// `--stats-json`, parsed, when it was asked for and written.
    var stats: ReplayStats?
}

/// The parts of `--stats-json` the tests read.
struct ReplayStats {
    struct Session {
        var id: String
        var sessionNumber: Int
        var virtualNetworkId: UInt32
        var evaluated: Int
        var mirrored: Int
        var sampledOut: Int
        var rejected: Int
        var noMatch: Int
        var amazonDNSExcluded: Int
        var truncated: Int
        var datagrams: Int
        var sent: Int
        var droppedQueueFull: Int
        var droppedSendError: Int
    }

    var balanced: Bool
    var framesRead: Int
    var malformed: Int
    var notSeen: Int
    var neverMirroredNonIP: Int
    var neverMirroredDHCP: Int
    var neverMirroredLinkLocal: Int
    var neverMirroredOwnOutput: Int
    var seen: Int
    var sessions: [Session]
    var sendErrors: [String: Int]

    var sentTotal: Int { self.sessions.reduce(0) { $0 + $1.sent } }

    /// VNI by session id.
    var vniBySession: [String: UInt32] {
        Dictionary(uniqueKeysWithValues: self.sessions.map { ($0.id, $0.virtualNetworkId) })
    }

    struct ParseError: Error, CustomStringConvertible {
        var description: String
    }

    init(json data: Data) throws {
        guard let top = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ParseError(description: "stats JSON is not an object")
        }
        func int(_ object: [String: Any], _ key: String) throws -> Int {
            guard let n = object[key] as? NSNumber else { throw ParseError(description: "stats JSON: no number \(key)") }
            return n.intValue
        }
        guard let frames = top["frames"] as? [String: Any], let sessions = top["sessions"] as? [[String: Any]] else {
            throw ParseError(description: "stats JSON has no frames or sessions")
        }
        self.balanced = (top["balanced"] as? Bool) ?? false
        self.framesRead = try int(frames, "read")
        self.malformed = try int(frames, "malformed")
        self.notSeen = try int(frames, "not_seen")
        self.neverMirroredNonIP = try int(frames, "never_mirrored_non_ip")
        self.neverMirroredDHCP = try int(frames, "never_mirrored_dhcp")
        self.neverMirroredLinkLocal = try int(frames, "never_mirrored_link_local")
        self.neverMirroredOwnOutput = try int(frames, "never_mirrored_own_output")
        self.seen = try int(frames, "seen")
        self.sessions = try sessions.map { s in
            Session(
                id: (s["traffic_mirror_session_id"] as? String) ?? "",
                sessionNumber: try int(s, "session_number"),
                virtualNetworkId: UInt32(try int(s, "virtual_network_id")),
                evaluated: try int(s, "evaluated"),
                mirrored: try int(s, "mirrored"),
                sampledOut: try int(s, "sampled_out"),
                rejected: try int(s, "rejected"),
                noMatch: try int(s, "no_match"),
                amazonDNSExcluded: try int(s, "amazon_dns_excluded"),
                truncated: try int(s, "truncated"),
                datagrams: try int(s, "datagrams"),
                sent: try int(s, "sent"),
                droppedQueueFull: try int(s, "dropped_queue_full"),
                droppedSendError: try int(s, "dropped_send_error"))
        }
        var errors: [String: Int] = [:]
        for (k, v) in (top["send_errors"] as? [String: Any]) ?? [:] { errors[k] = (v as? NSNumber)?.intValue ?? -1 }
        self.sendErrors = errors
    }
}

enum VPCMirror {
    /// Runs `vpcmirror ARGS…`, killed after `timeout`.
    static func run(_ arguments: [String], timeout: Duration = .seconds(120)) throws -> VPCMirrorRun {
        let binary = try VPCMirrorBinary.require()
        let result = try ToolRunner.run(binary, arguments, timeout: timeout)
        return VPCMirrorRun(
            exitStatus: result.exitStatus, standardOutput: result.standardOutputText,
            standardError: result.standardErrorText, stats: nil)
    }

    /// `vpcmirror replay --sessions SESSIONS --stats-json … --no-progress --speed max --source-ports … FILES…`.
    static func replay(
        sessions: URL, files: [String], sourcePorts: ClosedRange<UInt16>, statsDirectory: URL,
        extra: [String] = [], timeout: Duration = .seconds(120)
    ) throws -> VPCMirrorRun {
        let statsURL = statsDirectory.appendingPathComponent("stats-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: statsURL) }
        var run = try self.run(
            ["replay", "--sessions", sessions.path, "--stats-json", statsURL.path, "--no-progress", "--speed", "max",
             "--source-ports", "\(sourcePorts.lowerBound)-\(sourcePorts.upperBound)"] + extra + files,
            timeout: timeout)
        if let data = FileManager.default.contents(atPath: statsURL.path) {
            run.stats = try ReplayStats(json: data)
        }
        return run
    }
}

/// A temporary directory removed when the value is released (tests call `remove()` in a defer).
struct TemporaryDirectory {
    let url: URL

    init(_ label: String) throws {
        self.url = FileManager.default.temporaryDirectory
            .appendingPathComponent("vpcmirror-e2e-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.url, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> URL { self.url.appendingPathComponent(name) }

    func write(_ name: String, _ text: String) throws -> URL {
        let url = self.file(name)
        try Data(text.utf8).write(to: url)
        return url
    }

    func remove() { try? FileManager.default.removeItem(at: self.url) }

    /// Something a test needed was not there.
    struct Missing: Error, CustomStringConvertible {
        var description: String
    }
}

/// Outer source port ranges, one per test, below Linux's ephemeral range (32768–60999) so that no
/// receiver bound to port 0 can hold one of them.
enum SourcePorts {
    static func range(_ slot: Int) -> ClosedRange<UInt16> {
        precondition(slot >= 0 && slot < 60)
        let from = UInt16(20_000 + slot * 200)
        return from...(from + 127)
    }
}

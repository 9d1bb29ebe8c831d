// vpcmirror: the command line. It parses arguments and wires modules; the work happens in MirrorAgent.
import ArgumentParser
import FoundationEssentials
import Glibc
import MirrorAgent
import MirrorConfig
import MirrorFilter
import MirrorWire

@main
struct VPCMirror: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vpcmirror",
        abstract: "Packet-level traffic mirroring with AWS VPC Traffic Mirroring semantics.",
        discussion: "Sessions, filters and targets are defined in a JSON file shaped like AWS's API (see docs/config.md).",
        version: "0.1.0",
        subcommands: [Validate.self, Replay.self, Collect.self, Interfaces.self, Attach.self]
    )
}

/// Options every command that reads a sessions file shares.
struct SessionsOptions: ParsableArguments {
    @Option(name: .long, help: "The sessions file (AWS-shaped JSON).")
    var sessions = "sessions.json"

    @Flag(name: .long, help: "Lift AWS's quotas: 3 sessions per interface, 10 rules per filter, PacketLength ≤ 8500.")
    var relaxQuotas = false

    func load() throws -> MirrorConfiguration {
        var options = ValidationOptions()
        options.enforceAWSQuotas = !self.relaxQuotas
        do {
            return try ConfigLoader.load(path: self.sessions, options: options)
        } catch {
            printError(error.description)
            throw ExitCode(2)
        }
    }
}

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a sessions file: exit 0 with a summary, or exit 2 with one line per problem.")

    @OptionGroup var sessionsOptions: SessionsOptions

    func run() throws {
        let c = try self.sessionsOptions.load()
        let rules = c.trafficMirrorFilters.reduce(0) { $0 + $1.ingressFilterRules.count + $1.egressFilterRules.count }
        let endpoints = c.trafficMirrorTargets.reduce(0) { $0 + $1.endpoints.count }
        print("\(self.sessionsOptions.sessions): valid: \(c.trafficMirrorSessions.count) session(s) on \(c.networkInterfaces.count) interface(s), \(c.trafficMirrorFilters.count) filter(s) with \(rules) rule(s), \(c.trafficMirrorTargets.count) target(s) with \(endpoints) endpoint(s)")
    }
}

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay pcap/pcapng files through the sessions and send the mirrored frames as VXLAN.",
        discussion: "Counters for every frame are printed at the end and add up. Exit 2 on a bad file or config.")

    @OptionGroup var sessionsOptions: SessionsOptions

    @Option(help: "max, original, or a factor of the recorded pace (2 = twice as fast).")
    var speed = "max"

    @Option(help: "Read the files this many times.")
    var loop = 1

    @OptionGroup var senderOptions: SenderOptions

    @Option(help: "The source interface MTU: TCP super-frames longer than this are segmented.")
    var mtu = 9001

    @Option(name: .customLong("queue-full"), help: "When the send queue is full: drop (and count) or wait. Default: wait at max speed, drop when paced.")
    var queueFull: String?

    @Option(name: .customLong("sender-threads"), help: "Threads sending VXLAN copies; each owns a share of the source ports.")
    var senderThreads = 1

    @Flag(name: .customLong("no-progress"), help: "No progress line, even on a terminal.")
    var noProgress = false

    @Argument(help: "pcap or pcapng files.")
    var files: [String]

    func validate() throws {
        guard !self.files.isEmpty else { throw ValidationError("give at least one capture file") }
        guard self.loop >= 1 else { throw ValidationError("--loop must be at least 1") }
        guard self.mtu >= 576 && self.mtu <= 65535 else { throw ValidationError("--mtu must be 576…65535") }
        guard (1...16).contains(self.senderThreads) else { throw ValidationError("--sender-threads must be 1…16") }
    }

    func run() throws {
        let config = try self.sessionsOptions.load()
        var options = ReplayOptions()
        switch self.speed {
        case "max": options.speed = .maximum
        case "original": options.speed = .factor(1)
        default:
            guard let f = Double(self.speed), f > 0, f.isFinite else {
                throw ValidationError("--speed: \"\(self.speed)\" is not max, original or a positive factor")
            }
            options.speed = .factor(f)
        }
        options.loops = self.loop
        options.senderThreads = self.senderThreads
        let sending = try self.senderOptions.parsed()
        options.udpSegmentationOffload = sending.segmentationOffload
        options.sourcePorts = sending.sourcePorts
        options.bindAddress = sending.bindAddress
        options.mtu = self.mtu
        if let q = self.queueFull {
            guard let p = QueueFullPolicy(rawValue: q) else { throw ValidationError("--queue-full: \"\(q)\" is not drop or wait") }
            options.queueFull = p
        }
        if !self.noProgress && isatty(2) != 0 {
            options.progress = { line in TextOutput.standardError("\r\u{1B}[K" + line) }
        }
        let report: ReplayReport
        do {
            report = try MirrorAgent.Replay.run(files: self.files, configuration: config, options: options)
        } catch {
            if options.progress != nil { TextOutput.standardError("\r\u{1B}[K") }
            if let partial = error.partialReport {
                print(partial.text)
                try self.senderOptions.writeStats(partial, command: "replay")
            }
            printError("vpcmirror replay: \(error.description)")
            throw ExitCode(2)
        }
        if options.progress != nil { TextOutput.standardError("\r\u{1B}[K") }
        print(report.text)
        try self.senderOptions.writeStats(report, command: "replay")
    }
}

/// How `replay` and `attach` send, and where their counters go.
struct SenderOptions: ParsableArguments {
    @Option(name: .customLong("source-ports"), help: "Outer UDP source port range, FROM-TO (one socket per port).")
    var sourcePorts = "65408-65535"

    @Option(help: "Local address to send from (AWS sends from the source interface's primary address).")
    var bind: String?

    @Option(name: .customLong("udp-gso"), help: "on: send runs of equal-size datagrams as one UDP GSO message (faster; tcpdump on this host then shows them merged); off: one by one.")
    var udpGSO = "on"

    @Option(name: .customLong("stats-json"), help: "Also write the counters as JSON to this file.")
    var statsJSON: String?

    func parsed() throws -> (sourcePorts: ClosedRange<UInt16>, bindAddress: IPAddress?, segmentationOffload: Bool) {
        let parts = self.sourcePorts.split(separator: "-")
        guard parts.count == 2, let from = UInt16(parts[0]), let to = UInt16(parts[1]), from > 0, from <= to,
            Int(to) - Int(from) < 4096
        else {
            throw ValidationError("--source-ports: \"\(self.sourcePorts)\" is not FROM-TO with 1 ≤ FROM ≤ TO and at most 4096 ports")
        }
        var bindAddress: IPAddress? = nil
        if let bind = self.bind {
            guard let a = IPAddress(bind) else { throw ValidationError("--bind: \"\(bind)\" is not an IP address") }
            bindAddress = a
        }
        guard self.udpGSO == "on" || self.udpGSO == "off" else {
            throw ValidationError("--udp-gso: \"\(self.udpGSO)\" is not on or off")
        }
        return (from...to, bindAddress, self.udpGSO == "on")
    }

    func writeStats(_ report: ReplayReport, command: String) throws {
        guard let path = self.statsJSON else { return }
        if let failure = TextOutput.write(report.json + "\n", toFile: path) {
            printError("vpcmirror \(command): cannot write --stats-json \(path): \(failure)")
            throw ExitCode(2)
        }
    }
}

struct Interfaces: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "interfaces",
        abstract: "List the local interfaces (netlink): index, name, state, MTU, MAC and addresses.")

    @Flag(help: "Print a JSON array instead of a table.")
    var json = false

    func run() throws {
        do {
            print(try MirrorAgent.Interfaces.listing(json: self.json))
        } catch {
            printError("vpcmirror interfaces: \(error.description)")
            throw ExitCode(2)
        }
    }
}

struct Attach: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attach",
        abstract: "Capture live on each session's NetworkInterfaces[].InterfaceName and send mirrored frames as VXLAN.",
        discussion: """
            Needs CAP_NET_RAW (capture) and, for ring buffers above the default, CAP_NET_ADMIN (docs/cli.md). \
            SIGHUP reloads the sessions file (an invalid file is rejected and the running one kept); \
            SIGINT/SIGTERM stop and print the counters. Log lines go to standard error.
            """)

    @OptionGroup var sessionsOptions: SessionsOptions

    @Option(name: .customLong("buffer-size"), help: "Kernel capture ring per interface and direction, in MiB.")
    var bufferSize = 8

    @Option(name: .customLong("snaplen"), help: "Bytes captured per frame (the default keeps 64 KiB GSO super-frames whole).")
    var snapshotLength = 262_144

    @Flag(name: .customLong("no-prefilter"), help: "Do not install the kernel filter derived from the sessions: every frame is captured and counted.")
    var noPrefilter = false

    @Flag(name: .customLong("keep-partial-checksums"), help: "Mirror offloaded TCP/UDP checksums as captured instead of finishing them as the NIC would.")
    var keepPartialChecksums = false

    @OptionGroup var senderOptions: SenderOptions

    @Option(help: "Stop after this many seconds (default: run until SIGINT/SIGTERM).")
    var duration: Double?

    func run() throws {
        var options = AttachOptions()
        options.sessionsPath = self.sessionsOptions.sessions
        options.validation.enforceAWSQuotas = !self.sessionsOptions.relaxQuotas
        guard (1...2048).contains(self.bufferSize) else { throw ValidationError("--buffer-size must be 1…2048 MiB") }
        options.capture.bufferBytes = self.bufferSize << 20
        guard (64...262_144).contains(self.snapshotLength) else { throw ValidationError("--snaplen must be 64…262144") }
        options.capture.snapshotLength = self.snapshotLength
        options.prefilter = !self.noPrefilter
        options.completePartialChecksums = !self.keepPartialChecksums
        let sending = try self.senderOptions.parsed()
        options.sourcePorts = sending.sourcePorts
        options.bindAddress = sending.bindAddress
        options.udpSegmentationOffload = sending.segmentationOffload
        options.duration = self.duration
        options.log = { line in logLine("vpcmirror attach: " + line) }
        let report: ReplayReport
        do {
            report = try MirrorAgent.Attach.run(options: options)
        } catch {
            printError("vpcmirror attach: \(error.description)")
            throw ExitCode(2)
        }
        print(report.text)
        try self.senderOptions.writeStats(report, command: "attach")
    }
}

/// A log line on standard error, with the UTC time, flushed at once (logs are read while we run).
func logLine(_ text: String) {
    printError("\(Date.now.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))) \(text)")
}

func printError(_ text: String) {
    TextOutput.standardError(text + "\n")
}

struct Collect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collect",
        abstract: "Receive mirrored traffic (VXLAN over UDP, or capture files) and write HTTP/1.x exchanges as ECS JSON lines.",
        discussion: "Counters go to standard error at the end. SIGINT/SIGTERM write the open exchanges before exiting.")

    @Option(name: .customLong("listen"), help: "ADDRESS:PORT to receive VXLAN on ([v6]:port for IPv6); repeatable. Default 0.0.0.0:4789 unless --read is given.")
    var listen: [String] = []

    @Option(name: .customLong("read"), help: "A pcap or pcapng file to read instead of sockets; repeatable. VXLAN in it is unwrapped, other frames are analysed as they are.")
    var read: [String] = []

    @Option(help: "Where the JSON lines go: a file, or - for standard output.")
    var output = "-"

    @Option(help: "A sessions file: records then carry the TrafficMirrorSessionId of their VNI.")
    var sessions: String?

    @Option(name: .customLong("vxlan-port"), help: "UDP destination ports that carry VXLAN in --read files; repeatable (default 4789 and 8472).")
    var vxlanPorts: [UInt16] = []

    @Option(name: .customLong("body-bytes"), help: "Store the first N bytes of each body in http.*.body.content.")
    var bodyBytes = 0

    @Option(help: "With --listen: stop after this many seconds.")
    var duration: Double?

    @Flag(name: .customLong("no-reuse-port"), help: "Do not share the listening port with other collectors (SO_REUSEPORT).")
    var noReusePort = false

    @Option(help: "With --read only: threads that share the connections (default: the CPUs, at most 4). The output is the same for any number unless a reassembly limit is reached, since each gets that share of the limits.")
    var workers: Int?

    func run() throws {
        var options = CollectOptions()
        options.output = self.output
        options.readFiles = self.read
        options.duration = self.duration
        options.reusePort = !self.noReusePort
        if let workers = self.workers {
            guard (1...64).contains(workers) else { throw ValidationError("--workers: \(workers) is not between 1 and 64") }
            options.workers = workers
        } else {
            options.workers = min(4, max(1, ProcessInfo.processInfo.activeProcessorCount))
        }
        if !self.vxlanPorts.isEmpty { options.collector.vxlanPorts = self.vxlanPorts }
        options.collector.http.bodyCaptureBytes = self.bodyBytes
        let listen = self.listen.isEmpty && self.read.isEmpty ? ["0.0.0.0:4789"] : self.listen
        for text in listen {
            guard let endpoint = parseEndpoint(text) else {
                throw ValidationError("--listen: \"\(text)\" is not ADDRESS:PORT")
            }
            options.listen.append(endpoint)
        }
        if let path = self.sessions {
            var v = ValidationOptions()
            v.enforceAWSQuotas = false
            do {
                let config = try ConfigLoader.load(path: path, options: v)
                for s in config.trafficMirrorSessions { options.collector.sessionsByVNI[s.virtualNetworkId] = s.trafficMirrorSessionId }
            } catch {
                printError(error.description)
                throw ExitCode(2)
            }
        }
        let report: CollectReport
        do {
            report = try MirrorAgent.Collect.run(options: options)
        } catch {
            printError("vpcmirror collect: \(error.description)")
            throw ExitCode(2)
        }
        printError(report.text)
        if let failure = report.outputFailure {
            printError("vpcmirror collect: \(failure)")
            throw ExitCode(2)
        }
    }
}

/// `1.2.3.4:4789`, `[2001:db8::1]:4789`, or an address alone (port 4789).
func parseEndpoint(_ text: String) -> (address: IPAddress, port: UInt16)? {
    var host = Substring(text)
    var port: UInt16 = 4789
    if host.hasPrefix("[") {
        guard let close = host.firstIndex(of: "]") else { return nil }
        let after = host[host.index(after: close)...]
        host = host[host.index(after: host.startIndex)..<close]
        if !after.isEmpty {
            guard after.hasPrefix(":"), let p = UInt16(after.dropFirst()) else { return nil }
            port = p
        }
    } else if host.filter({ $0 == ":" }).count == 1, let colon = host.firstIndex(of: ":") {
        guard let p = UInt16(host[host.index(after: colon)...]) else { return nil }
        port = p
        host = host[..<colon]
    }
    guard let address = IPAddress(host) else { return nil }
    return (address, port)
}

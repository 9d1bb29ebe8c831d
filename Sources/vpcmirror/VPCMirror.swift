// vpcmirror: the command line. It parses arguments and wires modules; the work happens in MirrorAgent.
import ArgumentParser
import Foundation
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
        subcommands: [Validate.self, Replay.self]
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
        abstract: "Replay pcap/pcapng files through the sessions and send the mirrored frames as VXLAN.",
        discussion: "Counters for every frame are printed at the end and add up. Exit 2 on a bad file or config.")

    @OptionGroup var sessionsOptions: SessionsOptions

    @Option(help: "max, original, or a factor of the recorded pace (2 = twice as fast).")
    var speed = "max"

    @Option(help: "Read the files this many times.")
    var loop = 1

    @Option(name: .customLong("stats-json"), help: "Also write the counters as JSON to this file.")
    var statsJSON: String?

    @Option(help: "The source interface MTU: TCP super-frames longer than this are segmented.")
    var mtu = 9001

    @Option(name: .customLong("source-ports"), help: "Outer UDP source port range, FROM-TO (one socket per port).")
    var sourcePorts = "65408-65535"

    @Option(help: "Local address to send from (AWS sends from the source interface's primary address).")
    var bind: String?

    @Option(name: .customLong("queue-full"), help: "When the send queue is full: drop (and count) or wait. Default: wait at max speed, drop when paced.")
    var queueFull: String?

    @Option(name: .customLong("udp-gso"), help: "on: send runs of equal-size datagrams as one UDP GSO message (faster; tcpdump on this host then shows them merged); off: one by one.")
    var udpGSO = "on"

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
        switch self.udpGSO {
        case "on": options.udpSegmentationOffload = true
        case "off": options.udpSegmentationOffload = false
        default: throw ValidationError("--udp-gso: \"\(self.udpGSO)\" is not on or off")
        }
        options.mtu = self.mtu
        let parts = self.sourcePorts.split(separator: "-")
        guard parts.count == 2, let from = UInt16(parts[0]), let to = UInt16(parts[1]), from > 0, from <= to,
            Int(to) - Int(from) < 4096
        else {
            throw ValidationError("--source-ports: \"\(self.sourcePorts)\" is not FROM-TO with 1 ≤ FROM ≤ TO and at most 4096 ports")
        }
        options.sourcePorts = from...to
        if let bind = self.bind {
            guard let a = IPAddress(bind) else { throw ValidationError("--bind: \"\(bind)\" is not an IP address") }
            options.bindAddress = a
        }
        if let q = self.queueFull {
            guard let p = QueueFullPolicy(rawValue: q) else { throw ValidationError("--queue-full: \"\(q)\" is not drop or wait") }
            options.queueFull = p
        }
        if !self.noProgress && isatty(2) != 0 {
            options.progress = { line in FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8)) }
        }
        let report: ReplayReport
        do {
            report = try MirrorAgent.Replay.run(files: self.files, configuration: config, options: options)
        } catch {
            if options.progress != nil { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            if let partial = error.partialReport {
                print(partial.text)
                try self.writeStats(partial)
            }
            printError("vpcmirror replay: \(error.description)")
            throw ExitCode(2)
        }
        if options.progress != nil { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        print(report.text)
        try self.writeStats(report)
    }

    func writeStats(_ report: ReplayReport) throws {
        guard let path = self.statsJSON else { return }
        do {
            try Data((report.json + "\n").utf8).write(to: URL(fileURLWithPath: path))
        } catch {
            printError("vpcmirror replay: cannot write --stats-json \(path): \(error.localizedDescription)")
            throw ExitCode(2)
        }
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

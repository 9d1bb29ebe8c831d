// vpcmirror: the counters of a run, as text for people and JSON for programs.
public import MirrorFilter
import Glibc
import MirrorJSON

/// What a replay did, frame by frame, interface by interface and session by session.
public struct ReplayReport: Sendable {
    public let configuration: MirrorConfiguration
    public let files: [String]
    public let loops: Int
    public let elapsedNanoseconds: Int64
    public let counters: MirrorCounters
    public let malformedReasons: [String: Int]
    /// Send failures by errno name.
    public let sendErrors: [String: Int]
    /// ICMP port-unreachable reports from destinations: a collector is not listening (the copies were sent).
    public let portUnreachable: Int
    public let destinations: [String]
    /// `replay`, or `attach` (then `files` holds the captured interfaces).
    var command = "replay"
    /// Lines the command adds before the accounting line (attach: the kernel's capture drops).
    var notes: [String] = []

    public var framesPerSecond: Double {
        self.elapsedNanoseconds > 0 ? Double(self.counters.frames.framesRead) * 1e9 / Double(self.elapsedNanoseconds) : 0
    }

    /// The report for people: each line shows a total and the parts it adds up to.
    public var text: String {
        let c = self.counters
        let f = c.frames
        var lines: [String] = []
        let seconds = Double(self.elapsedNanoseconds) / 1e9
        if self.command == "replay" {
            lines.append("replay: \(self.files.count) file(s) × \(self.loops), \(f.framesRead) frames in \(format(seconds)) s (\(Int(self.framesPerSecond)) frames/s)")
        } else {
            lines.append("\(self.command): \(self.files.joined(separator: ", ")), \(f.framesRead) frames captured in \(format(seconds)) s")
        }
        var malformed = "malformed \(f.malformed)"
        if !self.malformedReasons.isEmpty {
            malformed += " (" + self.malformedReasons.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")"
        }
        lines.append("frames: read \(f.framesRead) = \(malformed) + not seen \(f.notSeen) + never mirrored \(f.neverMirrored) (non-IP \(f.neverMirroredNonIP), DHCP \(f.neverMirroredDHCP), link-local services \(f.neverMirroredLinkLocal), mirror traffic \(f.neverMirroredOwnOutput)) + seen \(f.seen)")
        for (i, e) in self.configuration.networkInterfaces.enumerated() {
            let x = c.interfaces[i]
            lines.append("interface \(e.networkInterfaceId): observed \(x.observations) (egress \(x.egress), ingress \(x.ingress)) = mirrored \(x.mirrored) + sampled out \(x.sampledOut) + rejected \(x.rejected) + no match \(x.noMatch) + amazon-dns excluded \(x.amazonDNSExcluded)")
        }
        for (i, s) in self.configuration.trafficMirrorSessions.enumerated() {
            let x = c.sessions[i]
            lines.append("session \(s.trafficMirrorSessionId) (number \(s.sessionNumber), VNI \(s.virtualNetworkId), \(s.networkInterfaceId) → \(s.trafficMirrorTargetId)): evaluated \(x.evaluated) = mirrored \(x.mirrored) + sampled out \(x.sampledOut) + rejected \(x.rejected) + no match \(x.noMatch) + amazon-dns excluded \(x.amazonDNSExcluded)")
            lines.append("    mirrored \(x.mirrored): truncated \(x.truncated), segmented \(x.segmented)\(self.command == "attach" ? ", checksums completed \(x.checksumsCompleted)" : ""); datagrams \(x.datagrams) = sent \(x.sent) (\(x.bytesSent) bytes) + dropped \(x.dropped) (queue full \(x.droppedQueueFull), send error \(x.droppedSendError))")
        }
        if !self.sendErrors.isEmpty {
            lines.append("send errors: " + self.sendErrors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        if self.portUnreachable > 0 {
            lines.append("notice: \(self.portUnreachable) ICMP port-unreachable report(s) from the destinations: is the collector listening?")
        }
        lines += self.notes
        lines.append(c.isBalanced ? "accounting: every frame accounted for" : "accounting: COUNTERS DO NOT ADD UP (a bug: please report it)")
        return lines.joined(separator: "\n")
    }

    /// The same counters as one JSON object (snake_case keys, stable order).
    public var json: String {
        let c = self.counters
        let f = c.frames
        let w = JSONWriter()
        w.object {
            w.field("command", self.command)
            w.field(self.command == "replay" ? "files" : "interfaces") { w.array(self.files) { w.string($0) } }
            w.field("loops", self.loops)
            w.field("elapsed_seconds", Double(self.elapsedNanoseconds) / 1e9)
            w.field("frames_per_second", self.framesPerSecond)
            w.field("destinations") { w.array(self.destinations) { w.string($0) } }
            w.field("frames") {
                w.object {
                    w.field("read", f.framesRead)
                    w.field("malformed", f.malformed)
                    w.field("not_seen", f.notSeen)
                    w.field("never_mirrored_non_ip", f.neverMirroredNonIP)
                    w.field("never_mirrored_dhcp", f.neverMirroredDHCP)
                    w.field("never_mirrored_link_local", f.neverMirroredLinkLocal)
                    w.field("never_mirrored_own_output", f.neverMirroredOwnOutput)
                    w.field("seen", f.seen)
                }
            }
            w.field("malformed_reasons") {
                w.object { for (k, v) in self.malformedReasons.sorted(by: { $0.key < $1.key }) { w.field(k, v) } }
            }
            w.field("interfaces") {
                w.array(Array(self.configuration.networkInterfaces.enumerated())) { (i, e) in
                    let x = c.interfaces[i]
                    w.object {
                        w.field("network_interface_id", e.networkInterfaceId)
                        w.field("egress", x.egress)
                        w.field("ingress", x.ingress)
                        w.field("mirrored", x.mirrored)
                        w.field("sampled_out", x.sampledOut)
                        w.field("rejected", x.rejected)
                        w.field("no_match", x.noMatch)
                        w.field("amazon_dns_excluded", x.amazonDNSExcluded)
                    }
                }
            }
            w.field("sessions") {
                w.array(Array(self.configuration.trafficMirrorSessions.enumerated())) { (i, s) in
                    let x = c.sessions[i]
                    w.object {
                        w.field("traffic_mirror_session_id", s.trafficMirrorSessionId)
                        w.field("network_interface_id", s.networkInterfaceId)
                        w.field("traffic_mirror_target_id", s.trafficMirrorTargetId)
                        w.field("session_number", s.sessionNumber)
                        w.field("virtual_network_id", Int(s.virtualNetworkId))
                        w.field("evaluated", x.evaluated)
                        w.field("mirrored", x.mirrored)
                        w.field("sampled_out", x.sampledOut)
                        w.field("rejected", x.rejected)
                        w.field("no_match", x.noMatch)
                        w.field("amazon_dns_excluded", x.amazonDNSExcluded)
                        w.field("truncated", x.truncated)
                        w.field("segmented", x.segmented)
                        w.field("checksums_completed", x.checksumsCompleted)
                        w.field("datagrams", x.datagrams)
                        w.field("sent", x.sent)
                        w.field("bytes_sent", x.bytesSent)
                        w.field("dropped_queue_full", x.droppedQueueFull)
                        w.field("dropped_send_error", x.droppedSendError)
                    }
                }
            }
            w.field("send_errors") {
                w.object { for (k, v) in self.sendErrors.sorted(by: { $0.key < $1.key }) { w.field(k, v) } }
            }
            w.field("icmp_port_unreachable", self.portUnreachable)
            w.field("balanced", c.isBalanced)
        }
        return w.output
    }
}

func format(_ seconds: Double) -> String {
    let ms = (seconds * 1000).rounded() / 1000
    return String(ms)
}

/// The symbolic name of an errno (ECONNREFUSED), or its number.
func errnoName(_ code: Int32) -> String {
    switch code {
    case ECONNREFUSED: "ECONNREFUSED"
    case ENOBUFS: "ENOBUFS"
    case EMSGSIZE: "EMSGSIZE"
    case EHOSTUNREACH: "EHOSTUNREACH"
    case ENETUNREACH: "ENETUNREACH"
    case EPERM: "EPERM"
    case EACCES: "EACCES"
    case EAGAIN: "EAGAIN"
    case EINVAL: "EINVAL"
    default: "errno \(code)"
    }
}

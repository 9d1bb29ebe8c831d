// vpcmirror: the reassembler on real captures, against tshark's `follow,tcp,raw` streams.
import Foundation
import MirrorReassembly
import MirrorTestSupport
import MirrorWire
import Testing

/// A capture reassembled: every connection's streams, and the counters.
private struct Reassembled {
    var recorder = Recorder()
    var counters = ReassemblyCounters()

    init(_ fixture: String, policy: OverlapPolicy = .first) throws {
        let file = try PcapFile(path: Fixtures.path(fixture))
        var limits = ReassemblyLimits()
        limits.overlapPolicy = policy
        var reassembler = TCPReassembler(limits: limits)
        self.recorder.recordsEvents = false
        var last: Int64 = 0
        for record in file.records {
            record.bytes.withUnsafeBytes { bytes in
                guard let summary = try? PacketSummary(decoding: bytes, linkType: record.linkType),
                    summary.transportProtocol == .tcp, summary.hasPorts
                else { return }
                reassembler.process(
                    summary, frame: bytes, key: ConnectionKey(summary), timestamp: record.timestampNanoseconds,
                    delegate: &self.recorder)
            }
            // As a collector would, now and then: the capture's own clock.
            last = max(last, record.timestampNanoseconds)
            reassembler.expire(now: last, delegate: &self.recorder)
        }
        reassembler.closeAll(timestamp: last, delegate: &self.recorder)
        self.counters = reassembler.counters
    }

    /// What each endpoint sent, over all connections between the two endpoints, in connection order.
    func sent(by sender: Endpoint, to receiver: Endpoint) -> (bytes: [UInt8], gaps: [StreamRecord.Gap]) {
        var bytes: [UInt8] = []
        var gaps: [StreamRecord.Gap] = []
        for id in self.recorder.connections.keys.sorted() {
            let connection = self.recorder.connections[id]!
            let initiator = Endpoint(connection.initiator.0, connection.initiator.1)
            let responder = Endpoint(connection.responder.0, connection.responder.1)
            if initiator == sender && responder == receiver {
                bytes += connection.streams[.initiatorToResponder]?.bytes ?? []
                gaps += connection.streams[.initiatorToResponder]?.gaps ?? []
            } else if initiator == receiver && responder == sender {
                bytes += connection.streams[.responderToInitiator]?.bytes ?? []
                gaps += connection.streams[.responderToInitiator]?.gaps ?? []
            }
        }
        return (bytes, gaps)
    }
}

private struct Endpoint: Hashable, CustomStringConvertible {
    var address: IPAddress
    var port: UInt16
    init(_ address: IPAddress, _ port: UInt16) {
        self.address = address
        self.port = port
    }
    /// `1.2.3.4:80` or `[::1]:80`, as tshark's follow header prints it.
    init?(text: Substring) {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else { return nil }
        var host = text[..<colon]
        if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard let address = IPAddress(host) else { return nil }
        self.init(address, port)
    }
    var description: String { "\(self.address):\(self.port)" }
}

/// tshark's reassembly of one TCP stream (`-z follow,tcp,raw,N`): the two nodes and what each sent.
private struct FollowedStream {
    var node0: Endpoint
    var node1: Endpoint
    var fromNode0: [UInt8] = []
    var fromNode1: [UInt8] = []

    static func streamIndices(_ path: String) throws -> [Int] {
        let rows = try Tshark.fields(file: path, fields: ["tcp.stream"], displayFilter: "tcp")
        return Set(rows.compactMap { Int($0[0]) }).sorted()
    }

    init(_ path: String, stream: Int) throws {
        let result = try ToolRunner.run("tshark", ["-n", "-r", path, "-q", "-z", "follow,tcp,raw,\(stream)"])
        guard result.succeeded else { throw ToolError(code: .failed, tool: "tshark", result: result) }
        var node0: Endpoint? = nil
        var node1: Endpoint? = nil
        var fromNode0: [UInt8] = []
        var fromNode1: [UInt8] = []
        for line in result.standardOutputText.split(separator: "\n") {
            if line.hasPrefix("Node 0: ") { node0 = Endpoint(text: line.dropFirst(8)); continue }
            if line.hasPrefix("Node 1: ") { node1 = Endpoint(text: line.dropFirst(8)); continue }
            guard node1 != nil, !line.hasPrefix("=") else { continue }
            let fromSecond = line.hasPrefix("\t")
            let hex = Array(line.drop { $0 == "\t" }.utf8)
            var bytes: [UInt8] = []
            bytes.reserveCapacity(hex.count / 2)
            var index = 0
            while index + 1 < hex.count {
                bytes.append(UInt8(Self.nibble(hex[index]) << 4 | Self.nibble(hex[index + 1])))
                index += 2
            }
            if fromSecond { fromNode1 += bytes } else { fromNode0 += bytes }
        }
        guard let node0, let node1 else { throw ToolError(code: .failed, tool: "tshark", detail: "no nodes in follow output") }
        self.node0 = node0
        self.node1 = node1
        self.fromNode0 = fromNode0
        self.fromNode1 = fromNode1
    }

    private static func nibble(_ c: UInt8) -> UInt8 {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        default: c - UInt8(ascii: "A") + 10
        }
    }
}

@Suite struct CaptureReassemblyTests {
    /// Our streams against tshark's, where tshark's are defined. tshark keys streams by 5-tuple only (the
    /// fixtures here have one VNI/VLAN per 5-tuple) and its follow output has no gap marks, so:
    /// - a stream with no gap and no conflicting overlap must equal tshark's byte for byte;
    /// - otherwise each run of bytes between our gaps must appear in tshark's stream, in order, differing
    ///   only where copies conflicted (`conflictingBytes` in all): where segments disagree, tshark takes
    ///   the copy that arrived in order, we keep the first one (`.first`). Where we report a gap, tshark's
    ///   bytes are no reference (it may hold bytes of a truncated frame, or nothing).
    @Test(
        .enabled(if: ToolRunner.shouldRunTests(needing: "tshark")),
        arguments: [
            "http-ooo-retrans-206-large.pcap", "http-duplicated-packets-206.pcap", "tcp-rxmit-resegmented-webdav.pcap",
            "http11-post-60k-large-segments.pcap", "tcp-overlap-exact-conflict.pcap", "tcp-overlap-partial.pcap",
            "http-handshake-reordered.pcap", "http11-get-simple.pcap", "http-irc-srcport-missing-syn.pcapng",
            "http-range-keepalive-15req-loss.pcap", "http-pipelined-many-retrans.pcap",
        ])
    func agreesWithTsharkFollow(fixture: String) throws {
        let path = Fixtures.path(fixture)
        let ours = try Reassembled(fixture)
        #expect(ours.recorder.violations.isEmpty, "\(ours.recorder.violations.prefix(5))")
        #expect(ours.counters.isBalanced && ours.counters.bufferedBytes == 0)
        let indices = try FollowedStream.streamIndices(path)
        #expect(!indices.isEmpty)
        var mismatches = 0
        for index in indices {
            let theirs = try FollowedStream(path, stream: index)
            for (sender, receiver, reference) in [
                (theirs.node0, theirs.node1, theirs.fromNode0), (theirs.node1, theirs.node0, theirs.fromNode1),
            ] {
                let (bytes, gaps) = ours.sent(by: sender, to: receiver)
                let label = "\(fixture) stream \(index) \(sender) → \(receiver)"
                if gaps.isEmpty && ours.counters.conflictingBytes == 0 {
                    #expect(bytes.count == reference.count, "\(label): \(bytes.count) bytes, tshark \(reference.count)")
                    #expect(bytes == reference, "\(label): bytes differ from tshark's")
                } else if let differing = Self.mismatchesOfRuns(bytes, gaps: gaps, in: reference) {
                    mismatches += differing
                } else {
                    Issue.record("\(label): a run between our gaps is not in tshark's stream; gaps \(gaps)")
                }
            }
        }
        #expect(mismatches <= ours.counters.conflictingBytes, "\(fixture): \(mismatches) bytes differ from tshark's")
    }

    /// Finds each run of bytes between our gaps in `reference`, in order (by its first or last 16 bytes),
    /// and counts the bytes where it differs there.
    /// - Returns: nil when a run cannot be found.
    private static func mismatchesOfRuns(_ bytes: [UInt8], gaps: [StreamRecord.Gap], in reference: [UInt8]) -> Int? {
        var runs: [ArraySlice<UInt8>] = []
        var consumed = 0
        var position: UInt64 = 0
        for gap in gaps {
            let before = Int(gap.offset - position)
            runs.append(bytes[consumed..<consumed + before])
            consumed += before
            position = gap.offset + gap.length
        }
        runs.append(bytes[consumed...])
        var searchFrom = 0
        var mismatches = 0
        for run in runs where !run.isEmpty {
            let anchor = min(16, run.count)
            let place: Int
            if let found = Self.find(run.prefix(anchor), in: reference, from: searchFrom) {
                place = found
            } else if let found = Self.find(run.suffix(anchor), in: reference, from: searchFrom),
                found - (run.count - anchor) >= searchFrom
            {
                place = found - (run.count - anchor)
            } else {
                return nil
            }
            for (i, byte) in run.enumerated() where place + i >= reference.count || reference[place + i] != byte {
                mismatches += 1
            }
            searchFrom = place + run.count
        }
        return mismatches
    }

    private static func find(_ needle: ArraySlice<UInt8>, in haystack: [UInt8], from start: Int) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        var index = start
        while index + needle.count <= haystack.count {
            if haystack[index..<index + needle.count].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }

    // MARK: - Overlap policy on crafted captures

    @Test func exactOverlapFollowsThePolicy() throws {
        let client = Endpoint(IPAddress("1.1.1.1")!, 12_345)
        let server = Endpoint(IPAddress("2.2.2.2")!, 8_080)
        let firstWins = try Reassembled("tcp-overlap-exact-conflict.pcap", policy: .first)
        let lastWins = try Reassembled("tcp-overlap-exact-conflict.pcap", policy: .last)
        #expect(firstWins.sent(by: client, to: server).bytes == Array("GOOD".utf8))
        #expect(lastWins.sent(by: client, to: server).bytes == Array("EVIL".utf8))
        // First wins: GOOD went out at once, and EVIL is a retransmission of delivered bytes (not compared:
        // delivered bytes are not kept). Last wins: GOOD waited for the ACK, and EVIL replaced it.
        #expect(firstWins.counters.retransmittedBytes == 4 && firstWins.counters.closedAtShutdown == 1)
        #expect(lastWins.counters.conflictingBytes == 4 && lastWins.counters.closedAtShutdown == 1)
    }

    @Test func partialOverlapFollowsThePolicy() throws {
        let client = Endpoint(IPAddress("1.1.1.1")!, 12_345)
        let server = Endpoint(IPAddress("2.2.2.2")!, 8_080)
        #expect(try Reassembled("tcp-overlap-partial.pcap", policy: .first).sent(by: client, to: server).bytes
            == Array("GOOD".utf8))
        #expect(try Reassembled("tcp-overlap-partial.pcap", policy: .last).sent(by: client, to: server).bytes
            == Array("GXXX".utf8))
    }

    // MARK: - What the captures are known for

    /// The SYN-ACK is captured before the SYN: one connection, not midstream, the SYN's sender initiates.
    @Test func handshakeReordered() throws {
        let ours = try Reassembled("http-handshake-reordered.pcap")
        #expect(ours.counters.connectionsOpened == 1 && ours.counters.connectionsOpenedMidstream == 0)
        let connection = try #require(ours.recorder.connections[ConnectionID(rawValue: 1)])
        #expect(connection.responder.1 == 80 && !connection.midstream)
        #expect(connection.closeReason == .fin)
        let request = connection.streams[.initiatorToResponder]?.bytes ?? []
        #expect(request.starts(with: Array("GET /download/CHANGES.bro-aux.txt".utf8)))
    }

    /// Almost every packet captured twice: duplicates counted (80, as tshark flags 80 data segments as
    /// retransmissions), streams intact.
    @Test func duplicatedPackets() throws {
        let ours = try Reassembled("http-duplicated-packets-206.pcap")
        #expect(ours.counters.duplicateSegments == 80)
        #expect(ours.counters.lostGaps == 0 && ours.counters.conflictingBytes == 0)
    }

    /// Retransmissions cut at other boundaries fill most holes the capture shows. Three retransmissions
    /// disagree with bytes already buffered (80 bytes: this is Zeek's test of inconsistent retransmissions).
    /// Frames whose IP length exceeds what they carry leave truncated gaps (4, 44 bytes); bytes the server
    /// acknowledged but no frame carried are lost gaps declared on its ACKs (6, 4,332 bytes).
    @Test func resegmentedRetransmissions() throws {
        let ours = try Reassembled("tcp-rxmit-resegmented-webdav.pcap")
        let counters = ours.counters
        #expect(counters.overlappingSegments > 0)
        #expect(counters.conflictingSegments == 3 && counters.conflictingBytes == 80)
        #expect(counters.truncatedGaps == 4 && counters.truncatedBytes == 44)
        #expect(counters.lostGaps == 6 && counters.lostBytes == 4_332 && counters.lostBytesAcknowledged == 4_332)
        let request = ours.recorder.stream(.initiatorToResponder)
        #expect(request.ended && request.nextOffset == 33_208)
        #expect(request.bytes.starts(with: Array("SEARCH /AAAA".utf8)))
        #expect(ours.recorder.connections[ConnectionID(rawValue: 1)]?.closeReason == .fin)
    }
}

// vpcmirror end-to-end tests: the checks every replay test makes on what arrived.
import Testing

enum ReplayChecks {
    /// The multiset of received payloads equals the expected one. On a difference, says how many differ and
    /// shows the first missing and the first unexpected payload.
    static func expectSameDatagrams(
        received: [[UInt8]], expected: [[UInt8]], _ label: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let r = received.sorted(by: lexicographicallyOrdered)
        let e = expected.sorted(by: lexicographicallyOrdered)
        if r == e { return }
        // Merge the two sorted lists to find what is missing and what is extra.
        var missing: [[UInt8]] = []
        var extra: [[UInt8]] = []
        var i = 0
        var j = 0
        while i < e.count || j < r.count {
            if i < e.count && j < r.count && e[i] == r[j] {
                i += 1
                j += 1
            } else if j >= r.count || (i < e.count && e[i].lexicographicallyPrecedes(r[j])) {
                missing.append(e[i])
                i += 1
            } else {
                extra.append(r[j])
                j += 1
            }
        }
        var message = "\(label): received \(r.count) datagrams, expected \(e.count); \(missing.count) expected ones missing, \(extra.count) unexpected"
        if let m = missing.first { message += "\n  first missing:    \(hexPrefix(m, limit: 96))" }
        if let x = extra.first { message += "\n  first unexpected: \(hexPrefix(x, limit: 96))" }
        Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation)
    }

    /// Every datagram came from a port of `range`, and every inner TCP/UDP flow (both directions, keyed with its
    /// VNI) from one port; fragments of one address pair and protocol from one port too.
    /// - Parameter firstFragmentsByPorts: count a first fragment in its 5-tuple flow (it carries the ports)
    ///   rather than with the other fragments of its address pair.
    /// - Returns: the number of flows seen in both directions (a check with none proves nothing).
    @discardableResult
    static func expectOnePortPerFlow(
        _ received: [ReceivedDatagram], expectedInCaptureOrder expected: [[UInt8]] = [], range: ClosedRange<UInt16>,
        _ label: String, sourceLocation: SourceLocation = #_sourceLocation
    ) -> Int {
        // Flow keys follow capture order, so later fragments join their first fragment's flow.
        let keyOf = InnerFlowKey.keysByPayload(inCaptureOrder: expected)
        let outside = received.filter { !range.contains($0.sourcePort) }
        #expect(outside.isEmpty, "\(label): \(outside.count) datagrams from ports outside \(range), first \(outside.first?.sourcePort ?? 0)", sourceLocation: sourceLocation)
        var ports: [InnerFlowKey: Set<UInt16>] = [:]
        var directions: [InnerFlowKey: Set<Bool>] = [:]
        for d in received {
            guard let key = keyOf[d.payload] ?? InnerFlowKey(vxlanPayload: d.payload) else { continue }
            ports[key, default: []].insert(d.sourcePort)
            if let p = ReferenceDecoder.decode(Array(d.payload[8...]), linkType: 1) {
                directions[key, default: []].insert(p.source == key.low && p.sourcePort == key.lowPort)
            }
        }
        let split = ports.filter { $0.value.count > 1 }
        #expect(
            split.isEmpty,
            "\(label): \(split.count) of \(ports.count) flows arrived from more than one outer source port, e.g. \(split.first.map { "\($0.key): \($0.value.sorted())" } ?? "")",
            sourceLocation: sourceLocation)
        return directions.values.filter { $0.count == 2 }.count
    }

    /// Each flow's datagrams arrived in capture order (vpcmirror sends a flow from one port, through one queue).
    /// Flows whose datagrams differ from the expected ones are left to `expectSameDatagrams`.
    static func expectFlowOrder(
        received: [ReceivedDatagram], expected: [[UInt8]], _ label: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        // Flow keys follow capture order, so later fragments join their first fragment's flow.
        let keyOf = InnerFlowKey.keysByPayload(inCaptureOrder: expected)
        func byFlow(_ payloads: [[UInt8]]) -> [InnerFlowKey: [[UInt8]]] {
            var flows: [InnerFlowKey: [[UInt8]]] = [:]
            for p in payloads {
                if let key = keyOf[p] ?? InnerFlowKey(vxlanPayload: p) { flows[key, default: []].append(p) }
            }
            return flows
        }
        let got = byFlow(received.map(\.payload))
        let want = byFlow(expected)
        var reordered: [InnerFlowKey] = []
        for (key, sequence) in want {
            guard let arrived = got[key], arrived.count == sequence.count, arrived != sequence else { continue }
            if arrived.sorted(by: lexicographicallyOrdered) == sequence.sorted(by: lexicographicallyOrdered) {
                reordered.append(key)
            }
        }
        #expect(reordered.isEmpty, "\(label): \(reordered.count) of \(want.count) flows arrived out of order, e.g. \(reordered.first.map(String.init(describing:)) ?? "")", sourceLocation: sourceLocation)
    }

    /// The replay's counters equal the model's: balanced, every record read, the same frame outcomes and the same
    /// number mirrored by each session.
    static func expectCounters(
        _ stats: ReplayStats, _ expected: ReferenceModel.Expectation, records: Int,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(stats.balanced, sourceLocation: sourceLocation)
        #expect(stats.framesRead == records, sourceLocation: sourceLocation)
        // The fixtures carry no UDP to the test's endpoints, so nothing counts as mirror traffic.
        #expect(stats.neverMirroredOwnOutput == 0, sourceLocation: sourceLocation)
        let counted = ReferenceModel.FrameCounts(
            read: stats.framesRead, malformed: stats.malformed, notSeen: stats.notSeen,
            nonIP: stats.neverMirroredNonIP, dhcp: stats.neverMirroredDHCP, linkLocal: stats.neverMirroredLinkLocal,
            seen: stats.seen)
        #expect(counted == expected.frames, sourceLocation: sourceLocation)
        for s in stats.sessions {
            #expect(s.mirrored == expected.mirrored[s.id, default: 0], "session \(s.id) (number \(s.sessionNumber))",
                    sourceLocation: sourceLocation)
        }
    }
}

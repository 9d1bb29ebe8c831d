// vpcmirror: the per-packet path, piece by piece. CI gates on mallocCountTotal (deterministic): each piece
// must allocate nothing. Wall-clock figures come from scripts/bench.sh against tcpreplay and tshark instead.
import Benchmark
import Foundation
import MirrorFilter
import MirrorVXLAN
import MirrorWire

/// A TCP/IPv4 data segment from the web filter's point of view: egress from the interface to port 80.
let frame: [UInt8] = {
    var f: [UInt8] = [0x02, 0, 0, 0, 0, 0x99, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00]
    let payload = [UInt8](repeating: 0x41, count: 512)
    let total = 20 + 20 + payload.count
    f += [0x45, 0, UInt8(total >> 8), UInt8(total & 0xFF), 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 5, 93, 184, 216, 34]
    f += [0x9C, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x18, 0xFF, 0xFF, 0, 0, 0, 0]
    return f + payload
}()

let engine: TrafficMirrorEngine = {
    func rule(_ n: Int, _ a: TrafficMirrorRuleAction, _ p: UInt8?, ports: ClosedRange<UInt16>? = nil) -> TrafficMirrorFilterRule {
        TrafficMirrorFilterRule(
            ruleNumber: n, ruleAction: a, protocol: p.map { IPProtocol(rawValue: $0) },
            sourceCidrBlock: CIDRBlock("0.0.0.0/0")!, destinationCidrBlock: CIDRBlock("0.0.0.0/0")!,
            destinationPortRange: ports.map { TrafficMirrorPortRange(fromPort: $0.lowerBound, toPort: $0.upperBound) })
    }
    // Ten rules, the match last: the worst case AWS's quota allows.
    let rules = (1...9).map { rule($0, .reject, 17, ports: UInt16($0)...UInt16($0)) } + [rule(100, .accept, 6, ports: 80...80)]
    let config = MirrorConfiguration(
        trafficMirrorFilters: [TrafficMirrorFilter(trafficMirrorFilterId: "tmf-1", egressFilterRules: rules)],
        trafficMirrorTargets: [TrafficMirrorTarget(trafficMirrorTargetId: "tmt-1", endpoints: [TrafficMirrorEndpoint(address: IPAddress("127.0.0.1")!)])],
        networkInterfaces: [NetworkInterface(networkInterfaceId: "eni-1", macAddress: MACAddress("02:00:00:00:00:01")!, addresses: [IPAddress("10.0.0.5")!])],
        trafficMirrorSessions: [TrafficMirrorSession(trafficMirrorSessionId: "tms-1", networkInterfaceId: "eni-1", trafficMirrorTargetId: "tmt-1", trafficMirrorFilterId: "tmf-1", sessionNumber: 1, virtualNetworkId: 7, samplingPercent: 50)])
    return TrafficMirrorEngine(configuration: config)
}()

struct ScratchSink: DatagramSink {
    let buffer: UnsafeMutableRawBufferPointer
    mutating func reserve(_ byteCount: Int) -> UnsafeMutableRawBufferPointer? {
        UnsafeMutableRawBufferPointer(rebasing: self.buffer[0..<byteCount])
    }
    mutating func commit(_ byteCount: Int) { blackHole(byteCount) }
}

let benchmarks: @Sendable () -> Void = {
    // CI gates on allocations only (deterministic); wall clock is for a developer's machine (LOCAL_TESTING=1).
    let local = ProcessInfo.processInfo.environment["LOCAL_TESTING"] != nil
    Benchmark.defaultConfiguration = .init(
        metrics: local ? [.mallocCountTotal, .wallClock] : [.mallocCountTotal], scalingFactor: .kilo,
        maxDuration: .seconds(2))

    Benchmark("PacketSummary.decode") { benchmark in
        frame.withUnsafeBytes { raw in
            for _ in benchmark.scaledIterations {
                blackHole(try? PacketSummary(decoding: raw, linkType: .ethernet))
            }
        }
    }

    Benchmark("TrafficMirrorEngine.evaluate") { benchmark in
        let summary = frame.withUnsafeBytes { try! PacketSummary(decoding: $0, linkType: .ethernet) }
        var counters = engine.makeCounters()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(engine.evaluate(summary, counters: &counters))
        }
    }

    Benchmark("VXLANEncapsulator.encapsulate") { benchmark in
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 8)
        defer { buffer.deallocate() }
        var sink = ScratchSink(buffer: buffer)
        let encapsulator = VXLANEncapsulator()
        frame.withUnsafeBytes { raw in
            let summary = try! PacketSummary(decoding: raw, linkType: .ethernet)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(encapsulator.encapsulate(frame: raw, summary: summary, vni: 7, packetLength: nil,
                                                   interfaceMAC: nil, isEgress: true, into: &sink))
            }
        }
    }

    Benchmark("FlowHash") { benchmark in
        let summary = frame.withUnsafeBytes { try! PacketSummary(decoding: $0, linkType: .ethernet) }
        for _ in benchmark.scaledIterations {
            blackHole(FlowHash.hash(summary, seed: 1))
        }
    }
}

// vpcmirror: line dates written with the text of the second before reused: the same as each date written whole.
@testable import MirrorCollector
import MirrorHTTP1
import MirrorJSON
import MirrorWire
import Testing

@Suite struct SecondTextTests {
    @Test func reusedSecondsWriteWhatWholeDatesWrite() {
        let second: Int64 = 1_000_000_000
        let times: [Int64] = [
            0, 1, 999_999_999, second, second + 5, 1_692_957_822_540_448_000, 1_692_957_822_999_999_999,
            1_692_957_823_000_000_000, 1_692_957_823_000_000_000, -1, -1_000_000_000, -1_000_000_001,
            // The ends of the range (years 1677 and 2262), and back.
            .max, .max - 1, .min, .min + 1, 42,
        ]
        var cache = ECSFormatter.SecondText()
        let out = JSONBuffer()
        for t in times {
            out.removeAll()
            ECSFormatter.appendISO8601(nanoseconds: t, into: out, second: &cache)
            #expect(out.withBytes { String(decoding: $0, as: UTF8.self) } == ECSFormatter.iso8601(nanoseconds: t), "\(t)")
        }
    }

    /// A request at the start of Int64's time and its response at the end: the line is written, without a duration.
    @Test func durationPastInt64IsNotWritten() {
        var t = HTTPTransaction()
        t.requestTimestamp = .min
        t.responseEndTimestamp = .max
        let connection = ECSConnection(
            client: (IPAddress("10.0.0.1")!, 40000), server: (IPAddress("10.0.0.2")!, 80), outerVLAN: nil, innerVLAN: nil,
            vni: nil, sessionID: nil)
        let line = ECSFormatter.line(t, on: connection)
        #expect(line.hasPrefix(#"{"@timestamp":"1677-09-21T00:12:43.145224192Z""#), "\(line)")
        #expect(!line.contains("duration"), "\(line)")
        t.requestTimestamp = -5
        #expect(ECSFormatter.line(t, on: connection).contains(#""duration":"#) == false)
        t.responseEndTimestamp = 7
        #expect(ECSFormatter.line(t, on: connection).contains(#""duration":12}"#))
    }
}

// vpcmirror: line dates written with the text of the second before reused: the same as each date written whole.
@testable import MirrorCollector
import MirrorJSON
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
}

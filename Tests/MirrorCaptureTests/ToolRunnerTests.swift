// vpcmirror: ToolRunner and Tshark: output, exit status, timeouts, PATH lookup.
import Foundation
import MirrorTestSupport
import Testing

@Suite struct ToolRunnerTests {
    @Test("output, error output and exit status come back")
    func outputAndStatus() throws {
        let result = try ToolRunner.run("sh", ["-c", "echo out; echo err >&2; exit 3"])
        #expect(result.exitStatus == 3)
        #expect(!result.succeeded)
        #expect(result.standardOutputText == "out\n")
        #expect(result.standardErrorText == "err\n")
        #expect(result.executable.hasSuffix("/sh"))
    }

    @Test("standard input is fed, and output larger than a pipe buffer does not block")
    func inputAndLargeOutput() throws {
        let input = [UInt8](repeating: UInt8(ascii: "x"), count: 300_000)
        let result = try ToolRunner.run("cat", standardInput: input)
        #expect(result.succeeded)
        #expect(result.standardOutput == input)
    }

    @Test("a tool that runs too long is killed")
    func timeout() throws {
        let started = ContinuousClock.now
        let error = #expect(throws: ToolError(code: .timedOut, tool: "sleep")) {
            try ToolRunner.run("sleep", ["30"], timeout: .milliseconds(300))
        }
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(error?.result != nil)
    }

    @Test("a missing tool is notFound")
    func missing() {
        #expect(ToolRunner.find("vpcmirror-no-such-tool") == nil)
        #expect(throws: ToolError(code: .notFound, tool: "vpcmirror-no-such-tool")) {
            try ToolRunner.run("vpcmirror-no-such-tool")
        }
        #expect(ToolRunner.find("sh") != nil)
        #expect(ToolRunner.find("/bin/sh") == "/bin/sh")
    }

    @Test(
        "Tshark.fields returns one row per frame, with empty fields kept",
        .tags(.tools),
        .enabled(if: ToolRunner.shouldRunTests(needing: "tshark"), "tshark is not installed (VPCMIRROR_REQUIRE_TOOLS=1 fails instead)")
    )
    func tsharkFields() throws {
        guard tsharkIsAvailable() else { return }
        let path = Fixtures.path("http-keepalive-browser-wikipedia.pcap")
        let rows = try Tshark.fields(file: path, fields: ["frame.number", "ipv6.src", "udp.srcport"])
        #expect(rows.count == 136)
        #expect(rows.allSatisfy { $0.count == 3 })
        #expect(rows[0] == ["1", "", "5353"])
        let filtered = try Tshark.fields(file: path, fields: ["frame.number"], displayFilter: "ipv6")
        #expect(filtered.count == 5)
        #expect(try Tshark.frameCount(file: path) == 136)
        #expect(throws: ToolError(code: .failed, tool: "tshark")) {
            try Tshark.fields(file: path, fields: ["no.such.field"])
        }
    }
}

@Suite struct FixturesTests {
    @Test("Fixtures finds the directory from the source tree")
    func location() {
        #expect(Fixtures.directory.path.hasSuffix("/Tests/Fixtures"))
        #expect(FileManager.default.fileExists(atPath: Fixtures.path("http11-get-simple.pcap")))
        #expect(Fixtures.url("x.pcap").lastPathComponent == "x.pcap")
        #expect(Fixtures.all == Fixtures.all.sorted())
        #expect(!Fixtures.all.contains("LICENSES.md"))
    }

    @Test("LICENSES.md names every fixture, with an origin and a licence")
    func licences() throws {
        let text = try String(contentsOf: Fixtures.url("LICENSES.md"), encoding: .utf8)
        let rows = text.split(separator: "\n").filter { $0.hasPrefix("| `") }
        let names = rows.compactMap { row in row.split(separator: "`").dropFirst().first.map(String.init) }
        #expect(names.sorted() == Fixtures.all)
        for row in rows {
            let licence = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }[2]
            #expect(["BSD-3-Clause", "MIT", "GPL-3.0"].contains(licence), "\(row)")
        }
    }
}

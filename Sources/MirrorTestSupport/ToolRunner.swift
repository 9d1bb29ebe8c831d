// vpcmirror: runs external tools (tshark, tcpdump…) from tests, with captured output and a timeout.
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a finished tool run produced.
public struct ToolResult: Hashable, Sendable {
    public var executable: String
    public var arguments: [String]
    public var exitStatus: Int32
    public var standardOutput: [UInt8]
    public var standardError: [UInt8]

    /// The exit status was 0.
    public var succeeded: Bool { self.exitStatus == 0 }
    public var standardOutputText: String { String(decoding: self.standardOutput, as: UTF8.self) }
    public var standardErrorText: String { String(decoding: self.standardError, as: UTF8.self) }
}

/// A tool that could not be found, started or finished in time, or that failed.
public struct ToolError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable { case notFound, launchFailed, timedOut, failed }
        private var base: Base
        /// No executable of that name on `PATH`.
        public static let notFound = Code(base: .notFound)
        /// The process could not be started.
        public static let launchFailed = Code(base: .launchFailed)
        /// It ran past its timeout and was killed.
        public static let timedOut = Code(base: .timedOut)
        /// It exited with a non-zero status (thrown by helpers such as `Tshark`, not by `ToolRunner.run`).
        public static let failed = Code(base: .failed)
        public var description: String {
            switch self.base {
            case .notFound: "not found"
            case .launchFailed: "could not be started"
            case .timedOut: "timed out"
            case .failed: "failed"
            }
        }
    }

    public let code: Code
    public let tool: String
    public let detail: String
    /// The output so far, for `timedOut` and `failed`.
    public let result: ToolResult?

    public init(code: Code, tool: String, detail: String = "", result: ToolResult? = nil) {
        self.code = code
        self.tool = tool
        self.detail = detail
        self.result = result
    }

    public static func == (l: Self, r: Self) -> Bool { l.code == r.code && l.tool == r.tool }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.code)
        hasher.combine(self.tool)
    }

    public var description: String {
        var text = "\(self.tool) \(self.code)"
        if !self.detail.isEmpty { text += ": \(self.detail)" }
        if let stderr = self.result?.standardErrorText, !stderr.isEmpty { text += "\nstderr: \(stderr)" }
        return text
    }
}

/// Runs a command and waits for it, capturing its output; kills it when the timeout expires.
public enum ToolRunner {
    /// True when `VPCMIRROR_REQUIRE_TOOLS=1`: tests that need a missing tool must fail, not skip.
    public static var toolsRequired: Bool {
        ProcessInfo.processInfo.environment["VPCMIRROR_REQUIRE_TOOLS"] == "1"
    }

    /// Whether a test that needs `tool` should run: the tool is installed, or tools are required (and the
    /// test will then fail on the missing tool). Use with `.enabled(if:)`.
    public static func shouldRunTests(needing tool: String) -> Bool {
        self.find(tool) != nil || self.toolsRequired
    }

    /// The path of an executable named `name` on `PATH`; a name with a `/` is checked as it is.
    /// - Returns: nil when there is none.
    public static func find(_ name: String) -> String? {
        let fileManager = FileManager.default
        if name.contains("/") {
            return fileManager.isExecutableFile(atPath: name) ? name : nil
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(name)"
            if fileManager.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Runs `tool` (a name looked up on `PATH`, or a path) and waits for it to exit.
    /// - Parameters:
    ///   - timeout: how long to wait before killing it with SIGKILL.
    ///   - standardInput: bytes fed to the tool's standard input; empty input by default.
    ///   - environment: replaces the inherited environment when given.
    /// - Returns: the result whatever the exit status; check `succeeded`.
    /// - Throws: `ToolError` with `notFound`, `launchFailed` or `timedOut`.
    @discardableResult
    public static func run(
        _ tool: String,
        _ arguments: [String] = [],
        timeout: Duration = .seconds(60),
        standardInput: [UInt8] = [],
        environment: [String: String]? = nil
    ) throws(ToolError) -> ToolResult {
        guard let executable = self.find(tool) else {
            throw ToolError(code: .notFound, tool: tool, detail: "not on PATH")
        }
        // Output goes to files rather than pipes: a tool that writes more than a pipe holds cannot
        // block on us, and we need no reader threads.
        let scratch = FileManager.default.temporaryDirectory
            .appendingPathComponent("vpcmirror-tool-\(UUID().uuidString)")
        let outputURL = scratch.appendingPathExtension("out")
        let errorURL = scratch.appendingPathExtension("err")
        let inputURL = scratch.appendingPathExtension("in")
        defer {
            for url in [outputURL, errorURL, inputURL] { try? FileManager.default.removeItem(at: url) }
        }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        do {
            guard FileManager.default.createFile(atPath: outputURL.path, contents: nil),
                FileManager.default.createFile(atPath: errorURL.path, contents: nil),
                FileManager.default.createFile(atPath: inputURL.path, contents: Data(standardInput))
            else {
                throw ToolError(code: .launchFailed, tool: tool, detail: "cannot create files in \(scratch.deletingLastPathComponent().path)")
            }
            let output = try FileHandle(forWritingTo: outputURL)
            let errors = try FileHandle(forWritingTo: errorURL)
            let input = try FileHandle(forReadingFrom: inputURL)
            defer {
                try? output.close()
                try? errors.close()
                try? input.close()
            }
            process.standardOutput = output
            process.standardError = errors
            process.standardInput = input
            try process.run()
        } catch let error as ToolError {
            throw error
        } catch {
            throw ToolError(code: .launchFailed, tool: tool, detail: "\(error)")
        }

        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        let timedOut = finished.wait(timeout: .now() + seconds) == .timedOut
        if timedOut {
            kill(process.processIdentifier, SIGKILL)
            finished.wait()
        }
        let result = ToolResult(
            executable: executable,
            arguments: arguments,
            exitStatus: process.terminationStatus,
            standardOutput: [UInt8]((try? Data(contentsOf: outputURL)) ?? Data()),
            standardError: [UInt8]((try? Data(contentsOf: errorURL)) ?? Data())
        )
        if timedOut {
            throw ToolError(code: .timedOut, tool: tool, detail: "killed after \(timeout)", result: result)
        }
        return result
    }
}

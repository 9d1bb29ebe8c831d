// vpcmirror: tshark as a referee: what Wireshark's dissectors say about a capture.
import Foundation

/// Runs `tshark -r FILE -T fields` and returns its table.
public enum Tshark {
    /// tshark's path, or nil when it is not installed.
    public static var path: String? { ToolRunner.find("tshark") }

    /// Runs `tshark -n -r FILE -T fields -E separator=/t -e FIELD… [-Y FILTER] EXTRA…`.
    /// - Parameters:
    ///   - fields: tshark field names (`frame.number`, `ip.src`, `tcp.analysis.retransmission`…).
    ///   - displayFilter: a `-Y` display filter; frames that do not match are left out.
    ///   - extraArgs: more arguments, such as `["-2"]` for two-pass analysis or `["-d", "tcp.port==22,http"]`.
    /// - Returns: one row per frame, one column per field; an absent field is an empty string, and a
    ///   field with several occurrences is comma-separated as tshark prints it.
    /// - Throws: `ToolError` when tshark is missing, fails or times out.
    public static func fields(
        file: String,
        fields: [String],
        displayFilter: String? = nil,
        extraArgs: [String] = [],
        timeout: Duration = .seconds(300)
    ) throws(ToolError) -> [[String]] {
        var arguments = ["-n", "-r", file, "-T", "fields", "-E", "separator=/t"]
        for field in fields { arguments += ["-e", field] }
        if let displayFilter { arguments += ["-Y", displayFilter] }
        arguments += extraArgs
        let result = try ToolRunner.run("tshark", arguments, timeout: timeout)
        guard result.succeeded else {
            throw ToolError(code: .failed, tool: "tshark", detail: "exit status \(result.exitStatus)", result: result)
        }
        var lines = result.standardOutputText.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }
        return lines.map { line in
            line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
    }

    /// The number of frames tshark reads from `file`.
    public static func frameCount(file: String) throws(ToolError) -> Int {
        try self.fields(file: file, fields: ["frame.number"]).count
    }
}

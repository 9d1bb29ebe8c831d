// vpcmirror: what a sessions file got wrong: every problem, each with its JSON path and value.

/// How strictly `SessionsFile.parse` checks a file.
public struct ValidationOptions: Hashable, Sendable {
    /// Enforce AWS's quotas: at most 3 sessions per network interface and 10 rules per filter, and PacketLength
    /// at most 8500. When false, those limits go (PacketLength may reach 65535); ranges and references stay.
    public var enforceAWSQuotas = true
    public init() {}
}

/// All the problems found in one sessions file.
public struct ConfigError: Error, Hashable, CustomStringConvertible {
    /// In the order they were found; never empty.
    public var problems: [ConfigProblem]

    public init(problems: [ConfigProblem]) {
        self.problems = problems
    }

    /// One line per problem.
    public var description: String {
        self.problems.map(\.description).joined(separator: "\n")
    }
}

/// One thing wrong in a sessions file.
public struct ConfigProblem: Hashable, Sendable, CustomStringConvertible {
    public var fileName: String
    /// Where, as a JSON path such as `TrafficMirrorFilters[0].IngressFilterRules[2].DestinationCidrBlock`.
    /// For a missing field, the path the field would have. Empty for syntax errors and for the top-level value.
    public var path: String
    /// The offending value as compact JSON text (long values are cut and end with `…`); `nil` when there is
    /// none, as for a missing field, an unknown field or a syntax error.
    public var value: String?
    /// What is wrong. It quotes the value where there is one. For syntax errors it starts with the position:
    /// `byte 123 (line 4, column 7): …`, where the byte offset is zero-based.
    public var message: String

    public init(fileName: String, path: String, value: String?, message: String) {
        self.fileName = fileName
        self.path = path
        self.value = value
        self.message = message
    }

    /// `sessions.json: TrafficMirrorSessions[0].SessionNumber: 40000 is out of range (1 to 32766)`.
    public var description: String {
        self.path.isEmpty ? "\(self.fileName): \(self.message)" : "\(self.fileName): \(self.path): \(self.message)"
    }
}

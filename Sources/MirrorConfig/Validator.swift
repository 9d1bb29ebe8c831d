// vpcmirror: typed reads from JSON that record a problem, with its path, instead of stopping at the first.

/// The field names one kind of object accepts.
struct FieldNames {
    /// Fields we read.
    var read: [String]
    /// AWS fields we accept and do not look inside.
    var ignored: [String] = []

    var all: [String] { self.read + self.ignored }
}

/// An object whose keys were checked against its `FieldNames`.
struct Fields {
    let path: String
    let values: [String: JSONValue]
    /// Keys in file order.
    let keys: [String]
    /// Known names suggested for unknown keys: a missing field that was suggested is not reported again.
    var suggested: Set<String> = []

    subscript(key: String) -> JSONValue? { self.values[key] }

    func path(_ key: String) -> String { self.path.isEmpty ? key : "\(self.path).\(key)" }
}

/// Collects problems while reading values. Every read returns `nil` after recording why, so callers go on
/// checking the next field, and a later check that needs a bad value is skipped rather than reported twice.
struct Validator {
    let fileName: String
    let options: ValidationOptions
    private(set) var problems: [ConfigProblem] = []

    /// Longest quoted value in a message.
    static let quoteLimit = 80

    init(fileName: String, options: ValidationOptions) {
        self.fileName = fileName
        self.options = options
    }

    // MARK: - Reporting

    static func quote(_ value: JSONValue) -> String { value.jsonText(limit: Self.quoteLimit) }

    static func quote(_ string: String) -> String { Self.quote(JSONValue.string(string)) }

    /// Records a problem; `message` is complete and quotes the value where that reads better.
    mutating func report(_ path: String, _ value: JSONValue?, _ message: String) {
        self.problems.append(
            ConfigProblem(
                fileName: self.fileName,
                path: path,
                value: value.map(Self.quote),
                message: message
            )
        )
    }

    /// Records "<value> <predicate>", e.g. `"10.0.0/8" is not a CIDR`.
    mutating func reject(_ path: String, _ value: JSONValue, _ predicate: String) {
        self.report(path, value, "\(Self.quote(value)) \(predicate)")
    }

    mutating func wrongType(_ path: String, _ value: JSONValue, expected: String) {
        let found: String
        switch value {
        case .null: found = "null"
        case .bool: found = "the boolean \(Self.quote(value))"
        case .number: found = "the number \(Self.quote(value))"
        case .string: found = "the string \(Self.quote(value))"
        case .array, .object: found = value.kindName
        }
        self.report(path, value, "\(path.isEmpty ? "the top level: " : "")expected \(expected), not \(found)")
    }

    mutating func missing(_ fields: Fields, _ key: String) {
        // `"Toport": 2` already said "did you mean ToPort?"; "ToPort is missing" would say it twice.
        guard !fields.suggested.contains(key) else { return }
        self.report(fields.path(key), nil, "required field is missing")
    }

    // MARK: - Objects

    /// Checks that `value` is an object whose keys are all in `names`; reports each unknown key.
    mutating func object(_ value: JSONValue, at path: String, _ names: FieldNames) -> Fields? {
        guard case .object(let members) = value else {
            self.wrongType(path, value, expected: "an object")
            return nil
        }
        var values: [String: JSONValue] = [:]
        var keys: [String] = []
        values.reserveCapacity(members.count)
        keys.reserveCapacity(members.count)
        var suggested: Set<String> = []
        for member in members {
            if !names.read.contains(member.key) && !names.ignored.contains(member.key) {
                var message = "unknown field"
                if let suggestion = Self.closest(to: member.key, in: names.all) {
                    message += "; did you mean \(suggestion)?"
                    suggested.insert(suggestion)
                }
                self.report(path.isEmpty ? member.key : "\(path).\(member.key)", nil, message)
                continue
            }
            values[member.key] = member.value
            keys.append(member.key)
        }
        return Fields(path: path, values: values, keys: keys, suggested: suggested)
    }

    /// The known name nearest to `key` when at most 2 edits away; ties go to the earlier name.
    static func closest(to key: String, in names: [String]) -> String? {
        let a = Array(key.unicodeScalars)
        var best: (name: String, distance: Int)? = nil
        for name in names {
            let b = Array(name.unicodeScalars)
            guard abs(a.count - b.count) <= 2 else { continue }
            let d = Self.editDistance(a, b)
            if d <= 2 && d < (best?.distance ?? Int.max) {
                best = (name, d)
            }
        }
        return best?.name
    }

    /// Levenshtein distance (insert, delete, substitute; each costs 1).
    static func editDistance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(substitution, previous[j] + 1, current[j - 1] + 1)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }

    // MARK: - Scalars

    /// A string field. `nonEmpty` rejects `""`.
    mutating func string(_ fields: Fields, _ key: String, required: Bool = false, nonEmpty: Bool = false) -> String? {
        guard let value = fields[key] else {
            if required { self.missing(fields, key) }
            return nil
        }
        return self.string(value, at: fields.path(key), nonEmpty: nonEmpty)
    }

    mutating func string(_ value: JSONValue, at path: String, nonEmpty: Bool = false) -> String? {
        guard case .string(let s) = value else {
            self.wrongType(path, value, expected: "a string")
            return nil
        }
        if nonEmpty && s.isEmpty {
            self.report(path, value, "must not be empty")
            return nil
        }
        return s
    }

    /// An integer field inside `range`. Only integer syntax is accepted: `1.0` and `1e2` are not integers.
    mutating func integer(_ fields: Fields, _ key: String, required: Bool = false, in range: ClosedRange<Int>) -> Int? {
        guard let value = fields[key] else {
            if required { self.missing(fields, key) }
            return nil
        }
        return self.integer(value, at: fields.path(key), in: range)
    }

    /// - Parameter hintAbove: added to the message when the value is above the range, e.g. how to lift a quota.
    mutating func integer(
        _ value: JSONValue,
        at path: String,
        in range: ClosedRange<Int>,
        hintAbove: String? = nil
    ) -> Int? {
        guard let (negative, magnitude) = self.integerParts(value, at: path) else { return nil }
        let bounds = "\(range.lowerBound) to \(range.upperBound)"
        guard let magnitude, magnitude <= UInt64(Int.max) else {
            self.reject(path, value, "is out of range (\(bounds)\(negative ? "" : hintAbove.map { "; " + $0 } ?? ""))")
            return nil
        }
        let n = negative ? -Int(magnitude) : Int(magnitude)
        guard range.contains(n) else {
            let hint = n > range.upperBound ? hintAbove.map { "; " + $0 } ?? "" : ""
            self.reject(path, value, "is out of range (\(bounds)\(hint))")
            return nil
        }
        return n
    }

    /// An unsigned 64-bit integer field (0 to 2^64-1).
    mutating func unsigned64(_ value: JSONValue, at path: String) -> UInt64? {
        guard let (negative, magnitude) = self.integerParts(value, at: path) else { return nil }
        guard let magnitude, !negative || magnitude == 0 else {
            self.reject(path, value, "is out of range (0 to \(UInt64.max))")
            return nil
        }
        return magnitude
    }

    /// Sign and magnitude of an integer literal; the magnitude is `nil` when it does not fit 64 bits.
    private mutating func integerParts(_ value: JSONValue, at path: String) -> (Bool, UInt64?)? {
        guard case .number(let text) = value else {
            self.wrongType(path, value, expected: "an integer")
            return nil
        }
        var digits = Substring(text)
        let negative = digits.first == "-"
        if negative { digits = digits.dropFirst() }
        guard digits.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            self.reject(path, value, "is not an integer")
            return nil
        }
        var magnitude: UInt64? = 0
        for d in digits.utf8 {
            guard let m = magnitude else { break }
            let (times10, o1) = m.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(d - UInt8(ascii: "0")))
            magnitude = o1 || o2 ? nil : sum
        }
        return (negative, magnitude)
    }

    /// A number field (any JSON number), as a `Double`.
    mutating func double(_ fields: Fields, _ key: String) -> Double? {
        guard let value = fields[key] else { return nil }
        guard case .number(let text) = value else {
            self.wrongType(fields.path(key), value, expected: "a number")
            return nil
        }
        // The parser checked the syntax, and JSON number syntax is a subset of what Double(_:) reads.
        guard let d = Double(text) else {
            self.reject(fields.path(key), value, "is not a number")
            return nil
        }
        return d
    }

    /// An array field.
    mutating func array(_ fields: Fields, _ key: String, required: Bool = false) -> [JSONValue]? {
        guard let value = fields[key] else {
            if required { self.missing(fields, key) }
            return nil
        }
        guard case .array(let elements) = value else {
            self.wrongType(fields.path(key), value, expected: "an array")
            return nil
        }
        return elements
    }
}

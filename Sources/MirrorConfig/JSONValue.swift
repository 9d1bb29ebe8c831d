// vpcmirror: a JSON value as the config loader sees it: key order kept, numbers kept as their text.

/// One JSON value (RFC 8259).
///
/// Numbers keep the text they were written with, so an integer is exact whatever its size, and the loader
/// decides per field what a number may be. Objects keep their members in file order.
public enum JSONValue: Hashable, Sendable {
    case null
    case bool(Bool)
    /// The number exactly as written, e.g. `"40000"` or `"1.5e3"`; always valid RFC 8259 number syntax.
    case number(String)
    case string(String)
    case array([JSONValue])
    /// Members in file order. Keys are unique: the parser rejects an object that repeats one.
    case object([Member])

    /// One `"key": value` pair of an object.
    public struct Member: Hashable, Sendable {
        public var key: String
        public var value: JSONValue
        public init(key: String, value: JSONValue) {
            self.key = key
            self.value = value
        }
    }
}

extension JSONValue: CustomStringConvertible {
    /// Compact JSON text for the value, e.g. `{"FromPort":80,"ToPort":80}`.
    public var description: String { self.jsonText(limit: Int.max) }

    /// Compact JSON text, cut after about `limit` characters and ended with `…` when cut.
    /// Problems quote values with this, so one huge value cannot make a huge message.
    func jsonText(limit: Int) -> String {
        var out = ""
        self.write(into: &out, limit: limit)
        // utf8.count is O(1) on native strings; the cut itself counts characters.
        if out.utf8.count > limit, out.count > limit {
            out = String(out.prefix(limit)) + "…"
        }
        return out
    }

    // Recursion is bounded: parsed values nest at most `JSONParser.maximumDepth` deep.
    private func write(into out: inout String, limit: Int) {
        if out.utf8.count > limit { return }
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let text): out += text
        case .string(let s): Self.writeString(s, into: &out)
        case .array(let elements):
            out += "["
            for (i, element) in elements.enumerated() {
                if out.utf8.count > limit { return }
                if i > 0 { out += "," }
                element.write(into: &out, limit: limit)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, member) in members.enumerated() {
                if out.utf8.count > limit { return }
                if i > 0 { out += "," }
                Self.writeString(member.key, into: &out)
                out += ":"
                member.value.write(into: &out, limit: limit)
            }
            out += "}"
        }
    }

    static func writeString(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }

    /// "a string", "an object", …: the JSON type, for messages.
    var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

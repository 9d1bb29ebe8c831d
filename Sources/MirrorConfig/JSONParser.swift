// vpcmirror: an RFC 8259 parser that is safe on any input: capped depth, no traps, exact error positions.

/// A JSON text that is not valid, and where.
public struct JSONSyntaxError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Zero-based byte offset of the problem; equal to the input's length when the input ends too early.
    public var offset: Int
    /// One-based line (lines end at LF).
    public var line: Int
    /// One-based column, counted in Unicode scalars from the start of the line.
    public var column: Int
    public var message: String

    public init(offset: Int, line: Int, column: Int, message: String) {
        self.offset = offset
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String { "byte \(self.offset) (line \(self.line), column \(self.column)): \(self.message)" }
}

/// Parses JSON text (RFC 8259) from bytes.
///
/// Strict on purpose, because it reads configuration: no comments, no trailing commas, no duplicate keys in one
/// object, nothing but whitespace after the value, and UTF-8 only (a leading UTF-8 byte order mark is skipped).
/// Arrays and objects nest at most `maximumDepth` deep, so no input can exhaust the stack.
public enum JSONParser {
    /// How deep arrays and objects may nest. The sessions file needs 5.
    public static let maximumDepth = 64

    /// - Returns: the one value the bytes hold.
    /// - Throws: `JSONSyntaxError` at the first byte that is not valid JSON.
    public static func parse(_ bytes: [UInt8]) throws(JSONSyntaxError) -> JSONValue {
        var parser = Parser(bytes: bytes)
        return try parser.parseDocument()
    }
}

// MARK: - The parser

private struct Parser {
    let bytes: [UInt8]
    var index = 0

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    mutating func parseDocument() throws(JSONSyntaxError) -> JSONValue {
        if self.bytes.starts(with: [0xEF, 0xBB, 0xBF]) { self.index = 3 }
        self.skipWhitespace()
        guard self.index < self.bytes.count else {
            throw self.error(self.bytes.isEmpty ? "empty input; expected a JSON value" : "expected a JSON value")
        }
        let value = try self.parseValue(depth: 0)
        self.skipWhitespace()
        guard self.index == self.bytes.count else {
            throw self.error("unexpected \(self.describeByte(at: self.index)) after the end of the JSON value")
        }
        return value
    }

    // MARK: Errors

    func error(_ message: String, at offset: Int? = nil) -> JSONSyntaxError {
        let offset = min(offset ?? self.index, self.bytes.count)
        var line = 1
        var lineStart = 0
        for i in 0..<offset where self.bytes[i] == UInt8(ascii: "\n") {
            line += 1
            lineStart = i + 1
        }
        // Count scalars, not bytes: UTF-8 continuation bytes (10xxxxxx) do not start a column.
        var column = 1
        for i in lineStart..<offset where self.bytes[i] & 0xC0 != 0x80 {
            column += 1
        }
        return JSONSyntaxError(offset: offset, line: line, column: column, message: message)
    }

    func describeByte(at offset: Int) -> String {
        guard offset < self.bytes.count else { return "end of input" }
        let b = self.bytes[offset]
        if b == UInt8(ascii: "'") { return "\"'\"" }
        if b >= 0x21 && b < 0x7F {
            return "'\(Character(Unicode.Scalar(b)))'"
        }
        let hex = String(b, radix: 16, uppercase: true)
        return "byte 0x" + (b < 16 ? "0" : "") + hex
    }

    /// "unexpected end of input; expected …" or "expected …, found 'x'".
    func expected(_ what: String) -> JSONSyntaxError {
        if self.index >= self.bytes.count {
            return self.error("unexpected end of input; expected \(what)")
        }
        return self.error("expected \(what), found \(self.describeByte(at: self.index))")
    }

    // MARK: Structure

    mutating func skipWhitespace() {
        while self.index < self.bytes.count {
            switch self.bytes[self.index] {
            case 0x20, 0x09, 0x0A, 0x0D: self.index += 1
            default: return
            }
        }
    }

    func peek() -> UInt8? {
        self.index < self.bytes.count ? self.bytes[self.index] : nil
    }

    /// `depth` is the number of arrays and objects around this value.
    mutating func parseValue(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        guard let b = self.peek() else { throw self.expected("a JSON value") }
        switch b {
        case UInt8(ascii: "{"):
            return try self.parseObject(depth: depth + 1)
        case UInt8(ascii: "["):
            return try self.parseArray(depth: depth + 1)
        case UInt8(ascii: "\""):
            return .string(try self.parseString())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try self.parseNumber())
        case UInt8(ascii: "t"):
            try self.parseLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try self.parseLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try self.parseLiteral("null")
            return .null
        default:
            throw self.expected("a JSON value")
        }
    }

    mutating func parseLiteral(_ word: StaticString) throws(JSONSyntaxError) {
        let start = self.index
        let count = word.utf8CodeUnitCount
        for k in 0..<count {
            let expected = word.utf8Start[k]
            guard self.index < self.bytes.count, self.bytes[self.index] == expected else {
                let found = self.index < self.bytes.count ? "" : " (input ends)"
                throw self.error("invalid literal; expected \(word)\(found)", at: self.index < self.bytes.count ? start : nil)
            }
            self.index += 1
        }
    }

    mutating func checkDepth(_ depth: Int) throws(JSONSyntaxError) {
        guard depth <= JSONParser.maximumDepth else {
            throw self.error("arrays and objects nest more than \(JSONParser.maximumDepth) deep")
        }
    }

    mutating func parseObject(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        try self.checkDepth(depth)
        self.index += 1  // '{'
        var members: [JSONValue.Member] = []
        var keys: Set<String> = []
        self.skipWhitespace()
        if self.peek() == UInt8(ascii: "}") {
            self.index += 1
            return .object([])
        }
        while true {
            guard self.peek() == UInt8(ascii: "\"") else {
                if members.isEmpty {
                    throw self.expected("a string key or '}'")
                }
                if self.peek() == UInt8(ascii: "}") {
                    throw self.error("trailing comma before '}'")
                }
                throw self.expected("a string key after ','")
            }
            let keyOffset = self.index
            let key = try self.parseString()
            guard keys.insert(key).inserted else {
                var quoted = ""
                JSONValue.writeString(key, into: &quoted)
                throw self.error("duplicate key \(quoted) in one object", at: keyOffset)
            }
            self.skipWhitespace()
            guard self.peek() == UInt8(ascii: ":") else { throw self.expected("':' after an object key") }
            self.index += 1
            self.skipWhitespace()
            let value = try self.parseValue(depth: depth)
            members.append(JSONValue.Member(key: key, value: value))
            self.skipWhitespace()
            switch self.peek() {
            case UInt8(ascii: ","):
                self.index += 1
                self.skipWhitespace()
            case UInt8(ascii: "}"):
                self.index += 1
                return .object(members)
            default:
                throw self.expected("',' or '}' after an object member")
            }
        }
    }

    mutating func parseArray(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        try self.checkDepth(depth)
        self.index += 1  // '['
        var elements: [JSONValue] = []
        self.skipWhitespace()
        if self.peek() == UInt8(ascii: "]") {
            self.index += 1
            return .array([])
        }
        while true {
            if !elements.isEmpty && self.peek() == UInt8(ascii: "]") {
                throw self.error("trailing comma before ']'")
            }
            elements.append(try self.parseValue(depth: depth))
            self.skipWhitespace()
            switch self.peek() {
            case UInt8(ascii: ","):
                self.index += 1
                self.skipWhitespace()
            case UInt8(ascii: "]"):
                self.index += 1
                return .array(elements)
            default:
                throw self.expected("',' or ']' after an array element")
            }
        }
    }

    // MARK: Numbers

    /// Checks RFC 8259 number syntax and returns the text as written.
    mutating func parseNumber() throws(JSONSyntaxError) -> String {
        let start = self.index
        if self.peek() == UInt8(ascii: "-") { self.index += 1 }
        guard let first = self.peek(), Self.isDigit(first) else { throw self.expected("a digit after '-'") }
        self.index += 1
        if first == UInt8(ascii: "0"), let next = self.peek(), Self.isDigit(next) {
            throw self.error("a number must not have leading zeros")
        }
        self.skipDigits()
        if self.peek() == UInt8(ascii: ".") {
            self.index += 1
            guard let d = self.peek(), Self.isDigit(d) else { throw self.expected("a digit after '.'") }
            self.skipDigits()
        }
        if self.peek() == UInt8(ascii: "e") || self.peek() == UInt8(ascii: "E") {
            self.index += 1
            if self.peek() == UInt8(ascii: "+") || self.peek() == UInt8(ascii: "-") { self.index += 1 }
            guard let d = self.peek(), Self.isDigit(d) else { throw self.expected("a digit in the exponent") }
            self.skipDigits()
        }
        return String(decoding: self.bytes[start..<self.index], as: UTF8.self)
    }

    static func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }

    mutating func skipDigits() {
        while let b = self.peek(), Self.isDigit(b) { self.index += 1 }
    }

    // MARK: Strings

    /// Reads a string starting at its opening quote; checks UTF-8 and decodes escapes.
    mutating func parseString() throws(JSONSyntaxError) -> String {
        self.index += 1  // '"'
        var out: [UInt8] = []
        while true {
            guard self.index < self.bytes.count else { throw self.error("unexpected end of input inside a string") }
            let b = self.bytes[self.index]
            switch b {
            case UInt8(ascii: "\""):
                self.index += 1
                // Every byte appended was checked as UTF-8 or encoded from a valid scalar.
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                try self.parseEscape(into: &out)
            case 0x00..<0x20:
                throw self.error("control character \(self.describeByte(at: self.index)) in a string must be escaped")
            case 0x20..<0x80:
                out.append(b)
                self.index += 1
            default:
                let length = try self.validUTF8SequenceLength()
                out.append(contentsOf: self.bytes[self.index..<self.index + length])
                self.index += length
            }
        }
    }

    /// The length of the valid multi-byte UTF-8 sequence at `index` (Unicode table 3-7), or an error.
    func validUTF8SequenceLength() throws(JSONSyntaxError) -> Int {
        let b0 = self.bytes[self.index]
        let length: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch b0 {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F  // excludes UTF-16 surrogates
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F  // nothing above U+10FFFF
        default: throw self.error("invalid UTF-8 byte 0x\(String(b0, radix: 16, uppercase: true))")
        }
        for k in 1..<length {
            let i = self.index + k
            guard i < self.bytes.count else { throw self.error("unexpected end of input inside a UTF-8 sequence") }
            let b = self.bytes[i]
            let (lo, hi) = k == 1 ? (low, high) : (UInt8(0x80), UInt8(0xBF))
            guard b >= lo && b <= hi else {
                throw self.error("invalid UTF-8 sequence", at: self.index)
            }
        }
        return length
    }

    mutating func parseEscape(into out: inout [UInt8]) throws(JSONSyntaxError) {
        let start = self.index
        self.index += 1  // '\'
        guard let e = self.peek() else { throw self.error("unexpected end of input inside a string") }
        self.index += 1
        switch e {
        case UInt8(ascii: "\""): out.append(0x22)
        case UInt8(ascii: "\\"): out.append(0x5C)
        case UInt8(ascii: "/"): out.append(0x2F)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            var code = UInt32(try self.parseHex4())
            if code >= 0xD800 && code <= 0xDBFF {
                // A high surrogate must be followed by an escaped low surrogate.
                guard self.index + 1 < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "\\"),
                    self.bytes[self.index + 1] == UInt8(ascii: "u")
                else { throw self.error("unpaired UTF-16 surrogate in a \\u escape", at: start) }
                self.index += 2
                let low = UInt32(try self.parseHex4())
                guard low >= 0xDC00 && low <= 0xDFFF else {
                    throw self.error("unpaired UTF-16 surrogate in a \\u escape", at: start)
                }
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
            } else if code >= 0xDC00 && code <= 0xDFFF {
                throw self.error("unpaired UTF-16 surrogate in a \\u escape", at: start)
            }
            Self.appendUTF8(code, to: &out)
        default:
            throw self.error("invalid escape \\ followed by \(self.describeByte(at: self.index - 1)) in a string", at: start)
        }
    }

    /// Encodes a scalar value (not a surrogate, at most U+10FFFF) as UTF-8.
    static func appendUTF8(_ code: UInt32, to out: inout [UInt8]) {
        switch code {
        case 0..<0x80:
            out.append(UInt8(code))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | code >> 6))
            out.append(UInt8(0x80 | code & 0x3F))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | code >> 12))
            out.append(UInt8(0x80 | code >> 6 & 0x3F))
            out.append(UInt8(0x80 | code & 0x3F))
        default:
            out.append(UInt8(0xF0 | code >> 18))
            out.append(UInt8(0x80 | code >> 12 & 0x3F))
            out.append(UInt8(0x80 | code >> 6 & 0x3F))
            out.append(UInt8(0x80 | code & 0x3F))
        }
    }

    mutating func parseHex4() throws(JSONSyntaxError) -> UInt16 {
        var value: UInt16 = 0
        for _ in 0..<4 {
            guard let b = self.peek() else { throw self.error("unexpected end of input inside a \\u escape") }
            let digit: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = b - UInt8(ascii: "A") + 10
            default: throw self.error("expected 4 hex digits after \\u, found \(self.describeByte(at: self.index))")
            }
            value = value << 4 | UInt16(digit)
            self.index += 1
        }
        return value
    }
}

// vpcmirror: a message head as it came off the wire: one copy of its bytes, and where its parts are.

/// The head of one message (or a trailer section): its bytes, copied once, and the ranges of its start line's parts
/// and of its fields within them. Nothing is decoded into `String`s until asked: output is written from the bytes.
///
/// The bytes are those received, except that field names are lower-cased in place (they are ASCII `tchar`s, and
/// output wants them lower case). Values are trimmed of spaces and tabs. A value continued on obs-fold lines
/// (RFC 9112 §5.2) is joined with one space into bytes appended after the head, so that every value is one range.
public struct HTTPHead: Sendable {
    /// Where one field's name and value are in ``HTTPHead/bytes``.
    public struct Field: Sendable {
        // 32-bit offsets: a head is bounded by HTTP1Limits, and the struct stays 16 bytes.
        private var nameStart: UInt32
        private var nameEnd: UInt32
        private var valueStart: UInt32
        private var valueEnd: UInt32

        init(name: Range<Int>, value: Range<Int>) {
            (self.nameStart, self.nameEnd) = (UInt32(name.lowerBound), UInt32(name.upperBound))
            (self.valueStart, self.valueEnd) = (UInt32(value.lowerBound), UInt32(value.upperBound))
        }

        public var name: Range<Int> { Int(self.nameStart)..<Int(self.nameEnd) }
        public internal(set) var value: Range<Int> {
            get { Int(self.valueStart)..<Int(self.valueEnd) }
            set { (self.valueStart, self.valueEnd) = (UInt32(newValue.lowerBound), UInt32(newValue.upperBound)) }
        }
    }

    /// The head as received (start line and field lines, names lower-cased), then values joined from obs-fold lines.
    public internal(set) var bytes: [UInt8]
    /// Fields in order, duplicates kept (at most ``HTTP1Limits/maxHeaderCount``).
    public internal(set) var fields: [Field] = []
    /// The method of a request line (empty when the line was cut before it); nil for a status line or a trailer.
    public internal(set) var method: Range<Int>? {
        get { self.methodSpan.range }
        set { self.methodSpan = Span(newValue) }
    }
    /// The request-target, as sent; nil when the request line ended before it.
    public internal(set) var target: Range<Int>? {
        get { self.targetSpan.range }
        set { self.targetSpan = Span(newValue) }
    }
    /// `1.0` or `1.1`; nil when the start line ended before it.
    public internal(set) var version: Range<Int>? {
        get { self.versionSpan.range }
        set { self.versionSpan = Span(newValue) }
    }
    /// The reason phrase of a status line (empty when there is none); nil for a request line.
    public internal(set) var reason: Range<Int>? {
        get { self.reasonSpan.range }
        set { self.reasonSpan = Span(newValue) }
    }
    /// The status code of a status line.
    public internal(set) var statusCode: Int?
    // The start line's parts, in eight bytes each (separate fields, not a tuple: a tuple makes every copy of a head
    // go through the runtime's generic tuple witnesses).
    private var methodSpan = Span(nil)
    private var targetSpan = Span(nil)
    private var versionSpan = Span(nil)
    private var reasonSpan = Span(nil)

    /// A range of `bytes`, or none (a head is bounded by HTTP1Limits, so 32 bits are enough).
    private struct Span: Sendable {
        var start: UInt32
        var end: UInt32

        init(_ range: Range<Int>?) {
            (self.start, self.end) = range.map { (UInt32($0.lowerBound), UInt32($0.upperBound)) } ?? (.max, .max)
        }
        var range: Range<Int>? { self.start == .max ? nil : Int(self.start)..<Int(self.end) }
    }

    /// Whether `bytes[range]` is exactly `text`.
    public func bytes(in range: Range<Int>, equal text: StaticString) -> Bool {
        self.bytes.withUnsafeBytes { $0.bytes(in: range, equal: text) }
    }

    /// Whether the field's name is `lowercaseName`.
    public func name(of field: Field, is lowercaseName: StaticString) -> Bool {
        self.bytes(in: field.name, equal: lowercaseName)
    }

    /// The value of the first field named `lowercaseName`, or nil when there is none.
    public func firstValue(named lowercaseName: StaticString) -> Range<Int>? {
        self.fields.first { self.bytes(in: $0.name, equal: lowercaseName) }?.value
    }

    /// `bytes[range]` decoded as UTF-8, invalid bytes replaced.
    public func string(_ range: Range<Int>) -> String {
        self.bytes.withUnsafeBufferPointer { String(decoding: $0[range], as: UTF8.self) }
    }

    /// The fields as strings (what a caller that wants `String`s gets; output uses the bytes).
    public var fieldStrings: [(name: String, value: String)] {
        self.fields.map { (self.string($0.name), self.string($0.value)) }
    }
}

// The initializers are in an extension so that the struct keeps its memberwise initializer, which builds a head as
// one value: a head built field by field into `self` is copied on its way out (Swift 6.3 does not pair the retain and
// release of a value loaded twice from `self`).
extension HTTPHead {
    init(bytes: [UInt8]) {
        self.init(bytes: bytes, fields: [], statusCode: nil)
    }

    init(
        bytes: consuming [UInt8], fields: consuming [Field], method: Range<Int>?, target: Range<Int>?,
        version: Range<Int>?, reason: Range<Int>?, statusCode: Int?
    ) {
        self.init(
            bytes: bytes, fields: fields, statusCode: statusCode, methodSpan: Span(method), targetSpan: Span(target),
            versionSpan: Span(version), reasonSpan: Span(reason))
    }
}

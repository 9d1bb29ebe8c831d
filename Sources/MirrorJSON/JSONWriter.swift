// vpcmirror: JSON out, keys in the order written, for reports and ECS lines.

/// A small streaming JSON writer: keys in the order written, strings escaped per RFC 8259.
public final class JSONWriter {
    public init() {}
    private let buffer = JSONBuffer()
    /// The JSON text written so far, as UTF-8.
    public var bytes: [UInt8] { self.buffer.withBytes { Array($0) } }
    public var output: String { self.buffer.withBytes { String(decoding: $0, as: UTF8.self) } }
    /// One bit per open container (and per pending key): set once something was written in it, so a comma goes next.
    // One writer belongs to one thread for the length of one document: exclusivity checks would buy nothing.
    @exclusivity(unchecked) private var commaBits: UInt64 = 0
    @exclusivity(unchecked) private var depth = 0

    private func separator() {
        let bit: UInt64 = 1 << UInt64(self.depth)
        if self.commaBits & bit != 0 { self.buffer.append(UInt8(ascii: ",")) }
        self.commaBits |= bit
    }

    private func push() {
        self.depth += 1
        precondition(self.depth < 64, "JSON nested deeper than 63 levels")
        self.commaBits &= ~(1 << UInt64(self.depth))
    }

    private func pop() { self.depth -= 1 }

    public func object(_ body: () -> Void) {
        self.buffer.append(UInt8(ascii: "{"))
        self.push()
        body()
        self.pop()
        self.buffer.append(UInt8(ascii: "}"))
    }

    public func array<T>(_ items: [T], _ element: (T) -> Void) {
        self.buffer.append(UInt8(ascii: "["))
        self.push()
        for item in items {
            self.separator()
            element(item)
        }
        self.pop()
        self.buffer.append(UInt8(ascii: "]"))
    }

    public func key(_ k: String) {
        self.separator()
        self.string(k)
        self.buffer.append(UInt8(ascii: ":"))
        // The value that follows is not an element of this container.
        self.push()
    }

    public func field(_ k: String, _ value: () -> Void) {
        self.key(k)
        value()
        self.pop()
    }

    public func field(_ k: String, _ value: Int) { self.field(k) { self.number(value) } }
    public func field(_ k: String, _ value: Bool) { self.field(k) { self.raw(value ? "true" : "false") } }
    public func field(_ k: String, _ value: String) { self.field(k) { self.string(value) } }
    public func field(_ k: String, _ value: Double) {
        self.field(k) { self.raw(value.isFinite ? String(value) : "null") }
    }

    /// An integer value (for array elements; `field` writes keyed ones).
    public func number(_ value: Int) { self.buffer.append(value) }

    /// Text that needs no escaping (numbers, literals).
    func raw(_ text: String) {
        var text = text
        text.withUTF8 { self.buffer.append(UnsafeRawBufferPointer($0)) }
    }

    public func string(_ s: String) { self.buffer.appendString(s) }
}

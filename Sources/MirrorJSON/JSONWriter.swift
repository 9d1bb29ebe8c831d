// vpcmirror: JSON out, keys in the order written, for reports and ECS lines.

/// A small streaming JSON writer: keys in the order written, strings escaped per RFC 8259.
public final class JSONWriter {
    public init() {}
    /// The JSON text written so far, as UTF-8.
    // One writer belongs to one thread for the length of one document, so the dynamic exclusivity checks Swift
    // would make on every append (a quarter of the time it takes to write an ECS line) buy nothing here.
    @exclusivity(unchecked) public private(set) var bytes: [UInt8] = []
    public var output: String { String(decoding: self.bytes, as: UTF8.self) }
    /// One bit per open container (and per pending key): set once something was written in it, so a comma goes next.
    @exclusivity(unchecked) private var commaBits: UInt64 = 0
    @exclusivity(unchecked) private var depth = 0

    private func separator() {
        let bit: UInt64 = 1 << UInt64(self.depth)
        if self.commaBits & bit != 0 { self.bytes.append(UInt8(ascii: ",")) }
        self.commaBits |= bit
    }

    private func push() {
        self.depth += 1
        precondition(self.depth < 64, "JSON nested deeper than 63 levels")
        self.commaBits &= ~(1 << UInt64(self.depth))
    }

    private func pop() { self.depth -= 1 }

    public func object(_ body: () -> Void) {
        self.bytes.append(UInt8(ascii: "{"))
        self.push()
        body()
        self.pop()
        self.bytes.append(UInt8(ascii: "}"))
    }

    public func array<T>(_ items: [T], _ element: (T) -> Void) {
        self.bytes.append(UInt8(ascii: "["))
        self.push()
        for item in items {
            self.separator()
            element(item)
        }
        self.pop()
        self.bytes.append(UInt8(ascii: "]"))
    }

    public func key(_ k: String) {
        self.separator()
        self.string(k)
        self.bytes.append(UInt8(ascii: ":"))
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
    public func number(_ value: Int) {
        if value >= 0 && value < 10 {
            self.bytes.append(UInt8(ascii: "0") + UInt8(value))
        } else {
            self.raw(String(value))
        }
    }

    /// Text that needs no escaping (numbers, literals).
    func raw(_ text: String) {
        var text = text
        text.withUTF8 { self.bytes.append(contentsOf: $0) }
    }

    public func string(_ s: String) {
        var s = s
        self.bytes.append(UInt8(ascii: "\""))
        s.withUTF8 { utf8 in
            // Most strings need no escaping: copy them whole.
            guard utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else {
                self.bytes.append(contentsOf: utf8)
                return
            }
            for b in utf8 {
                switch b {
                case UInt8(ascii: "\""): self.bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
                case UInt8(ascii: "\\"): self.bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
                case UInt8(ascii: "\n"): self.bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
                case UInt8(ascii: "\r"): self.bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
                case UInt8(ascii: "\t"): self.bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
                case 0..<0x20:
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    self.bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(b >> 4)], hex[Int(b & 15)]])
                default: self.bytes.append(b)
                }
            }
        }
        self.bytes.append(UInt8(ascii: "\""))
    }
}

// vpcmirror: JSON out, keys in the order written, for reports and ECS lines.

/// A small streaming JSON writer: keys in the order written, strings escaped per RFC 8259.
public final class JSONWriter {
    public init() {}
    public private(set) var output = ""
    private var needsComma = [false]

    private func separator() {
        if self.needsComma[self.needsComma.count - 1] { self.output += "," }
        self.needsComma[self.needsComma.count - 1] = true
    }

    public func object(_ body: () -> Void) {
        self.output += "{"
        self.needsComma.append(false)
        body()
        self.needsComma.removeLast()
        self.output += "}"
    }

    public func array<T>(_ items: [T], _ element: (T) -> Void) {
        self.output += "["
        self.needsComma.append(false)
        for item in items {
            self.separator()
            element(item)
        }
        self.needsComma.removeLast()
        self.output += "]"
    }

    public func key(_ k: String) {
        self.separator()
        self.string(k)
        self.output += ":"
        // The value that follows is not an element of this container.
        self.needsComma.append(false)
    }

    public func field(_ k: String, _ value: () -> Void) {
        self.key(k)
        value()
        self.needsComma.removeLast()
    }

    public func field(_ k: String, _ value: Int) { self.field(k) { self.output += String(value) } }
    public func field(_ k: String, _ value: Bool) { self.field(k) { self.output += value ? "true" : "false" } }
    public func field(_ k: String, _ value: String) { self.field(k) { self.string(value) } }
    public func field(_ k: String, _ value: Double) {
        self.field(k) { self.output += value.isFinite ? String(value) : "null" }
    }

    /// An integer value (for array elements; `field` writes keyed ones).
    public func number(_ value: Int) { self.output += String(value) }

    public func string(_ s: String) {
        self.output += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": self.output += "\\\""
            case "\\": self.output += "\\\\"
            case "\n": self.output += "\\n"
            case "\r": self.output += "\\r"
            case "\t": self.output += "\\t"
            case _ where u.value < 0x20:
                let hex = String(u.value, radix: 16)
                self.output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: self.output.unicodeScalars.append(u)
            }
        }
        self.output += "\""
    }
}

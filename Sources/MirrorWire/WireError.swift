// vpcmirror: one error type for everything that reads bytes from the wire.

/// A frame that could not be decoded. Equality looks at the code, the layer and the offset only.
public struct WireError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable { case truncated, malformed, unsupported }
        private var base: Base
        /// The bytes end before the header does.
        public static let truncated = Code(base: .truncated)
        /// A field holds a value the specification forbids.
        public static let malformed = Code(base: .malformed)
        /// Valid, but not something this decoder handles.
        public static let unsupported = Code(base: .unsupported)
        public var description: String {
            switch self.base {
            case .truncated: "truncated"
            case .malformed: "malformed"
            case .unsupported: "unsupported"
            }
        }
    }

    /// The protocol layer being decoded.
    public struct Layer: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public static let link = Layer(rawValue: "link")
        public static let ethernet = Layer(rawValue: "ethernet")
        public static let vlan = Layer(rawValue: "802.1q")
        public static let ipv4 = Layer(rawValue: "ipv4")
        public static let ipv6 = Layer(rawValue: "ipv6")
        public static let ipv6Extension = Layer(rawValue: "ipv6-extension")
        public static let tcp = Layer(rawValue: "tcp")
        public static let udp = Layer(rawValue: "udp")
        public static let icmp = Layer(rawValue: "icmp")
        public static let vxlan = Layer(rawValue: "vxlan")
        public var description: String { self.rawValue }
    }

    public let code: Code
    public let layer: Layer
    /// Byte offset in the frame where the problem is.
    public let offset: Int
    public let detail: String

    @inline(never)
    public static func truncated(_ layer: Layer, at offset: Int, needed: Int, available: Int) -> WireError {
        WireError(code: .truncated, layer: layer, offset: offset, detail: "needs \(needed) bytes, \(available) left")
    }

    @inline(never)
    public static func malformed(_ layer: Layer, at offset: Int, _ detail: String) -> WireError {
        WireError(code: .malformed, layer: layer, offset: offset, detail: detail)
    }

    @inline(never)
    public static func unsupported(_ layer: Layer, at offset: Int, _ detail: String) -> WireError {
        WireError(code: .unsupported, layer: layer, offset: offset, detail: detail)
    }

    public static func == (l: Self, r: Self) -> Bool {
        l.code == r.code && l.layer == r.layer && l.offset == r.offset
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.code)
        hasher.combine(self.layer)
        hasher.combine(self.offset)
    }

    public var description: String { "\(self.layer) \(self.code) at byte \(self.offset): \(self.detail)" }
}

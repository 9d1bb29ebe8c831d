// vpcmirror: `interfaces`: what attach would capture on, as netlink reports it.
import MirrorJSON
import MirrorLink

public enum Interfaces {
    /// One line per interface: index, name, state, MTU, MAC, addresses; or a JSON array with `json`.
    public static func listing(json: Bool) throws(AttachError) -> String {
        let all: [NetworkInterfaceInfo]
        do {
            all = try Netlink.interfaces()
        } catch {
            throw AttachError(description: error.description)
        }
        if json {
            let w = JSONWriter()
            w.array(all) { i in
                w.object {
                    w.field("name", i.name)
                    w.field("index", Int(i.index))
                    if let m = i.macAddress { w.field("mac_address", m.description) }
                    w.field("mtu", i.mtu)
                    w.field("state", i.stateDescription)
                    w.field("addresses") { w.array(i.addresses) { w.string($0.description) } }
                }
            }
            return w.output
        }
        let nameWidth = max(4, all.map(\.name.count).max() ?? 0)
        func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: max(0, n - s.count)) }
        var lines = [pad("index", 6) + pad("name", nameWidth + 2) + pad("state", 16) + pad("mtu", 7) + pad("mac", 19) + "addresses"]
        for i in all {
            lines.append(pad("\(i.index)", 6) + pad(i.name, nameWidth + 2) + pad(i.stateDescription, 16) + pad("\(i.mtu)", 7)
                + pad(i.macAddress?.description ?? "-", 19) + i.addresses.map(\.description).joined(separator: " "))
        }
        return lines.joined(separator: "\n")
    }
}

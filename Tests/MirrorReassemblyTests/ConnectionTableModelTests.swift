// vpcmirror: the connection key table against a dictionary, with the same key looked up in runs.
@testable import MirrorReassembly
import MirrorTestSupport
import MirrorWire
import Testing

/// Random sets, removals (with the right slot and with a wrong one) and look-ups, the same key often several times
/// in a row as segments come in trains: every look-up must agree with a dictionary. The table keeps the last key it
/// found, so a key removed or given another slot right after a look-up is the case to get right.
@Suite struct ConnectionTableModelTests {
    @Test(arguments: 0..<8)
    func agreesWithADictionary(seed: UInt64) {
        var rng = SeededGenerator(seed: 0xC0FFEE + seed)
        var table = ConnectionTable()
        var model: [ConnectionKey: Int] = [:]
        // Few addresses and ports, so keys collide in the probing too; enough of them for the table to grow.
        let keys = (0..<96).map { k in
            ConnectionKey(
                source: IPAddress("10.0.0.\(1 + k % 5)")!, sourcePort: UInt16(1000 + k),
                destination: IPAddress("10.1.0.1")!, destinationPort: 80)
        }
        var k = 0
        for step in 0..<20_000 {
            if rng.next() % 3 == 0 { k = Int(rng.next() % UInt64(keys.count)) }
            let key = keys[k]
            switch rng.next() % 5 {
            case 0:
                let slot = Int(rng.next() % 48)
                table.set(key, slot)
                model[key] = slot
            case 1:
                if let slot = model[key] {
                    table.remove(key, ifSlot: slot)
                    model[key] = nil
                }
            case 2:
                table.remove(key, ifSlot: 1000)  // another slot than its own: nothing happens
            default:
                break
            }
            #expect(table.find(key) == model[key], "step \(step), key \(k)")
            #expect(table.count == model.count)
        }
    }
}

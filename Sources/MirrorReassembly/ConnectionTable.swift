// vpcmirror: the reassembler's key → slot table: open addressing with a seeded multiply-mix hash.

/// Maps connection keys to table slots. Looked up once per segment, so it avoids what a `Dictionary` costs there
/// (a SipHash of six words, seeded and finalized): keys are mixed with two full-width multiplies, probed linearly,
/// and deleted by shifting back (no tombstones, so probes stay short).
///
/// The mix is seeded per table from the system's random source, so which keys collide is not the same from one run
/// to the next (a sender cannot aim many flows at one bucket without seeing the seed). Nothing depends on the
/// table's order, so output stays the same from run to run.
struct ConnectionTable {
    private struct Entry {
        var key: ConnectionKey
        var slot: Int32
    }

    /// Empty entries have slot -1. The capacity is a power of two, at least twice the count.
    private var entries: [Entry]
    private var mask: Int
    private(set) var count = 0
    private let seed: UInt64
    /// The key found last and its slot (-1: none): segments come in trains of one connection (a sender's window,
    /// a segmentation offload's burst), and a train's later segments are found without hashing or probing.
    private var lastKey: ConnectionKey
    private var lastSlot: Int32 = -1

    init() {
        self.seed = UInt64.random(in: .min ... .max)
        self.mask = 15
        self.entries = Self.emptyEntries(16)
        self.lastKey = Self.noKey
    }

    private static let noKey = ConnectionKey(
        source: .zero(.ipv4), sourcePort: 0, destination: .zero(.ipv4), destinationPort: 0)

    private static func emptyEntries(_ n: Int) -> [Entry] {
        [Entry](repeating: Entry(key: Self.noKey, slot: -1), count: n)
    }

    @inline(__always)
    private func bucket(_ key: ConnectionKey) -> Int {
        Int(truncatingIfNeeded: key.mixed(seed: self.seed)) & self.mask
    }

    /// The slot of `key`, or nil.
    mutating func find(_ key: ConnectionKey) -> Int? {
        if self.lastSlot >= 0 && self.lastKey == key { return Int(self.lastSlot) }
        var i = self.bucket(key)
        while true {
            let slot = self.entries[i].slot
            if slot < 0 { return nil }
            if self.entries[i].key == key {
                (self.lastKey, self.lastSlot) = (key, slot)
                return Int(slot)
            }
            i = (i + 1) & self.mask
        }
    }

    /// Sets the slot of `key` (adding the key, or replacing its slot).
    mutating func set(_ key: ConnectionKey, _ slot: Int) {
        if (self.count + 1) * 2 > self.mask + 1 { self.grow() }
        // Last, after growing (which sets every key again, with its old slot).
        defer { (self.lastKey, self.lastSlot) = (key, Int32(slot)) }
        var i = self.bucket(key)
        while self.entries[i].slot >= 0 {
            if self.entries[i].key == key {
                self.entries[i].slot = Int32(slot)
                return
            }
            i = (i + 1) & self.mask
        }
        self.entries[i] = Entry(key: key, slot: Int32(slot))
        self.count += 1
    }

    /// Removes `key` if it maps to `slot`.
    mutating func remove(_ key: ConnectionKey, ifSlot slot: Int) {
        var i = self.bucket(key)
        while true {
            guard self.entries[i].slot >= 0 else { return }
            if self.entries[i].key == key { break }
            i = (i + 1) & self.mask
        }
        guard self.entries[i].slot == Int32(slot) else { return }
        if self.lastKey == key { self.lastSlot = -1 }
        // Shift back the entries after it that probed past it, so no probe ever meets a hole before its key.
        var hole = i
        var j = (i + 1) & self.mask
        while self.entries[j].slot >= 0 {
            let home = self.bucket(self.entries[j].key)
            // j's entry may fill the hole unless its home lies cyclically in (hole, j].
            let stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j)
            if !stays {
                self.entries[hole] = self.entries[j]
                hole = j
            }
            j = (j + 1) & self.mask
        }
        self.entries[hole].slot = -1
        self.count -= 1
    }

    private mutating func grow() {
        let old = self.entries
        self.mask = self.mask * 2 + 1
        self.entries = Self.emptyEntries(self.mask + 1)
        self.count = 0
        for entry in old where entry.slot >= 0 { self.set(entry.key, Int(entry.slot)) }
    }
}

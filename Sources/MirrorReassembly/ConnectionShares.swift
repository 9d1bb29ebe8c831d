// vpcmirror: which of several reassemblers takes a connection, decided alike by every copy fed the same frames.

/// Spreads connections over `count` reassemblers that all see the same frames in the same order (one per thread),
/// so that each copy of this value, fed the same calls, decides the same without talking to the others.
///
/// A key seen for the first time goes to the share given the fewest frames so far, so a few large connections do
/// not pile up on one thread as a hash would let them. A key keeps its share until it has gone unseen for longer
/// than any reassembler keeps a connection (idle timeout plus linger, on the same clock), so a connection never
/// moves. Keys are bounded (`maxKeys`); past it, keys not held go by their hash (``ConnectionKey/share(of:)``)
/// from then on, which is still the same in every copy.
public struct ConnectionShares {
    public let count: Int
    /// Frames given to each share so far.
    public private(set) var frames: [Int]
    private let forgetAfter: Int64
    private let maxKeys: Int
    private var hashing = false
    private var table = ConnectionTable()
    /// Keys held, by the slot the table gives them.
    private var entries: [Entry] = []
    /// Held slots, least recently seen first.
    private var byLastSeen = SlotList()
    private var freeSlots: [Int] = []

    private struct Entry: SlotLinked {
        var key: ConnectionKey
        var share: Int
        var lastSeen: Int64
        var previous: Int? = nil
        var next: Int? = nil
    }

    public init(count: Int, limits: ReassemblyLimits, maxKeys: Int? = nil) {
        self.count = max(1, count)
        self.frames = [Int](repeating: 0, count: self.count)
        let (sum, overflow) = limits.idleTimeoutNanoseconds.addingReportingOverflow(limits.closedLingerNanoseconds)
        self.forgetAfter = overflow ? .max : sum.addingReportingOverflow(1_000_000_000).partialValue
        self.maxKeys = maxKeys ?? max(1024, limits.maxConnections.multipliedReportingOverflow(by: 2).partialValue)
    }

    /// Keys held now.
    public var keyCount: Int { self.table.count }

    /// The share of `key`'s connection, charging it one frame. `clock` is the latest time seen (as given to the
    /// reassemblers).
    public mutating func share(of key: ConnectionKey, clock: Int64) -> Int {
        guard self.count > 1 else { return 0 }
        let share: Int
        if let slot = self.table.find(key) {
            share = self.entries[slot].share
            self.entries[slot].lastSeen = clock
            self.byLastSeen.moveToTail(slot, in: &self.entries)
        } else if self.hashing || self.table.count >= self.maxKeys {
            self.hashing = true
            share = key.share(of: self.count)
        } else {
            var least = 0
            for i in 1..<self.count where self.frames[i] < self.frames[least] { least = i }
            share = least
            self.add(key, share: least, clock: clock)
        }
        self.frames[share] += 1
        return share
    }

    /// Forgets keys unseen for longer than a reassembler keeps a connection. Call it where the reassemblers expire.
    public mutating func expire(clock: Int64) {
        while let slot = self.byLastSeen.head {
            let (age, overflow) = clock.subtractingReportingOverflow(self.entries[slot].lastSeen)
            guard !overflow, age > self.forgetAfter else { return }
            self.byLastSeen.remove(slot, in: &self.entries)
            self.table.remove(self.entries[slot].key, ifSlot: slot)
            self.freeSlots.append(slot)
        }
    }

    private mutating func add(_ key: ConnectionKey, share: Int, clock: Int64) {
        let entry = Entry(key: key, share: share, lastSeen: clock)
        let slot: Int
        if let free = self.freeSlots.popLast() {
            slot = free
            self.entries[slot] = entry
        } else {
            slot = self.entries.count
            self.entries.append(entry)
        }
        self.table.set(key, slot)
        self.byLastSeen.append(slot, in: &self.entries)
    }
}

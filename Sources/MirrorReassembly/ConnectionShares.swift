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
    private var keys: [ConnectionKey] = []
    private var shares: [Int32] = []
    private var lastSeen: [Int64] = []
    /// Least recently seen first, linked through `previous`/`next` (-1: none).
    private var previous: [Int32] = []
    private var next: [Int32] = []
    private var head: Int32 = -1
    private var tail: Int32 = -1
    private var freeSlots: [Int32] = []

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
            share = Int(self.shares[slot])
            self.lastSeen[slot] = clock
            self.moveToTail(Int32(slot))
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
        while self.head >= 0 {
            let slot = Int(self.head)
            let (age, overflow) = clock.subtractingReportingOverflow(self.lastSeen[slot])
            guard !overflow, age > self.forgetAfter else { return }
            self.unlink(self.head)
            self.table.remove(self.keys[slot], ifSlot: slot)
            self.freeSlots.append(Int32(slot))
        }
    }

    private mutating func add(_ key: ConnectionKey, share: Int, clock: Int64) {
        let slot: Int
        if let free = self.freeSlots.popLast() {
            slot = Int(free)
            self.keys[slot] = key
            self.shares[slot] = Int32(share)
            self.lastSeen[slot] = clock
        } else {
            slot = self.keys.count
            self.keys.append(key)
            self.shares.append(Int32(share))
            self.lastSeen.append(clock)
            self.previous.append(-1)
            self.next.append(-1)
        }
        self.table.set(key, slot)
        self.append(Int32(slot))
    }

    private mutating func append(_ slot: Int32) {
        self.previous[Int(slot)] = self.tail
        self.next[Int(slot)] = -1
        if self.tail >= 0 { self.next[Int(self.tail)] = slot } else { self.head = slot }
        self.tail = slot
    }

    private mutating func unlink(_ slot: Int32) {
        let p = self.previous[Int(slot)]
        let n = self.next[Int(slot)]
        if p >= 0 { self.next[Int(p)] = n } else { self.head = n }
        if n >= 0 { self.previous[Int(n)] = p } else { self.tail = p }
    }

    private mutating func moveToTail(_ slot: Int32) {
        guard self.tail != slot else { return }
        self.unlink(slot)
        self.append(slot)
    }
}

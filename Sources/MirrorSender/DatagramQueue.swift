// vpcmirror: the bounded queue between the capture thread and the sender thread.
public import Synchronization

/// Where one queued datagram goes.
public struct DatagramRoute: Hashable, Sendable {
    /// Index into the sender's destinations.
    public var destination: UInt16
    /// Index of the outer UDP source port in the sender's range.
    public var sourcePortIndex: UInt16
    /// The session that mirrored it, for per-session counters.
    public var session: UInt32
    @inlinable
    public init(destination: UInt16, sourcePortIndex: UInt16, session: UInt32) {
        self.destination = destination
        self.sourcePortIndex = sourcePortIndex
        self.session = session
    }
}

@usableFromInline
struct QueuedDatagram {
    @usableFromInline var offset: UInt32
    @usableFromInline var length: UInt32
    @usableFromInline var route: DatagramRoute
    /// The producer's byte position after this datagram's reservation: the consumer releases up to here.
    @usableFromInline var end: Int
    @inlinable
    init(offset: UInt32, length: UInt32, route: DatagramRoute, end: Int) {
        self.offset = offset
        self.length = length
        self.route = route
        self.end = end
    }
}

/// A single-producer, single-consumer queue of datagrams in one preallocated byte arena.
///
/// The producer writes each datagram in place (`reserve`, then `commit`), so a mirrored frame is copied
/// once, from the capture buffer into the arena, and the sender passes arena memory to `sendmmsg`.
/// Its size is fixed at creation: when it is full, `reserve` returns nil and the caller drops or waits.
public final class DatagramQueue: @unchecked Sendable {
    @usableFromInline let arena: UnsafeMutableRawBufferPointer
    @usableFromInline let slots: UnsafeMutablePointer<QueuedDatagram>
    @usableFromInline let slotMask: Int
    /// Datagrams published by the producer / taken by the consumer (monotonic).
    @usableFromInline let published = Atomic<Int>(0)
    @usableFromInline let taken = Atomic<Int>(0)
    /// Byte position the consumer has released (monotonic).
    @usableFromInline let released = Atomic<Int>(0)

    // Producer-owned state.
    @usableFromInline var producedBytes = 0
    @usableFromInline var pendingStart = 0
    @usableFromInline var pendingReserved = 0

    public var byteCapacity: Int { self.arena.count }
    public var slotCapacity: Int { self.slotMask + 1 }

    /// - Parameters:
    ///   - byteCapacity: the arena size; bounds the memory queued datagrams use.
    ///   - slotCount: the most datagrams queued at once (rounded up to a power of two).
    public init(byteCapacity: Int = 32 << 20, slotCount: Int = 1 << 16) {
        precondition(byteCapacity >= 1 << 16 && byteCapacity <= Int(UInt32.max))
        var n = 1
        while n < slotCount { n <<= 1 }
        self.arena = UnsafeMutableRawBufferPointer.allocate(byteCount: byteCapacity, alignment: 64)
        self.slots = UnsafeMutablePointer<QueuedDatagram>.allocate(capacity: n)
        self.slots.initialize(repeating: QueuedDatagram(offset: 0, length: 0, route: DatagramRoute(destination: 0, sourcePortIndex: 0, session: 0), end: 0), count: n)
        self.slotMask = n - 1
    }

    deinit {
        self.arena.deallocate()
        self.slots.deinitialize(count: self.slotMask + 1)
        self.slots.deallocate()
    }

    // MARK: - Producer

    /// Contiguous room for `byteCount` bytes, or nil when the queue is full.
    @inlinable
    public func reserve(_ byteCount: Int) -> UnsafeMutableRawBufferPointer? {
        let capacity = self.arena.count
        guard byteCount <= capacity / 2 else { return nil }
        let head = self.published.load(ordering: .relaxed)
        guard head - self.taken.load(ordering: .acquiring) <= self.slotMask else { return nil }
        let offset = self.producedBytes % capacity
        // A datagram never wraps: skip the arena's tail when it does not fit there.
        let padding = offset + byteCount > capacity ? capacity - offset : 0
        let used = self.producedBytes - self.released.load(ordering: .acquiring)
        guard used + padding + byteCount <= capacity else { return nil }
        self.pendingStart = self.producedBytes + padding
        self.pendingReserved = byteCount
        let start = self.pendingStart % capacity
        return UnsafeMutableRawBufferPointer(rebasing: self.arena[start..<(start + byteCount)])
    }

    /// Publishes the datagram reserved last, `byteCount` (≤ the reservation) bytes long.
    @inlinable
    public func commit(_ byteCount: Int, route: DatagramRoute) {
        precondition(byteCount <= self.pendingReserved)
        let head = self.published.load(ordering: .relaxed)
        let end = self.pendingStart + self.pendingReserved
        self.slots[head & self.slotMask] = QueuedDatagram(
            offset: UInt32(self.pendingStart % self.arena.count), length: UInt32(byteCount), route: route, end: end)
        self.producedBytes = end
        self.pendingReserved = 0
        self.published.store(head + 1, ordering: .releasing)
    }

    /// Datagrams waiting to be sent.
    public var count: Int { self.published.load(ordering: .acquiring) - self.taken.load(ordering: .acquiring) }

    // MARK: - Consumer

    /// The number of datagrams ready, starting at the consumer's position.
    @usableFromInline
    func ready() -> (first: Int, count: Int) {
        let tail = self.taken.load(ordering: .relaxed)
        return (tail, self.published.load(ordering: .acquiring) - tail)
    }

    @usableFromInline
    func datagram(_ position: Int) -> QueuedDatagram { self.slots[position & self.slotMask] }

    /// Frees every datagram before `position`.
    @usableFromInline
    func release(upTo position: Int) {
        let last = self.slots[(position - 1) & self.slotMask]
        self.released.store(last.end, ordering: .releasing)
        self.taken.store(position, ordering: .releasing)
    }
}

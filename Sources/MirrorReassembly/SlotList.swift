// vpcmirror: a doubly linked list threaded through the slots of an array, in the order slots were appended.

/// What an array element needs to be on a ``SlotList``: the slots before and after it.
protocol SlotLinked {
    var previous: Int? { get set }
    var next: Int? { get set }
}

/// A doubly linked list threaded through an array's slots, oldest first: moving a slot to the tail on each use
/// keeps the least recently used at the head (the reassembler's live and lingering connections, the keys of
/// ``ConnectionShares``). The links live in the elements, so the list allocates nothing.
struct SlotList {
    private(set) var head: Int? = nil
    private(set) var tail: Int? = nil
    private(set) var count = 0

    mutating func append<Element: SlotLinked>(_ index: Int, in elements: inout [Element]) {
        elements[index].previous = self.tail
        elements[index].next = nil
        if let tail = self.tail { elements[tail].next = index } else { self.head = index }
        self.tail = index
        self.count += 1
    }

    mutating func remove<Element: SlotLinked>(_ index: Int, in elements: inout [Element]) {
        let previous = elements[index].previous
        let next = elements[index].next
        if let previous { elements[previous].next = next } else { self.head = next }
        if let next { elements[next].previous = previous } else { self.tail = previous }
        elements[index].previous = nil
        elements[index].next = nil
        self.count -= 1
    }

    mutating func moveToTail<Element: SlotLinked>(_ index: Int, in elements: inout [Element]) {
        guard self.tail != index else { return }
        self.remove(index, in: &elements)
        self.append(index, in: &elements)
    }
}

// vpcmirror: pairs requests with responses by their position in each direction, and emits them in order.

/// What a response needs from its request to find its own body (RFC 9112 §6.3).
struct RequestInfo: Sendable {
    /// The request's method was read (a head cut before its method leaves it unknown).
    var methodKnown: Bool
    var isHead: Bool
    var isConnect: Bool
    var upgrade: Bool
}

/// One message as it will be reported.
struct MessageRecord: Sendable {
    var head: HTTPHead
    var startTimestamp: Int64
    var endTimestamp: Int64
    var trailers: HTTPHead?
    /// Interim responses that preceded this final response.
    var interim: [Int] = []
    var headBytes = 0
    var bodyBytes = 0
    var bodyWireBytes = 0
    var decodedBytes: Int?
    var body: [UInt8]?
    var flags: HTTPTransactionFlags = []
}

/// A value per stream, without an array to allocate per conversation.
struct PerStream<Value: Sendable>: Sendable {
    private var first: Value
    private var second: Value

    init(_ first: Value, _ second: Value) {
        self.first = first
        self.second = second
    }

    subscript(stream: Int) -> Value {
        get { stream == 0 ? self.first : self.second }
        set { if stream == 0 { self.first = newValue } else { self.second = newValue } }
    }
}

/// A request and its response as they are known so far. A side is open until it is seen (its record) or lost
/// whole (a gap where it would start, or the part before a mid-stream pickup: the flags of the loss).
struct Exchange: Sendable {
    var info: RequestInfo?
    private(set) var request: MessageRecord?
    private(set) var response: MessageRecord?
    private(set) var requestLost: HTTPTransactionFlags?
    private(set) var responseLost: HTTPTransactionFlags?
    /// Interim responses that came before a response lost whole.
    private(set) var lostInterim: [Int] = []
    // Kept beside the sides, so that checking them reads two flags and never touches the records.
    private(set) var requestSettled = false
    private(set) var responseSettled = false

    var isSettled: Bool { self.requestSettled && self.responseSettled }
    /// Nothing at all is known of it (both sides open): it is not a transaction.
    var isUnknown: Bool { !self.requestSettled && !self.responseSettled }

    mutating func requestSeen(_ record: consuming MessageRecord) {
        self.request = record
        self.requestSettled = true
    }

    mutating func requestLost(_ flags: HTTPTransactionFlags) {
        self.requestLost = flags
        self.requestSettled = true
    }

    mutating func responseSeen(_ record: consuming MessageRecord) {
        self.response = record
        self.responseSettled = true
    }

    mutating func responseLost(_ flags: HTTPTransactionFlags, interim: [Int]) {
        self.responseLost = flags
        self.lostInterim = interim
        self.responseSettled = true
    }

    /// The request's record, moved out.
    mutating func takeRequest() -> MessageRecord? { self.request.take() }
    mutating func takeResponse() -> MessageRecord? { self.response.take() }
}

/// The state both directions of a conversation share: the exchange queue, the ordinals that pair messages,
/// the roles, and the counters.
///
/// Pairing is by ordinal: the n-th request of the client direction goes with the n-th final response of the server
/// direction. A message lost whole in a gap still takes its ordinal (as a `.lost` side), which is what keeps every
/// later pair right. Exchanges are emitted strictly in ordinal order, when both sides are settled.
struct ConversationState: Sendable {
    let limits: HTTP1Limits
    let midstream: Bool
    var counters = HTTP1Counters()

    /// Role of each stream: 0 is the caller's clientToServer, 1 its serverToClient.
    var roles: PerStream<MessageKind?>
    /// Mid-stream: whether a stream lost or skipped bytes before its first message, and whether that is settled.
    private var leadingLoss = PerStream(false, false)
    private var leadingSettled = PerStream(false, false)

    private var exchanges: [Exchange] = []
    private var front = 0
    private var baseOrdinal = 0
    private(set) var nextRequestOrdinal = 0
    private(set) var nextResponseOrdinal = 0
    /// A request start line was recognised and its head is not finished.
    var requestHeadInProgress = false
    /// The ordinal whose response switched the connection to a tunnel (101, or 2xx to CONNECT).
    var tunnelFrom: Int?
    /// The Upgrade or CONNECT request after which the client side holds its bytes.
    var holdOrdinal: Int?

    init(limits: HTTP1Limits, midstream: Bool) {
        self.limits = limits
        self.midstream = midstream
        self.roles = midstream ? PerStream(nil, nil) : PerStream(.request, .response)
    }

    /// Exchanges waiting in the queue.
    var pendingCount: Int { self.exchanges.count - self.front }

    /// A request is waiting for the next response (so a response-side gap where a response would start lost it).
    var requestPending: Bool { self.nextResponseOrdinal < self.nextRequestOrdinal || self.requestHeadInProgress }

    /// Any request was seen on the client direction, or is being read.
    var anyRequestStarted: Bool { self.nextRequestOrdinal > 0 || self.requestHeadInProgress }

    // MARK: - Roles

    /// The first start line recognised on a stream whose role was unknown decides both roles.
    mutating func decideRoles(stream: Int, kind: MessageKind, emit: (consuming HTTPTransaction) -> Void) {
        guard self.roles[stream] == nil else { return }
        self.roles[stream] = kind
        self.roles[1 - stream] = kind.opposite
        for s in 0..<2 where self.leadingLoss[s] {
            self.settleLeadingLoss(stream: s, emit: emit)
        }
    }

    /// Mid-stream, bytes were skipped or lost before the first message of `stream`.
    ///
    /// On the client side that was the tail of a request whose response is still to come, so it takes an ordinal
    /// (a lost request) and that response is reported `no_request` instead of being paired with the next request.
    /// On the server side it was the tail of a response to a request from before the capture: nothing to pair.
    mutating func noteLeadingLoss(stream: Int, emit: (consuming HTTPTransaction) -> Void) {
        guard self.midstream, !self.leadingSettled[stream] else { return }
        self.leadingLoss[stream] = true
        if self.roles[stream] != nil { self.settleLeadingLoss(stream: stream, emit: emit) }
    }

    private mutating func settleLeadingLoss(stream: Int, emit: (consuming HTTPTransaction) -> Void) {
        guard !self.leadingSettled[stream] else { return }
        self.leadingSettled[stream] = true
        if self.roles[stream] == .request { self.requestLost([], emit: emit) }
    }

    /// The stream found its first message: later skips are not leading any more.
    mutating func firstMessageFound(stream: Int) {
        self.leadingSettled[stream] = true
    }

    // MARK: - Requests

    mutating func requestHeadParsed(_ info: RequestInfo, emit: (consuming HTTPTransaction) -> Void) -> Int {
        let ordinal = self.nextRequestOrdinal
        self.nextRequestOrdinal += 1
        self.requestHeadInProgress = false
        if let i = self.index(of: ordinal, emit: emit) { self.exchanges[i].info = info }
        return ordinal
    }

    mutating func requestCompleted(
        _ ordinal: Int, _ record: consuming MessageRecord, emit: (consuming HTTPTransaction) -> Void
    ) {
        guard let i = self.index(of: ordinal, emit: emit) else {
            var evicted = Exchange()  // its exchange was emitted already
            evicted.requestSeen(record)
            return self.report(consume evicted, emit)
        }
        self.exchanges[i].requestSeen(record)
        self.flush(emit: emit)
    }

    /// A request was lost whole: it takes the next ordinal so the responses after it pair right.
    mutating func requestLost(_ flags: HTTPTransactionFlags, emit: (consuming HTTPTransaction) -> Void) {
        let ordinal = self.nextRequestOrdinal
        self.nextRequestOrdinal += 1
        self.requestHeadInProgress = false
        self.counters.lostRequests += 1
        if let i = self.index(of: ordinal, emit: emit) { self.exchanges[i].requestLost(flags) }
        self.flush(emit: emit)
    }

    // MARK: - Responses

    /// A final response head: takes the next ordinal; returns it with what is known of its request.
    mutating func responseHeadParsed(emit: (consuming HTTPTransaction) -> Void) -> (Int, RequestInfo?) {
        let ordinal = self.nextResponseOrdinal
        self.nextResponseOrdinal += 1
        return (ordinal, self.index(of: ordinal, emit: emit).flatMap { self.exchanges[$0].info })
    }

    /// `ordinal` nil: a response to a request from before the capture (mid-stream), reported on its own.
    mutating func responseCompleted(
        _ ordinal: Int?, _ record: consuming MessageRecord, emit: (consuming HTTPTransaction) -> Void
    ) {
        guard let ordinal, let i = self.index(of: ordinal, emit: emit) else {
            var alone = Exchange()
            alone.responseSeen(record)
            return self.report(consume alone, emit)
        }
        self.exchanges[i].responseSeen(record)
        self.flush(emit: emit)
    }

    /// A response was lost whole: the request waiting for it is answered by the loss.
    mutating func responseLost(
        _ flags: HTTPTransactionFlags, interim: [Int], emit: (consuming HTTPTransaction) -> Void
    ) {
        let ordinal = self.nextResponseOrdinal
        self.nextResponseOrdinal += 1
        self.counters.lostResponses += 1
        if let i = self.index(of: ordinal, emit: emit) { self.exchanges[i].responseLost(flags, interim: interim) }
        self.flush(emit: emit)
    }

    // MARK: - Queue

    /// The queue index of `ordinal`, creating exchanges up to it; nil if it was already emitted.
    private mutating func index(of ordinal: Int, emit: (consuming HTTPTransaction) -> Void) -> Int? {
        guard ordinal >= self.baseOrdinal else { return nil }
        while self.exchanges.count <= self.front + (ordinal - self.baseOrdinal) { self.exchanges.append(Exchange()) }
        // Bounded: past the limit the oldest exchange is emitted as it stands (its missing side flagged).
        while self.pendingCount > max(1, self.limits.maxPendingRequests) {
            self.counters.evictedExchanges += 1
            self.popFront(emit)
        }
        guard ordinal >= self.baseOrdinal else { return nil }
        return self.front + (ordinal - self.baseOrdinal)
    }

    /// Emits every exchange at the front whose two sides are settled.
    mutating func flush(emit: (consuming HTTPTransaction) -> Void) {
        while self.front < self.exchanges.count, self.exchanges[self.front].isSettled {
            self.popFront(emit)
        }
    }

    /// Emits everything (close): a missing side is flagged `no_request` or `no_response`.
    mutating func flushAll(emit: (consuming HTTPTransaction) -> Void) {
        while self.front < self.exchanges.count { self.popFront(emit) }
    }

    private mutating func popFront(_ emit: (consuming HTTPTransaction) -> Void) {
        // An exchange of which nothing at all is known (both sides still open) is not a transaction. The others give
        // up their records where they lie (an exchange is a few hundred bytes: moving it whole costs more).
        if !self.exchanges[self.front].isUnknown {
            self.counters.transactions += 1
            emit(
                Self.transaction(
                    taking: &self.exchanges[self.front], midstream: self.midstream,
                    rolesSwapped: self.roles[0] == .response))
        }
        self.front += 1
        self.baseOrdinal += 1
        if self.front == self.exchanges.count {
            self.exchanges.removeAll(keepingCapacity: true)
            self.front = 0
        } else if self.front >= 64 && self.front * 2 >= self.exchanges.count {
            self.exchanges.removeFirst(self.front)
            self.front = 0
        }
    }

    private mutating func report(_ exchange: consuming Exchange, _ emit: (consuming HTTPTransaction) -> Void) {
        var exchange = exchange
        self.counters.transactions += 1
        emit(Self.transaction(taking: &exchange, midstream: self.midstream, rolesSwapped: self.roles[0] == .response))
    }

    /// The transaction of `exchange`, whose records move into it.
    private static func transaction(
        taking exchange: inout Exchange, midstream: Bool, rolesSwapped: Bool
    ) -> HTTPTransaction {
        var flags: HTTPTransactionFlags = midstream ? .midstream : []
        // The records are moved into the transaction: their heads and bodies are not copied.
        let request = exchange.takeRequest()
        let response = exchange.takeResponse()
        if request == nil { flags.formUnion((exchange.requestLost ?? []).union(.noRequest)) }
        var lostInterim: [Int] = []
        if response == nil {
            lostInterim = exchange.lostInterim
            flags.formUnion((exchange.responseLost ?? []).union(.noResponse))
        }
        // Built by an initializer, in place: a transaction built and then changed is copied on its way out.
        return HTTPTransaction(
            request: request, response: response, flags: flags, lostInterim: lostInterim, rolesSwapped: rolesSwapped)
    }
}

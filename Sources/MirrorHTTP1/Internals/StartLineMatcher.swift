// vpcmirror: a resumable recogniser of request lines and status lines, fed one byte at a time.

/// Which kind of message a start line begins.
enum MessageKind: Hashable, Sendable {
    case request
    case response

    var opposite: MessageKind { self == .request ? .response : .request }
}

/// Recognises `method SP request-target SP HTTP/1.x CRLF` and `HTTP/1.x SP 3DIGIT [SP reason] CRLF` (bare LF
/// accepted), keeping its state between calls so a line split across packets needs no copy to be judged.
///
/// It fails at the first byte that cannot continue a start line, which is what rejects garbage (TLS, SSH) after
/// a byte or two. The same grammar judges a message start in order and a candidate when resynchronising, where
/// `strictMethods` narrows methods to upper-case names and `knownMethodsOnly` to registered ones (so the tail of a
/// request cut by a gap, `ET / HTTP/1.1`, is not taken for a request).
struct StartLineMatcher: Sendable {
    enum Outcome: Equatable {
        case needMore
        /// The line, with its LF, is complete and valid.
        case matched
        case failed
        /// Still valid, but longer than the limit.
        case tooLong
    }

    private enum Phase: UInt8 {
        case token, target, requestVersion, requestMinor, requestEnd
        case statusOne, statusDot, statusMinor, statusSpace, statusCode, statusAfterCode, reason
        case lineFeed, done
    }

    static let maxMethodLength = 32
    private static let httpSlash: [UInt8] = Array("HTTP/1.".utf8)

    /// Methods of RFC 9110, RFC 5789, WebDAV and other registered extensions (IANA "HTTP Method Registry"), plus
    /// the common non-standard PURGE and M-SEARCH; as the token words the matcher builds.
    private static let knownMethods: [TokenWords] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "QUERY",
        "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH", "REPORT", "MKACTIVITY",
        "CHECKOUT", "CHECKIN", "UNCHECKOUT", "MERGE", "MKCALENDAR", "MKWORKSPACE", "UPDATE", "LABEL",
        "BASELINE-CONTROL", "VERSION-CONTROL", "ORDERPATCH", "ACL", "BIND", "UNBIND", "REBIND", "LINK", "UNLINK",
        "NOTIFY", "SUBSCRIBE", "UNSUBSCRIBE", "PURGE", "M-SEARCH",
    ].map { TokenWords($0.utf8) }

    /// The first 16 bytes of a token, packed (method bytes are never zero, so shorter tokens compare by their words).
    struct TokenWords: Hashable, Sendable {
        var low: UInt64 = 0
        var high: UInt64 = 0
        init() {}
        init(_ bytes: some Sequence<UInt8>) {
            for (i, b) in bytes.enumerated() { self.add(b, at: i) }
        }
        mutating func add(_ b: UInt8, at i: Int) {
            if i < 8 { self.low |= UInt64(b) << (8 * i) } else if i < 16 { self.high |= UInt64(b) << (8 * (i - 8)) }
        }
    }

    var allowRequests: Bool
    var allowResponses: Bool
    let strictMethods: Bool
    let knownMethodsOnly: Bool
    let maxLength: Int
    /// Decided at the byte after the first token: SP makes a request, `/` after `HTTP` a response.
    private(set) var kind: MessageKind?
    private var phase = Phase.token
    private(set) var length = 0
    private var sub = 0
    private var tokenIsHTTP = true
    private var token = TokenWords()

    init(
        allowRequests: Bool, allowResponses: Bool, strictMethods: Bool, knownMethodsOnly: Bool = false, maxLength: Int
    ) {
        self.allowRequests = allowRequests
        self.allowResponses = allowResponses
        self.strictMethods = strictMethods
        self.knownMethodsOnly = knownMethodsOnly
        self.maxLength = maxLength
    }

    /// Judges a whole line at once, before any byte was fed: when feeding `line` (which ends with its LF) byte by
    /// byte would end in `.matched`, the matcher is left as that would leave it and the result is true. Otherwise
    /// nothing is changed, and the caller feeds the bytes one by one (which also gives the failing byte). Only for
    /// in-order heads: resynchronising candidates (strict or registered methods) always go byte by byte.
    mutating func matchWholeLine(_ line: UnsafeRawBufferPointer) -> Bool {
        let n = line.count
        guard self.length == 0, !self.strictMethods, !self.knownMethodsOnly, n >= 2, n <= self.maxLength,
            line[n - 1] == ASCII.lf
        else { return false }
        // Without the LF and a CR before it, the rest must hold no CR or LF.
        let end = line[n - 2] == ASCII.cr ? n - 2 : n - 1
        let kind: MessageKind
        if self.allowResponses && n >= 12 && line[0] == 0x48 && line[1] == 0x54 && line[2] == 0x54 && line[3] == 0x50
            && line[4] == 0x2F
        {
            // HTTP/1.x SP 3DIGIT [SP reason]
            guard line[5] == 0x31, line[6] == 0x2E, ASCII.isDigit(line[7]), line[8] == ASCII.space,
                ASCII.isDigit(line[9]), ASCII.isDigit(line[10]), ASCII.isDigit(line[11]), end >= 12
            else { return false }
            if end > 12 {
                guard line[12] == ASCII.space else { return false }
                for i in 13..<end where !ASCII.isReasonChar(line[i]) || line[i] == ASCII.cr { return false }
            }
            kind = .response
        } else {
            // method SP target SP HTTP/1.x
            guard self.allowRequests else { return false }
            var i = 0
            while i < end && line[i] != ASCII.space {
                guard ASCII.isTokenChar(line[i]) else { return false }
                i += 1
            }
            guard i > 0, i <= Self.maxMethodLength, end - i >= 11 else { return false }
            let targetStart = i + 1
            i = targetStart
            while i < end && line[i] != ASCII.space {
                guard ASCII.isTargetChar(line[i]) else { return false }
                i += 1
            }
            // The version is exactly the rest: SP HTTP/1. DIGIT.
            guard i > targetStart, end - i == 9 else { return false }
            for k in 0..<7 where line[i + 1 + k] != Self.httpSlash[k] { return false }
            guard ASCII.isDigit(line[i + 8]) else { return false }
            kind = .request
        }
        self.kind = kind
        self.phase = .done
        self.length = n
        return true
    }

    mutating func feed(_ b: UInt8) -> Outcome {
        self.length += 1
        let outcome = self.step(b)
        if outcome == .needMore && self.length >= self.maxLength { return .tooLong }
        return outcome
    }

    private mutating func step(_ b: UInt8) -> Outcome {
        switch self.phase {
        case .token:
            if b == ASCII.space {
                guard self.allowRequests, self.sub > 0 else { return .failed }
                if self.knownMethodsOnly {
                    guard self.sub <= 16, Self.knownMethods.contains(self.token) else { return .failed }
                }
                self.kind = .request
                self.phase = .target
                self.sub = 0
                return .needMore
            }
            if b == 0x2F {  // "/" after "HTTP": a status line
                guard self.allowResponses, self.tokenIsHTTP, self.sub == 4 else { return .failed }
                self.kind = .response
                self.phase = .statusOne
                return .needMore
            }
            let ok = self.strictMethods
                ? (self.sub == 0 ? ASCII.isUpper(b) : ASCII.isStrictMethodChar(b)) : ASCII.isTokenChar(b)
            guard ok, self.sub < Self.maxMethodLength else { return .failed }
            if self.tokenIsHTTP { self.tokenIsHTTP = self.sub < 4 && Self.httpSlash[self.sub] == b }
            // A response-only matcher gives up as soon as the token stops spelling "HTTP".
            if !self.allowRequests && !self.tokenIsHTTP { return .failed }
            self.token.add(b, at: self.sub)
            self.sub += 1
            return .needMore
        case .target:
            if b == ASCII.space {
                guard self.sub > 0 else { return .failed }
                self.phase = .requestVersion
                self.sub = 0
                return .needMore
            }
            guard ASCII.isTargetChar(b) else { return .failed }
            self.sub = 1
            return .needMore
        case .requestVersion:
            guard b == Self.httpSlash[self.sub] else { return .failed }
            self.sub += 1
            if self.sub == Self.httpSlash.count { self.phase = .requestMinor }
            return .needMore
        case .requestMinor:
            guard ASCII.isDigit(b) else { return .failed }
            self.phase = .requestEnd
            return .needMore
        case .requestEnd:
            return self.lineEnd(b)
        case .statusOne:
            guard b == 0x31 else { return .failed }
            self.phase = .statusDot
            return .needMore
        case .statusDot:
            guard b == 0x2E else { return .failed }
            self.phase = .statusMinor
            return .needMore
        case .statusMinor:
            guard ASCII.isDigit(b) else { return .failed }
            self.phase = .statusSpace
            return .needMore
        case .statusSpace:
            guard b == ASCII.space else { return .failed }
            self.phase = .statusCode
            self.sub = 0
            return .needMore
        case .statusCode:
            guard ASCII.isDigit(b) else { return .failed }
            self.sub += 1
            if self.sub == 3 { self.phase = .statusAfterCode }
            return .needMore
        case .statusAfterCode:
            if b == ASCII.space {
                self.phase = .reason
                return .needMore
            }
            return self.lineEnd(b)
        case .reason:
            if b == ASCII.cr || b == ASCII.lf { return self.lineEnd(b) }
            return ASCII.isReasonChar(b) ? .needMore : .failed
        case .lineFeed:
            guard b == ASCII.lf else { return .failed }
            self.phase = .done
            return .matched
        case .done:
            return .failed
        }
    }

    private mutating func lineEnd(_ b: UInt8) -> Outcome {
        if b == ASCII.lf {
            self.phase = .done
            return .matched
        }
        guard b == ASCII.cr else { return .failed }
        self.phase = .lineFeed
        return .needMore
    }
}

// vpcmirror: the JSON parser on valid text, on every kind of invalid text, and on every truncation.
import MirrorConfig
import MirrorTestSupport
import Testing

private func parse(_ text: String) -> Result<JSONValue, JSONSyntaxError> {
    parse(Array(text.utf8))
}

private func parse(_ bytes: [UInt8]) -> Result<JSONValue, JSONSyntaxError> {
    do {
        return .success(try JSONParser.parse(bytes))
    } catch {
        return .failure(error)
    }
}

private func value(_ text: String) -> JSONValue? {
    if case .success(let v) = parse(text) { return v }
    return nil
}

private func syntaxError(_ text: String) -> JSONSyntaxError? {
    syntaxError(Array(text.utf8))
}

private func syntaxError(_ bytes: [UInt8]) -> JSONSyntaxError? {
    if case .failure(let e) = parse(bytes) { return e }
    return nil
}

@Suite("JSONParser")
struct JSONParserTests {
    @Test func everyTruncationIsRejected() {
        let whole = Array(Doc.example.utf8)
        #expect(value(Doc.example) != nil)
        for length in 0..<whole.count {
            let error = syntaxError(Array(whole[..<length]))
            #expect(error != nil, "prefix of \(length) bytes parsed")
            #expect((error?.offset ?? -1) <= length)
            #expect((error?.offset ?? -1) >= 0)
        }
    }

    @Test func everyTruncationOfTheSessionsFileIsOneSyntaxProblem() {
        let whole = Array(SessionsFileLoadsTests.awsOutputs.utf8)
        for length in 0..<whole.count {
            guard case .failure(let error) = load(Array(whole[..<length])) else {
                Issue.record("prefix of \(length) bytes loaded")
                continue
            }
            #expect(error.problems.count == 1)
            #expect(error.problems.first?.path == "")
        }
    }

    @Test func mutatedFilesNeverCrash() {
        // A fixed-seed mutation run: flip, insert and delete bytes; any outcome but a crash is fine.
        var rng = SeededGenerator(seed: 0x5EED)
        let base = Array(SessionsFileLoadsTests.awsOutputs.utf8)
        let interesting: [UInt8] = Array("{}[],:\"\\0123456789-+.eEtrufalsn \n\u{7F}".utf8) + [0x00, 0xC3, 0xED, 0xF4, 0xFF]
        var loadedCount = 0
        for _ in 0..<3000 {
            var bytes = base
            for _ in 0...Int(rng.next() % 4) {
                guard !bytes.isEmpty else { break }
                let at = Int(rng.next() % UInt64(bytes.count))
                let byte = interesting[Int(rng.next() % UInt64(interesting.count))]
                switch rng.next() % 3 {
                case 0: bytes[at] = byte
                case 1: bytes.insert(byte, at: at)
                default: bytes.remove(at: at)
                }
            }
            if case .success = load(bytes) { loadedCount += 1 }
        }
        #expect(loadedCount < 3000)
    }

    @Test func keepsKeyOrderAndStructure() {
        #expect(
            value(#" {"b": [1, true, null], "a": {"x": "y"}, "c": false} "#)
                == .object([
                    JSONValue.Member(key: "b", value: .array([.number("1"), .bool(true), .null])),
                    JSONValue.Member(key: "a", value: .object([JSONValue.Member(key: "x", value: .string("y"))])),
                    JSONValue.Member(key: "c", value: .bool(false)),
                ])
        )
        #expect(value("[]") == .array([]))
        #expect(value("{}") == .object([]))
        #expect(value("\t\r\n 7 \n") == .number("7"))
        #expect(value("\u{FEFF}{}") == .object([]), "a UTF-8 byte order mark is skipped")
    }

    @Test(arguments: ["0", "-0", "1.5", "-1.5e10", "1E+2", "1e-2", "123456789012345678901234567890", "0.000"])
    func numbersKeepTheirText(_ text: String) {
        #expect(value(text) == .number(text))
    }

    @Test(arguments: ["01", "-", "1.", "1e", "1e+", "+1", ".5", "1.e3", "-01", "0x10", "NaN", "Infinity", "-Infinity", "1 2"])
    func invalidNumbersAreRejected(_ text: String) {
        #expect(syntaxError(text) != nil)
    }

    @Test func escapes() {
        #expect(value(#""\"\\\/\b\f\n\r\t""#) == .string("\"\\/\u{08}\u{0C}\n\r\t"))
        #expect(value(#""\u0041\u00e9\u20AC\u0000""#) == .string("Aé€\u{0}"))
        #expect(value(#""\ud83d\ude00""#) == .string("😀"), "a surrogate pair is one scalar")
        #expect(value(#""\uD834\uDD1E""#) == .string("\u{1D11E}"))
        #expect(value("\"é😀\"") == .string("é😀"), "raw UTF-8 is accepted")
    }

    @Test(arguments: [
        (#""\ud83d""#, "unpaired"),
        (#""\ude00""#, "unpaired"),
        (#""\ud83d\u0041""#, "unpaired"),
        (#""\ud83dx""#, "unpaired"),
        (#""\u12G4""#, "4 hex digits"),
        (#""\x41""#, "invalid escape"),
        ("\"a\tb\"", "control character"),
        ("\"a\nb\"", "control character"),
    ])
    func badStrings(_ text: String, _ mentions: String) {
        let error = syntaxError(text)
        #expect(error?.message.contains(mentions) == true, "\(String(describing: error))")
    }

    @Test(arguments: [
        [0x22, 0xC3, 0x28, 0x22],  // continuation byte missing
        [0x22, 0xC0, 0xAF, 0x22],  // overlong '/'
        [0x22, 0xED, 0xA0, 0x80, 0x22],  // an encoded UTF-16 surrogate
        [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],  // above U+10FFFF
        [0x22, 0x80, 0x22],  // a lone continuation byte
        [0x22, 0xFF, 0x22],
        [0x22, 0xE2, 0x82],  // input ends inside a sequence
    ] as [[UInt8]])
    func invalidUTF8IsRejected(_ bytes: [UInt8]) {
        let error = syntaxError(bytes)
        #expect(error?.message.contains("UTF-8") == true, "\(String(describing: error))")
        #expect(error?.offset == 1 || error?.offset == bytes.count)
    }

    @Test func depthCap() {
        #expect(JSONParser.maximumDepth == 64)
        let deepest = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(value(deepest) != nil)
        let tooDeep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(syntaxError(tooDeep)?.offset == 64)
        let objects = String(repeating: #"{"a":"#, count: 65) + "1" + String(repeating: "}", count: 65)
        #expect(syntaxError(objects)?.offset == 5 * 64)
        // Far past the cap fails the same way, without using the stack.
        let huge = String(repeating: "[", count: 1_000_000)
        #expect(syntaxError(huge)?.message.contains("nest more than 64 deep") == true)
    }

    @Test func positionsCountLinesAndCharacters() {
        let error = syntaxError("{\n  \"a\": 1,\n  \"é\": [tru]\n}")
        #expect(error?.line == 3)
        #expect(error?.column == 9)
        #expect(error?.offset == 21)
        #expect(error?.description.hasPrefix("byte 21 (line 3, column 9): invalid literal") == true)
    }

    @Test(arguments: [
        ("", "empty input"),
        ("   ", "expected a JSON value"),
        ("{", "unexpected end of input"),
        ("{\"a\"", "unexpected end of input; expected ':'"),
        ("{\"a\":", "unexpected end of input; expected a JSON value"),
        ("{\"a\":1", "unexpected end of input; expected ',' or '}'"),
        ("[1", "unexpected end of input; expected ',' or ']'"),
        ("[1,]", "trailing comma before ']'"),
        ("{\"a\":1,}", "trailing comma before '}'"),
        ("{\"a\":1 \"b\":2}", "expected ',' or '}'"),
        ("{\"a\":1, \"a\":2}", "duplicate key \"a\""),
        ("{1:2}", "expected a string key"),
        ("[1] x", "after the end of the JSON value"),
        ("nul", "invalid literal"),
        ("True", "expected a JSON value"),
        ("// comment\n{}", "expected a JSON value"),
        ("[01]", "leading zeros"),
    ])
    func structuralErrors(_ text: String, _ mentions: String) {
        let error = syntaxError(text)
        #expect(error?.message.contains(mentions) == true, "\(String(describing: error))")
    }

    @Test func scalarsAtTheTopLevel() {
        #expect(value("true") == .bool(true))
        #expect(value("null") == .null)
        #expect(value(#""x""#) == .string("x"))
    }

    @Test func descriptionIsCompactJSON() {
        let v = value(#"{ "a" : [ 1 , "x\n\"" , null ] , "b" : { } }"#)
        #expect(v?.description == #"{"a":[1,"x\n\"",null],"b":{}}"#)
    }
}


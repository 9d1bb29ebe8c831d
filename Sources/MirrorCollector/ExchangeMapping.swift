// vpcmirror: an HTTP transaction and its connection, as the record an output line is written from.
import MirrorHTTP1
import MirrorReassembly
import MirrorWire

enum ExchangeMapping {
    static func record(
        _ t: HTTPTransaction, client: (IPAddress, UInt16), server: (IPAddress, UInt16), key: ConnectionKey, vni: UInt32?,
        sessionsByVNI: [UInt32: String]
    ) -> HTTPExchangeRecord {
        // Without a request (lost, or before the capture began), the line is dated by the response.
        let start = t.requestTimestamp ?? t.responseEndTimestamp ?? 0
        var r = HTTPExchangeRecord(timestamp: start, client: (client.0, client.1), server: (server.0, server.1))
        if let a = t.requestTimestamp, let b = t.responseEndTimestamp { r.durationNanoseconds = b - a }
        r.outerVLAN = key.outerVLAN == 0 ? nil : key.outerVLAN
        r.innerVLAN = key.innerVLAN == 0 ? nil : key.innerVLAN
        r.vni = vni
        r.sessionID = vni.flatMap { sessionsByVNI[$0] }
        r.version = t.version
        r.method = t.method
        r.target = t.requestTarget
        r.requestHeaders = t.requestHeaders
        r.requestBytes = t.requestBytes
        r.requestBodyBytes = t.requestBodyBytes
        r.requestBodyDecodedBytes = t.requestBodyDecodedBytes
        r.requestBody = t.requestBody
        r.statusCode = t.statusCode
        r.interimStatusCodes = t.interimStatusCodes
        r.responseHeaders = t.responseHeaders
        r.responseBytes = t.responseBytes
        r.responseBodyBytes = t.responseBodyBytes
        r.responseBodyDecodedBytes = t.responseBodyDecodedBytes
        r.responseBody = t.responseBody
        r.flags = t.flags.names
        return r
    }
}

// vpcmirror: reads capture files from disk for the pure-Swift codec in MirrorWire, which does no I/O itself.
public import Foundation
public import MirrorWire

extension PcapFile {
    /// Reads and parses the file at `path`.
    public init(path: String) throws(PcapFileError) {
        try self.init(contentsOf: URL(fileURLWithPath: path))
    }

    /// Reads and parses the file at `url`.
    /// - Throws: `unreadable` when the file cannot be read, else what `init(bytes:)` throws.
    public init(contentsOf url: URL) throws(PcapFileError) {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw PcapFileError(code: .unreadable, byteOffset: 0, detail: "\(url.path): \(error)")
        }
        try self.init(bytes: [UInt8](data))
    }
}

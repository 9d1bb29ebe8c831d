// vpcmirror: bytes out to a file descriptor, whole: the one loop that retries EINTR and short writes, for the lines
// `collect` writes, the reports written to files, and standard error.
import Glibc

/// Writes `bytes` to `fd`, retrying on EINTR and short writes. Returns how many bytes went out and, when not all did,
/// the error (`EIO` for a write that took nothing without one, so that it never spins).
func writeWhole(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> (written: Int, error: Int32?) {
    guard let base = bytes.baseAddress else { return (0, nil) }
    var offset = 0
    while offset < bytes.count {
        let n = write(fd, base + offset, bytes.count - offset)
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { return (offset, n < 0 ? errno : EIO) }
        offset += n
    }
    return (offset, nil)
}

/// Text for people and other programs, out through the operating system without buffering.
public enum TextOutput {
    /// Writes `text` to standard error at once (logs and reports are read while we run). Errors are ignored: there is
    /// nowhere left to report them.
    public static func standardError(_ text: String) {
        var text = text
        text.withUTF8 { _ = writeWhole(2, UnsafeRawBufferPointer($0)) }
    }

    /// Writes `text` into the file at `path`, created or truncated. Returns what went wrong, in strerror's words, or
    /// nil.
    public static func write(_ text: String, toFile path: String) -> String? {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return String(cString: strerror(errno)) }
        defer { close(fd) }
        var text = text
        return text.withUTF8 { writeWhole(fd, UnsafeRawBufferPointer($0)).error.map { String(cString: strerror($0)) } }
    }
}

// vpcmirror: threads straight from pthreads, so that the executable does not link Foundation for `Thread` (its
// thousands of protocol conformances made every runtime conformance look-up at start-up slower: 1.4 ms of 7).
import Glibc

/// Starting a detached thread that runs `body` once.
public enum OSThread {
    /// Starts `body` on a new thread named `name` (at most 15 bytes are kept), with `stackSize` bytes of stack
    /// (nil: the system's default). A thread that cannot be created is a fatal error: nothing can run without it.
    public static func start(name: String, stackSize: Int? = nil, _ body: @escaping @Sendable () -> Void) {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        if let stackSize { pthread_attr_setstacksize(&attributes, stackSize) }
        let context = Unmanaged.passRetained(Body(name: name, run: body)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, &attributes, { context in
            let body = Unmanaged<Body>.fromOpaque(context!).takeRetainedValue()
            OSThread.name(body.name)
            body.run()
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            fatalError("cannot start thread \(name): \(String(cString: strerror(rc)))")
        }
    }

    /// Names the calling thread as `ps`, `top` and `perf` show it (the kernel keeps 15 bytes). `pthread_setname_np`
    /// is not visible from Swift here, so it is written where the kernel keeps it.
    private static func name(_ name: String) {
        let fd = open("/proc/thread-self/comm", O_WRONLY)
        guard fd >= 0 else { return }
        let bytes = Array(name.utf8.prefix(15))
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    private final class Body: Sendable {
        let name: String
        let run: @Sendable () -> Void
        init(name: String, run: @escaping @Sendable () -> Void) {
            self.name = name
            self.run = run
        }
    }
}

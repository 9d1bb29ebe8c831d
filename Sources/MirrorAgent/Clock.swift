// vpcmirror: the few clock and sleep calls the glue needs, in one place.
import Glibc

/// Monotonic nanoseconds.
@inline(__always)
func monotonicNanoseconds() -> Int64 {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
}

/// Sleeps until the monotonic clock reaches `deadline` (nanoseconds).
func sleep(untilMonotonic deadline: Int64) {
    while true {
        let now = monotonicNanoseconds()
        if now >= deadline { return }
        let delta = deadline - now
        var t = timespec(tv_sec: Int(delta / 1_000_000_000), tv_nsec: Int(delta % 1_000_000_000))
        nanosleep(&t, nil)
    }
}

/// A short pause while waiting for the sender to free queue space.
func pauseBriefly() {
    var t = timespec(tv_sec: 0, tv_nsec: 20_000)
    nanosleep(&t, nil)
}

/// True when standard error is a terminal (progress lines go there only then).
func standardErrorIsTerminal() -> Bool { isatty(2) != 0 }

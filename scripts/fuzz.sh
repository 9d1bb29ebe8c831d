#!/usr/bin/env bash
# Fuzzes every parser with libFuzzer + AddressSanitizer: scripts/fuzz.sh [seconds per target] [target...]
# Targets: packet vxlan config pcapfile http1 reassembly route. Crashes are written to fuzz-out/<target>/ and fail the script.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("${@:-packet vxlan config pcapfile http1 reassembly route}")
targets=(${targets[@]})
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Each target is one module built from the sources it needs (their own `import` lines removed), plus a harness.
sources_for() {
    case "$1" in
        packet) echo "Sources/MirrorWire Sources/MirrorVXLAN" ;;
        vxlan) echo "Sources/MirrorWire Sources/MirrorVXLAN" ;;
        config) echo "Sources/MirrorWire Sources/MirrorFilter Sources/MirrorConfig" ;;
        pcapfile) echo "Sources/MirrorWire" ;;
        http1) echo "Sources/MirrorHTTP1" ;;
        reassembly) echo "Sources/MirrorWire Sources/MirrorReassembly" ;;
        route) echo "Sources/MirrorWire Sources/MirrorVXLAN Sources/MirrorReassembly Sources/MirrorJSON Sources/MirrorHTTP1 Sources/MirrorCollector" ;;
    esac
}
harness_for() {
    case "$1" in
        packet) echo Tests/Fuzz/FuzzPacket.swift ;; vxlan) echo Tests/Fuzz/FuzzVXLAN.swift ;;
        config) echo Tests/Fuzz/FuzzConfig.swift ;; pcapfile) echo Tests/Fuzz/FuzzPcapFile.swift ;;
        http1) echo Tests/Fuzz/FuzzHTTP1.swift ;; reassembly) echo Tests/Fuzz/FuzzReassembly.swift ;;
        route) echo Tests/Fuzz/FuzzRoute.swift ;;
    esac
}
corpus_for() {
    case "$1" in
        packet|pcapfile|route) echo Tests/Fixtures ;; vxlan) echo Tests/Fuzz/corpus/vxlan ;; config) echo Tests/Fuzz/corpus/config ;;
        http1) echo Tests/Fuzz/corpus/http1 ;; reassembly) echo Tests/Fuzz/corpus/none ;;
    esac
}

status=0
for t in "${targets[@]}"; do
    dir="$work/$t"
    mkdir -p "$dir/src" "fuzz-out/$t" "$dir/corpus"
    for s in $(sources_for "$t"); do
        for f in "$s"/*.swift "$s"/*/*.swift; do
            [ -e "$f" ] || continue
            sed -E '/^(public |internal |@testable )?import (Mirror[A-Za-z0-9]+)$/d' "$f" > "$dir/src/$(echo "$f" | tr / _)"
        done
    done
    cp "$(harness_for "$t")" "$dir/src/"
    echo "fuzz: building $t"
    # ISA-L's module map (HTTP/1 measures decoded body sizes with it).
    swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name Fuzz -I Sources/CIsal "$dir"/src/*.swift -o "$dir/fuzz-$t"
    # Seed corpus: capture files, cut to 4 KiB records for the packet target.
    if [ "$t" = packet ] || [ "$t" = route ]; then
        python3 - "$dir/corpus" "$t" <<'PY'
import struct, sys, os, glob
out, target = sys.argv[1], sys.argv[2]
n = 0
for f in sorted(glob.glob("Tests/Fixtures/*.pcap")):
    b = open(f, "rb").read()
    if b[:4] not in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"): continue
    link = struct.unpack("<I", b[20:24])[0]
    lt = {1: 0, 113: 1, 276: 2, 0: 3}.get(link)
    if lt is None or (target == "route" and lt != 0): continue
    off = 24
    k = 0
    while off + 16 <= len(b) and k < 20:
        incl = struct.unpack("<I", b[off + 8:off + 12])[0]
        frame = b[off + 16:off + 16 + incl][:4096]
        # The packet target's first two bytes pick the link type and MTU; the route target reads Ethernet.
        open(os.path.join(out, f"seed{n}"), "wb").write((bytes([lt, 40]) if target == "packet" else b"") + frame)
        n += 1; k += 1
        off += 16 + incl
PY
    else
        cp "$(corpus_for "$t")"/* "$dir/corpus/" 2>/dev/null || true
        find "$dir/corpus" -size +1M -delete
    fi
    echo "fuzz: running $t for ${seconds}s"
    if ! "$dir/fuzz-$t" -max_total_time="$seconds" -max_len=65536 -artifact_prefix="fuzz-out/$t/" -print_final_stats=1 \
        "$dir/corpus" > "$dir/log" 2>&1; then
        status=1
        echo "fuzz: $t FAILED; artifacts in fuzz-out/$t/"
        tail -40 "$dir/log"
    else
        grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb)" "$dir/log" | sed "s/^/fuzz: $t /"
        grep -E "cov: [0-9]+" "$dir/log" | tail -1 | sed "s/^/fuzz: $t /"
    fi
done
exit $status

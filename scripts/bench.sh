#!/usr/bin/env bash
# Throughput against peers on the same input in the same run, reported as ratios (see docs/performance.md).
#   scripts/bench.sh [loops] [rounds]
# replay:  vpcmirror replay (decode, filter, encapsulate, send VXLAN to 127.0.0.1:4789) vs tcpreplay --topspeed -i lo.
# collect: vpcmirror collect --read (reassemble, parse HTTP, write JSON) vs tcpflow -e http, and vs merely reading
#          the file with libpcap (tcpdump -r FILE -w /dev/null).
set -euo pipefail
cd "$(dirname "$0")/.."
loops=${1:-40}
rounds=${2:-5}
bash scripts/install-deps.sh >/dev/null
# The Swift runtime linked in: a shipped binary needs no toolchain, and starts in half the time.
swift build -c release --static-swift-stdlib --product vpcmirror 2>&1 | grep -E "error:" || true
bin=$PWD/.build/release/vpcmirror
work=$(mktemp -d)
sink_pid=""
cleanup() { [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# The input: real Ethernet captures concatenated (IPv4 and IPv6, small requests and full-size segments).
inputs=(http-ipv6-1000req-dropped-resp.pcap http-ooo-retrans-206-large.pcap http-duplicated-packets-206.pcap
        http-keepalive-browser-wikipedia.pcap mixed-http-dns-icmp-mpls-ipv6.pcap http-range-keepalive-15req-loss.pcap)
mergecap -a -F pcap -w "$work/input.pcap" "${inputs[@]/#/Tests/Fixtures/}"
frames=$(capinfos -c -M "$work/input.pcap" | awk '/Number of packets/ {print $NF}')

# Every host in the input is an address of one interface, so every IP frame is filtered and mirrored
# (ten rules, the accepting ones last: the most rules AWS allows per filter).
python3 - "$work" <<'PY'
import json, subprocess, sys
work = sys.argv[1]
out = subprocess.run(["tshark", "-r", f"{work}/input.pcap", "-T", "fields", "-e", "ip.src", "-e", "ipv6.src"],
                     capture_output=True, text=True).stdout.split()
addresses = sorted({a.split(",")[0] for a in out if a})
v4 = [a for a in addresses if ":" not in a]
v6 = [a for a in addresses if ":" in a]
def rule(n, action, **kw):
    r = {"RuleNumber": n, "RuleAction": action, "SourceCidrBlock": kw.get("src", "0.0.0.0/0"),
         "DestinationCidrBlock": kw.get("dst", "0.0.0.0/0")}
    if "proto" in kw: r["Protocol"] = kw["proto"]
    if "ports" in kw: r["DestinationPortRange"] = {"FromPort": kw["ports"][0], "ToPort": kw["ports"][1]}
    return r
rules = [rule(10 + i, "reject", proto=17, ports=(9000 + i, 9000 + i)) for i in range(3)]
rules += [rule(100, "accept"), rule(110, "accept", src="::/0", dst="::/0")]
config = {
    "NetworkInterfaces": [{"NetworkInterfaceId": "eni-bench",
                           "PrivateIpAddresses": [{"PrivateIpAddress": a} for a in v4],
                           "Ipv6Addresses": [{"Ipv6Address": a} for a in v6]}],
    "AmazonDnsAddresses": [],
    "TrafficMirrorFilters": [{"TrafficMirrorFilterId": "tmf-bench", "IngressFilterRules": rules, "EgressFilterRules": rules}],
    "TrafficMirrorTargets": [{"TrafficMirrorTargetId": "tmt-bench", "Endpoints": ["127.0.0.1:4789"]}],
    "TrafficMirrorSessions": [{"TrafficMirrorSessionId": "tms-bench", "NetworkInterfaceId": "eni-bench",
                               "TrafficMirrorTargetId": "tmt-bench", "TrafficMirrorFilterId": "tmf-bench",
                               "SessionNumber": 1, "VirtualNetworkId": 7}],
}
json.dump(config, open(f"{work}/sessions.json", "w"))
PY

# A sink that holds the port and never reads: the kernel drops at its full queue, as cheaply as it can.
python3 -c "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', 4789)); time.sleep(3600)" &
sink_pid=$!
sleep 0.5

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
: > "$work/ours"; : > "$work/peer"; : > "$work/rss"
for r in $(seq "$rounds"); do
    tcpreplay --topspeed -i lo --loop "$loops" "$work/input.pcap" 2>&1 | awk '/Rated:/ {for (i=1;i<=NF;i++) if ($i=="pps") print $(i-1)}' >> "$work/peer"
    /usr/bin/time -f "%M" -o "$work/time" "$bin" replay --sessions "$work/sessions.json" --loop "$loops" --no-progress \
        --stats-json "$work/stats.json" "$work/input.pcap" > "$work/out"
    python3 -c "import json; s=json.load(open('$work/stats.json')); assert s['balanced']; print(s['frames_per_second'])" >> "$work/ours"
    cat "$work/time" >> "$work/rss"
done
mirrored=$(python3 -c "import json; s=json.load(open('$work/stats.json')); print(sum(x['mirrored'] for x in s['sessions']))")
ours=$(median < "$work/ours"); peer=$(median < "$work/peer"); rss=$(sort -n "$work/rss" | tail -1)
# Each round's ratio too (the two runs of a round are seconds apart): this machine's speed drifts between rounds.
paired=$(paste "$work/ours" "$work/peer" | awk '{print $1 / $2}' | median)
printf 'input: %s frames (%s), looped %s times; %s rounds, medians\n' "$frames" "${inputs[*]}" "$loops" "$rounds"
printf 'vpcmirror replay:       %10.0f frames/s  (%s of %s frames mirrored per pass; peak RSS %d MiB)\n' "$ours" "$((mirrored / loops))" "$frames" "$((rss / 1024))"
printf 'tcpreplay --topspeed:   %10.0f packets/s\n' "$peer"
python3 -c "print(f'ratio: {$ours / $peer:.2f}x (target >= 1.5x); median of the rounds\' ratios: {$paired:.2f}x')"

# collect --read, on the same frames written out loops times (a file, not a loop, so every tool reads the same bytes).
if "$bin" collect --help >/dev/null 2>&1; then
    big="$work/collect-input.pcap"
    # The copies must be distinct connections (the same ones again would be retransmissions): shift both TCP ports
    # by 7 per copy, and move each copy an hour later.
    python3 - "$work/input.pcap" "$big" "$loops" <<'PY'
import struct, sys
src, dst, loops = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(src, "rb").read()
assert data[:4] == b"\xd4\xc3\xb2\xa1", "little-endian microsecond pcap expected"
records, off = [], 24
while off + 16 <= len(data):
    sec, usec, incl, orig = struct.unpack_from("<IIII", data, off)
    records.append((sec, usec, bytearray(data[off + 16:off + 16 + incl]), orig))
    off += 16 + incl
first = min(r[0] for r in records)
span = max(r[0] for r in records) - first + 1
def tcp_offset(f):
    if len(f) < 14: return None
    t, o = struct.unpack_from(">H", f, 12)[0], 14
    while t in (0x8100, 0x88A8) and len(f) >= o + 4:
        t, o = struct.unpack_from(">H", f, o + 2)[0], o + 4
    if t == 0x0800 and len(f) >= o + 20 and f[o + 9] == 6 and struct.unpack_from(">H", f, o + 6)[0] & 0x1FFF == 0:
        return o + (f[o] & 15) * 4
    if t == 0x86DD and len(f) >= o + 40 and f[o + 6] == 6:
        return o + 40
    return None
with open(dst, "wb") as out:
    out.write(data[:24])
    for k in range(loops):
        for sec, usec, f, orig in records:
            f = bytearray(f)
            t = tcp_offset(f)
            if t is not None and len(f) >= t + 4:
                sp, dp = struct.unpack_from(">HH", f, t)
                struct.pack_into(">HH", f, t, (sp + 7 * k) & 0xFFFF, (dp + 7 * k) & 0xFFFF)
            out.write(struct.pack("<IIII", (sec + k * 3600) & 0xFFFFFFFF, usec, len(f), orig) + f)
PY
    size=$(stat -c %s "$big")
    time_of() { local t0 t1; t0=$(date +%s.%N); "$@" > /dev/null 2>&1; t1=$(date +%s.%N); python3 -c "print($t1 - $t0)"; }
    : > "$work/c-ours"; : > "$work/c-one"; : > "$work/c-flow"; : > "$work/c-read"; : > "$work/c-rss"
    for r in $(seq "$rounds"); do
        time_of tcpdump -r "$big" -w /dev/null >> "$work/c-read"
        rm -rf "$work/flow"; mkdir -p "$work/flow"
        time_of tcpflow -e http -o "$work/flow" -r "$big" >> "$work/c-flow"
        /usr/bin/time -f "%M" -o "$work/ctime" "$bin" collect --read "$big" --output "$work/lines.json" 2> "$work/collect.err" || true
        cat "$work/ctime" >> "$work/c-rss"
        time_of "$bin" collect --read "$big" --output /dev/null >> "$work/c-ours"
        time_of "$bin" collect --read "$big" --workers 1 --output /dev/null >> "$work/c-one"
    done
    ours=$(median < "$work/c-ours"); one=$(median < "$work/c-one"); flow=$(median < "$work/c-flow"); readonly_=$(median < "$work/c-read")
    rss=$(sort -n "$work/c-rss" | tail -1)
    printf 'collect input: %s MiB (%s frames), %s HTTP exchanges written\n' "$((size / 1048576))" "$((frames * loops))" "$(wc -l < "$work/lines.json")"
    printf 'vpcmirror collect --read:  %8.3f s  (default --workers: %s; peak RSS %d MiB)\n' "$ours" "$(python3 -c 'import os; print(min(4, len(os.sched_getaffinity(0))))')" "$((rss / 1024))"
    printf '  the same, --workers 1:   %8.3f s\n' "$one"
    printf 'tcpflow -e http:           %8.3f s\n' "$flow"
    printf 'libpcap read only:         %8.3f s  (tcpdump -r FILE -w /dev/null)\n' "$readonly_"
    python3 -c "print(f'collect vs tcpflow: {$flow / $ours:.2f}x faster (target >= 5x); vs reading alone: {$ours / $readonly_:.2f}x the time (target <= 2.5x)')"
    pflow=$(paste "$work/c-flow" "$work/c-ours" | awk '{print $1 / $2}' | median)
    pread=$(paste "$work/c-ours" "$work/c-read" | awk '{print $1 / $2}' | median)
    printf 'the same as medians of the rounds'"'"' ratios: vs tcpflow %.2fx, vs reading alone %.2fx\n' "$pflow" "$pread"
fi

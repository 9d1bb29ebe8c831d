#!/usr/bin/env bash
# The demo: a collector on 127.0.0.1:4789, a bundled capture replayed through sessions.json to it, and the HTTP
# exchanges the collector wrote (ECS JSON lines, one per exchange).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh >/dev/null
# The Swift runtime linked in: a shipped binary needs no toolchain, and starts in half the time.
swift build -c release --static-swift-stdlib --product vpcmirror 2>&1 | grep -E "error:" || true
bin=.build/release/vpcmirror
capture=Tests/Fixtures/http-keepalive-browser-wikipedia.pcap
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== vpcmirror validate"
"$bin" validate --sessions sessions.json

echo "== vpcmirror collect --listen 127.0.0.1:4789 (in the background)"
"$bin" collect --listen 127.0.0.1:4789 --sessions sessions.json --output "$work/exchanges.json" --duration 60 \
    2> "$work/collect.txt" &
collector=$!
sleep 1

echo "== vpcmirror replay $capture"
"$bin" replay --sessions sessions.json --speed 10 --no-progress "$capture"

sleep 1
kill -INT "$collector"
wait "$collector"
echo "== what the collector counted"
cat "$work/collect.txt"
echo "== the exchanges it wrote ($(wc -l < "$work/exchanges.json") JSON lines in ECS; the first one whole, then one line each)"
head -n 1 "$work/exchanges.json"
python3 - "$work/exchanges.json" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    j = json.loads(line)
    http, mirror = j["http"], j["mirror"]
    print("  {:<10} {:<5} {:<44} {:>4}  {:>6} B  VNI {} {} {}".format(
        j["client"]["ip"], http.get("request", {}).get("method", "-"),
        (j.get("url", {}).get("domain", "") + j.get("url", {}).get("path", ""))[:44],
        http.get("response", {}).get("status_code", "-"), http.get("response", {}).get("bytes", 0),
        mirror.get("vni", "-"), mirror.get("session_id", ""), ",".join(mirror["flags"])))
PY

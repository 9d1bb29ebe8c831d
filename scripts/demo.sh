#!/usr/bin/env bash
# The demo: replay a bundled capture through sessions.json to a VXLAN receiver on 127.0.0.1:4789.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh >/dev/null
swift build -c release --product vpcmirror 2>&1 | grep -E "error|warning: unre" || true
bin=.build/release/vpcmirror
capture=Tests/Fixtures/http-keepalive-browser-wikipedia.pcap

echo "== vpcmirror validate"
"$bin" validate --sessions sessions.json

ready=$(mktemp -u)
python3 scripts/vxlan-sink.py --listen 127.0.0.1:4789 --seconds 20 --ready "$ready" > /tmp/vpcmirror-demo-sink.txt &
sink=$!
for _ in $(seq 50); do [ -e "$ready" ] && break; sleep 0.1; done
rm -f "$ready"

echo "== vpcmirror replay $capture"
"$bin" replay --sessions sessions.json --speed 10 --no-progress "$capture"
wait "$sink" || true
echo "== what arrived at the target"
cat /tmp/vpcmirror-demo-sink.txt

#!/usr/bin/env bash
# vpcmirror: live attach end to end, in network namespaces this script creates and removes (root needed).
#
#   client ── s0 ── server (HTTP on 10.77.1.2:8080, vpcmirror attach on s0) ── s1 ── lb ─┬─ c1 (collector)
#   10.77.1.1        10.77.1.2                                               10.77.2.1   ├─ c2 (collector)
#                                                                                        └─ c3 (collector)
# 1. A known curl mix: the collector's JSON lines hold exactly those exchanges, both directions, the session's VNI;
#    tcpdump + tshark on the collector side: VXLAN well-formed, inner frames ≤ MTU, one outer port per connection.
#    A second session on s1, which the VXLAN itself leaves through, must never mirror it.
# 2. Fleet: three collectors behind an nftables jhash load balancer, 60 concurrent connections.
# 3. Fleet: three SO_REUSEPORT collector processes on one port, the same load.
# 4. Link down/up, SIGHUP reloads (valid, then invalid), interface deleted and re-created, during traffic.
# Every load is bounded in count and time; traffic stays inside the namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
[ "$(id -u)" = 0 ] || { echo "attach-e2e.sh: needs root (network namespaces)" >&2; exit 2; }
for tool in ip nft tcpdump tshark curl python3 ethtool; do
    command -v "$tool" >/dev/null || { echo "attach-e2e.sh: $tool missing: run scripts/install-deps.sh" >&2; exit 2; }
done

swift build --product vpcmirror >/dev/null
BIN=$(swift build --show-bin-path)/vpcmirror
WORK=$(mktemp -d /tmp/vpcmirror-attach.XXXXXX)
P=vpcm$$-   # namespace prefix, unique per run
NS_CLI=${P}cli NS_SRV=${P}srv NS_LB=${P}lb
PIDS=()

cleanup() {
    set +e
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    sleep 0.3
    for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null; done
    for ns in "$NS_CLI" "$NS_SRV" "$NS_LB" ${P}c1 ${P}c2 ${P}c3; do ip netns del "$ns" 2>/dev/null; done
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# Not for background jobs: `ip netns exec` must be the job itself, so that $! is the program's pid (ip execs it).
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
step() { echo; echo "== $*"; }
fail() { echo "FAIL: $*"; exit 1; }

# Waits up to $3 seconds for a line matching $2 in file $1.
wait_for_log() {
    local deadline=$((SECONDS + $3))
    until grep -q -- "$2" "$1" 2>/dev/null; do
        [ $SECONDS -lt $deadline ] || { echo "--- $1:"; cat "$1"; fail "no \"$2\" in $1 within $3 s"; }
        sleep 0.1
    done
}

# Waits until UDP port $2 is bound in namespace $1.
wait_for_udp() {
    local deadline=$((SECONDS + 10))
    until in_ns "$1" ss -Hlun "sport = :$2" | grep -q .; do
        [ $SECONDS -lt $deadline ] || fail "nothing listens on UDP $2 in $1"
        sleep 0.1
    done
}

# veth pair $1 (in ns $2, address $3) ↔ $4 (in ns $5, address $6), MTU $7.
veth() {
    ip link add "$1" netns "$2" mtu "$7" type veth peer name "$4" netns "$5" mtu "$7"
    in_ns "$2" ip addr add "$3" dev "$1"
    in_ns "$5" ip addr add "$6" dev "$4"
    in_ns "$2" ip link set "$1" up
    in_ns "$5" ip link set "$4" up
}

step "namespaces"
for ns in "$NS_CLI" "$NS_SRV" "$NS_LB" ${P}c1 ${P}c2 ${P}c3; do
    ip netns add "$ns"
    in_ns "$ns" ip link set lo up
done
# The client's link has the usual 1500-byte MTU; the mirror path has room for VXLAN's 50 bytes, as AWS's 9001 does.
veth c0 "$NS_CLI" 10.77.1.1/24 s0 "$NS_SRV" 10.77.1.2/24 1500
veth s1 "$NS_SRV" 10.77.2.1/24 l0 "$NS_LB" 10.77.2.254/24 9000
for n in 1 2 3; do
    veth "l$n" "$NS_LB" "10.78.$n.1/24" "k$n" "${P}c$n" "10.78.$n.2/24" 9000
    in_ns "${P}c$n" ip route add default via "10.78.$n.1"
done
in_ns "$NS_SRV" ip route add 10.78.0.0/16 via 10.77.2.254
# A veth passes UDP GSO super-datagrams whole, so tcpdump behind it would see several VXLAN datagrams as one.
# Segment where a NIC would, as the server's mirror traffic leaves it: from there on, the "wire" has datagrams.
in_ns "$NS_SRV" ethtool -K s1 tx-udp-segmentation off >/dev/null
in_ns "$NS_LB" sysctl -qw net.ipv4.ip_forward=1
# The load balancer: VXLAN to the VIP goes to one of three collectors by a hash of the outer source address and
# port. Both directions of a connection share the outer source port, so they land on the same collector.
in_ns "$NS_LB" nft -f - <<'EOF'
table ip vxlanlb {
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        ip daddr 10.78.9.9 udp dport 4789 dnat to jhash ip saddr . udp sport mod 3 map { 0 : 10.78.1.2, 1 : 10.78.2.2, 2 : 10.78.3.2 }
    }
}
EOF
ip netns exec "$NS_SRV" python3 "$ROOT/scripts/e2e/http_server.py" 10.77.1.2 8080 &
PIDS+=($!)
for _ in $(seq 50); do in_ns "$NS_CLI" curl -s -o /dev/null --max-time 1 http://10.77.1.2:8080/ready && break; sleep 0.1; done
echo "client, server, load balancer and three collector namespaces are up"

# sessions FILE VNI ENDPOINT [accept-all VNI on s1]
sessions() {
    local file=$1 vni=$2 endpoint=$3 s1vni=${4:-}
    python3 - "$file" "$vni" "$endpoint" "$s1vni" <<'EOF'
import json, sys
path, vni, endpoint, s1vni = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
http = {"RuleAction": "accept", "Protocol": 6, "SourceCidrBlock": "0.0.0.0/0", "DestinationCidrBlock": "0.0.0.0/0"}
doc = {
    "NetworkInterfaces": [{"NetworkInterfaceId": "eni-0server000000000001", "InterfaceName": "s0"}],
    "TrafficMirrorFilters": [{
        "TrafficMirrorFilterId": "tmf-0http00000000000001",
        "IngressFilterRules": [dict(http, RuleNumber=100, DestinationPortRange={"FromPort": 8080, "ToPort": 8080})],
        "EgressFilterRules": [dict(http, RuleNumber=100, SourcePortRange={"FromPort": 8080, "ToPort": 8080})]}],
    "TrafficMirrorTargets": [{"TrafficMirrorTargetId": "tmt-0collectors0000001", "Endpoints": [endpoint]}],
    "TrafficMirrorSessions": [{
        "TrafficMirrorSessionId": "tms-0http00000000000001", "NetworkInterfaceId": "eni-0server000000000001",
        "TrafficMirrorTargetId": "tmt-0collectors0000001", "TrafficMirrorFilterId": "tmf-0http00000000000001",
        "SessionNumber": 1, "VirtualNetworkId": vni}]}
if s1vni:
    everything = {"RuleNumber": 100, "RuleAction": "accept", "SourceCidrBlock": "0.0.0.0/0", "DestinationCidrBlock": "0.0.0.0/0"}
    doc["NetworkInterfaces"].append({"NetworkInterfaceId": "eni-0server000000000002", "InterfaceName": "s1"})
    doc["TrafficMirrorFilters"].append({"TrafficMirrorFilterId": "tmf-0all000000000000001",
        "IngressFilterRules": [everything], "EgressFilterRules": [everything]})
    doc["TrafficMirrorSessions"].append({
        "TrafficMirrorSessionId": "tms-0all000000000000001", "NetworkInterfaceId": "eni-0server000000000002",
        "TrafficMirrorTargetId": "tmt-0collectors0000001", "TrafficMirrorFilterId": "tmf-0all000000000000001",
        "SessionNumber": 1, "VirtualNetworkId": int(s1vni)})
json.dump(doc, open(path, "w"), indent=1)
EOF
}

# collector NAME NS ADDRESS:PORT SESSIONS: starts `vpcmirror collect`, output in $WORK/NAME.jsonl.
collector() {
    ip netns exec "$2" "$BIN" collect --listen "$3" --sessions "$4" --output "$WORK/$1.jsonl" >/dev/null 2>"$WORK/$1.log" &
    PIDS+=($!)
    eval "PID_$1=$!"
}

# attach NAME SESSIONS [flags]: starts `vpcmirror attach` in the server namespace; log in $WORK/NAME.log.
attach() {
    local name=$1 file=$2; shift 2
    ip netns exec "$NS_SRV" "$BIN" attach --sessions "$file" --stats-json "$WORK/$name.stats.json" "$@" \
        >"$WORK/$name.out" 2>"$WORK/$name.log" &
    PIDS+=($!)
    eval "PID_$name=$!"
    wait_for_log "$WORK/$name.log" "attached:" 10
}

# stop PID: SIGINT/SIGTERM and wait, failing on a non-zero exit.
stop() {
    kill -"$2" "$1"
    local status=0
    timeout 20 tail --pid="$1" -f /dev/null || fail "process $1 did not stop on SIG$2"
    wait "$1" || status=$?
    [ "$status" = 0 ] || fail "process $1 exited $status after SIG$2"
}

curl_c() { in_ns "$NS_CLI" curl -s --max-time 5 "$@" >/dev/null; }

# 60 concurrent connections, two requests each (keep-alive); each response takes 0.5 s, so all are open together.
concurrent_load() {
    local tag=$1 expected=$2 pids=()
    : >"$expected"
    for i in $(seq 1 60); do
        ip netns exec "$NS_CLI" curl -s --max-time 15 "http://10.77.1.2:8080/slow/$tag/$i/a" "http://10.77.1.2:8080/slow/$tag/$i/b" >/dev/null &
        pids+=($!)
        echo "GET /slow/$tag/$i/a 200" >>"$expected"
        echo "GET /slow/$tag/$i/b 200" >>"$expected"
    done
    for pid in "${pids[@]}"; do wait "$pid" || fail "a curl of the concurrent load failed"; done
}

# fleet_run ATTACH SESSIONS TAG COLLECTOR_PREFIX [attach flags]: attach, the concurrent load, everything stopped,
# then the exchanges of the three collectors $COLLECTOR_PREFIX{1,2,3} checked together.
fleet_run() {
    local name=$1 file=$2 tag=$3 prefix=$4; shift 4
    attach "$name" "$file" "$@"
    concurrent_load "$tag" "$WORK/$tag.expected"
    sleep 1
    eval "stop \$PID_$name INT"
    for n in 1 2 3; do eval "stop \$PID_$prefix$n TERM"; done
    grep -q "accounting: every frame accounted for" "$WORK/$name.out" || fail "attach counters do not add up"
    python3 scripts/e2e/check_attach.py transactions "$WORK/$tag.expected" "$WORK/${prefix}1.jsonl" \
        "$WORK/${prefix}2.jsonl" "$WORK/${prefix}3.jsonl" --vni 4242
}

##############################################################################################################
step "1. curl mix through attach on s0 → one collector; tcpdump + tshark on the collector side"
sessions "$WORK/p1.json" 4242 10.78.1.2:4789 4243
collector p1 "${P}c1" 10.78.1.2:4789 "$WORK/p1.json"
wait_for_udp "${P}c1" 4789
ip netns exec "${P}c1" tcpdump -i k1 -U -s 0 -w "$WORK/p1.pcap" udp port 4789 2>"$WORK/p1.tcpdump.log" &
TCPDUMP=$!; PIDS+=($TCPDUMP)
wait_for_log "$WORK/p1.tcpdump.log" "listening on" 10
attach a1 "$WORK/p1.json"
U=http://10.77.1.2:8080
curl_c "$U/hello"
curl_c -I "$U/hello"
curl_c -d 'a=1&b=2' "$U/echo"
curl_c "$U/ka/1" "$U/ka/2" "$U/ka/3"
curl_c "$U/missing"
curl_c "$U/chunked"
curl_c --compressed "$U/gzip"
curl_c "$U/big"
cat >"$WORK/p1.expected" <<'EOF'
GET /hello 200
HEAD /hello 200
POST /echo 201
GET /ka/1 200
GET /ka/2 200
GET /ka/3 200
GET /missing 404
GET /chunked 200
GET /gzip 200
GET /big 200
EOF
sleep 1
stop "$PID_a1" INT
sleep 0.5
stop "$PID_p1" TERM
kill -INT $TCPDUMP; wait $TCPDUMP || true
echo "--- attach counters:"; cat "$WORK/a1.out"
grep -q "accounting: every frame accounted for" "$WORK/a1.out" || fail "attach counters do not add up"
python3 scripts/e2e/check_attach.py transactions "$WORK/p1.expected" "$WORK/p1.jsonl" --vni 4242 --server 10.77.1.2:8080
python3 scripts/e2e/check_attach.py vxlan "$WORK/p1.pcap" 1500
own=$(tshark -r "$WORK/p1.pcap" -d udp.port==4789,vxlan -Y "vxlan.vni == 4243" 2>/dev/null | wc -l)
[ "$own" = 0 ] || fail "$own VXLAN frames of the s1 session: the mirror's own output was mirrored"
segmented=$(python3 -c 'import json,sys; print(sum(s["segmented"] for s in json.load(open(sys.argv[1]))["sessions"]))' "$WORK/a1.stats.json")
echo "OK: the s1 session (everything on the interface the VXLAN leaves by) mirrored none of it; $segmented GSO super-frame(s) segmented to the MTU"

##############################################################################################################
step "2. fleet: three collectors behind nftables jhash, 60 concurrent connections"
sessions "$WORK/p2.json" 4242 10.78.9.9:4789
for n in 1 2 3; do collector "p2c$n" "${P}c$n" "10.78.$n.2:4789" "$WORK/p2.json"; wait_for_udp "${P}c$n" 4789; done
fleet_run a2 "$WORK/p2.json" jhash p2c
for n in 1 2 3; do [ -s "$WORK/p2c$n.jsonl" ] || fail "collector $n behind the load balancer got nothing: no spreading"; done

##############################################################################################################
step "3. fleet: three SO_REUSEPORT collector processes on 10.78.1.2:4790, 60 concurrent connections (no prefilter)"
sessions "$WORK/p3.json" 4242 10.78.1.2:4790 4243
for n in 1 2 3; do collector "p3w$n" "${P}c1" 10.78.1.2:4790 "$WORK/p3.json"; done
wait_for_udp "${P}c1" 4790
sleep 0.3
fleet_run a3 "$WORK/p3.json" reuseport p3w --no-prefilter
nonempty=0; for n in 1 2 3; do [ -s "$WORK/p3w$n.jsonl" ] && nonempty=$((nonempty + 1)); done
[ $nonempty -ge 2 ] || fail "only $nonempty SO_REUSEPORT worker(s) got traffic: no spreading"
own=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["frames"]["never_mirrored_own_output"])' "$WORK/a3.stats.json")
[ "$own" -gt 0 ] || fail "without the prefilter, the VXLAN leaving s1 should be counted as mirror traffic"
echo "OK: $nonempty of 3 workers got connections; without the prefilter $own frames of the mirror's own VXLAN were seen on s1 and not mirrored"

##############################################################################################################
step "4. link down/up, SIGHUP reloads, interface deleted and re-created, during traffic"
sessions "$WORK/p4.json" 4242 10.78.1.2:4789
collector p4 "${P}c1" 10.78.1.2:4789 "$WORK/p4.json"
wait_for_udp "${P}c1" 4789
attach a4 "$WORK/p4.json"
# Background traffic all along: bounded to 300 requests and 60 s; failures while the link is down are expected.
( for i in $(seq 1 300); do in_ns "$NS_CLI" curl -s -o /dev/null --max-time 1 "$U/bg/$i" || true; sleep 0.05; done ) &
BG=$!; PIDS+=($BG)
curl_c "$U/phase/start"
in_ns "$NS_SRV" ip link set s0 down
wait_for_log "$WORK/a4.log" "s0 in: link down: capture paused" 10
in_ns "$NS_SRV" ip link set s0 up
wait_for_log "$WORK/a4.log" "s0 in: link up: capture resumed" 10
for _ in $(seq 50); do curl_c "$U/ready" && break; sleep 0.1; done
curl_c "$U/phase/after-flap"
sessions "$WORK/p4.json" 4343 10.78.1.2:4789
kill -HUP "$PID_a4"
wait_for_log "$WORK/a4.log" "reloaded" 10
curl_c "$U/phase/after-reload"
cp "$WORK/p4.json" "$WORK/p4.good.json"
python3 - "$WORK/p4.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1])); d["TrafficMirrorSessions"][0]["SessionNumber"] = 0; json.dump(d, open(sys.argv[1], "w"))
EOF
kill -HUP "$PID_a4"
wait_for_log "$WORK/a4.log" "reload rejected" 10
grep -q "SessionNumber" "$WORK/a4.log" || fail "the rejected reload's error does not name the field"
curl_c "$U/phase/after-bad-reload"
in_ns "$NS_SRV" ip link del s0
wait_for_log "$WORK/a4.log" "s0 in: interface deleted" 10
veth c0 "$NS_CLI" 10.77.1.1/24 s0 "$NS_SRV" 10.77.1.2/24 1500
wait_for_log "$WORK/a4.log" "re-attached" 10
for _ in $(seq 50); do curl_c "$U/ready" && break; sleep 0.1; done
curl_c "$U/phase/after-recreate"
wait $BG || true
kill -0 "$PID_a4" || fail "attach died"
sleep 1
stop "$PID_a4" INT
stop "$PID_p4" TERM
echo "--- attach log:"; sed 's/^/    /' "$WORK/a4.log" | grep -v "^    *\(session\|interface\|frames\|    mirrored\|capture:\|accounting\|attach:\)" || true
grep -q "accounting: every frame accounted for" "$WORK/a4.out" || fail "attach counters do not add up"
python3 - "$WORK/p4.jsonl" <<'EOF'
import json, sys
want = {"/phase/start": 4242, "/phase/after-flap": 4242, "/phase/after-reload": 4343,
        "/phase/after-bad-reload": 4343, "/phase/after-recreate": 4343}
got = {}
background = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    url = r["url"]["original"]
    if url.startswith("/bg/"):
        background += 1
    if url in want:
        got.setdefault(url, []).append((r["http"]["response"].get("status_code"), r["mirror"]["vni"]))
bad = [f"{u}: {got.get(u)} (want one 200 with VNI {v})" for u, v in want.items() if got.get(u) != [(200, v)]]
print(f"phases: {len(got)} of {len(want)} mirrored as expected; {background} background exchanges mirrored")
if bad:
    print("\n".join("  " + b for b in bad)); sys.exit("FAIL: link events or reloads lost or misrouted exchanges")
print("OK: mirrored before and after the flap, with the new VNI after the reload, still after the rejected reload and after re-creation")
EOF

##############################################################################################################
step "5. capabilities instead of root: attach as nobody"
sessions "$WORK/p5.json" 4242 10.78.1.2:4789
chmod 755 "$WORK"; chmod 644 "$WORK/p5.json"
status=0
in_ns "$NS_SRV" setpriv --reuid 65534 --regid 65534 --clear-groups "$BIN" attach --sessions "$WORK/p5.json" --duration 1 \
    >/dev/null 2>"$WORK/p5.nocaps.log" || status=$?
[ "$status" = 2 ] && grep -q "needs CAP_NET_RAW" "$WORK/p5.nocaps.log" || { cat "$WORK/p5.nocaps.log"; fail "without capabilities attach should exit 2 naming CAP_NET_RAW"; }
echo "without capabilities: exit 2, $(grep -o 'permission denied.*' "$WORK/p5.nocaps.log")"
collector p5 "${P}c1" 10.78.1.2:4789 "$WORK/p5.json"
wait_for_udp "${P}c1" 4789
ip netns exec "$NS_SRV" setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps +net_raw --ambient-caps +net_raw \
    "$BIN" attach --sessions "$WORK/p5.json" >"$WORK/a5.out" 2>"$WORK/a5.log" &
PID_a5=$!; PIDS+=($PID_a5)
wait_for_log "$WORK/a5.log" "attached:" 10
curl_c "$U/as-nobody"
sleep 0.5
stop "$PID_a5" INT
stop "$PID_p5" TERM
echo "GET /as-nobody 200" >"$WORK/p5.expected"
python3 scripts/e2e/check_attach.py transactions "$WORK/p5.expected" "$WORK/p5.jsonl" --vni 4242
echo "OK: CAP_NET_RAW alone is enough"

step "all attach checks passed"

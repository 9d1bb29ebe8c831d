#!/usr/bin/env python3
"""A tiny VXLAN receiver for the demo: counts what arrives per VNI and per inner flow, then prints a summary.

Not the collector (that is `vpcmirror collect`); it only shows that copies arrive in AWS's format.
Usage: vxlan-sink.py [--listen 127.0.0.1:4789] [--seconds 30] [--ready FILE]
Stops after --seconds, or after 2 s without a datagram once one has arrived.
"""
import argparse, collections, socket, struct, sys, time

p = argparse.ArgumentParser()
p.add_argument("--listen", default="127.0.0.1:4789")
p.add_argument("--seconds", type=float, default=30)
p.add_argument("--ready", help="touch this file once listening")
a = p.parse_args()
host, port = a.listen.rsplit(":", 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
s.bind((host, int(port)))
if a.ready:
    open(a.ready, "w").close()

per_vni = collections.Counter()
flows = collections.defaultdict(set)  # inner flow -> outer source ports seen
bad = 0
deadline = time.time() + a.seconds
last = None
while time.time() < deadline:
    s.settimeout(0.2)
    try:
        data, (src, sport) = s.recvfrom(65535)
    except socket.timeout:
        if last and time.time() - last > 2:
            break
        continue
    last = time.time()
    if len(data) < 8 + 14 or data[0] & 0x08 == 0:
        bad += 1
        continue
    vni = struct.unpack("!I", data[4:8])[0] >> 8
    per_vni[vni] += 1
    eth = data[8:]
    etype = struct.unpack("!H", eth[12:14])[0]
    off = 14
    while etype in (0x8100, 0x88A8) and len(eth) >= off + 4:
        etype = struct.unpack("!H", eth[off + 2:off + 4])[0]
        off += 4
    if etype == 0x0800 and len(eth) >= off + 20:
        ihl = (eth[off] & 15) * 4
        proto = eth[off + 9]
        sa, da = socket.inet_ntoa(eth[off + 12:off + 16]), socket.inet_ntoa(eth[off + 16:off + 20])
        sp = dp = 0
        if proto in (6, 17) and len(eth) >= off + ihl + 4:
            sp, dp = struct.unpack("!HH", eth[off + ihl:off + ihl + 4])
        key = tuple(sorted([(sa, sp), (da, dp)])) + (proto,)
        flows[(vni, key)].add(sport)

print(f"vxlan-sink: {sum(per_vni.values())} VXLAN datagrams on {a.listen}, {bad} not VXLAN")
for vni, n in sorted(per_vni.items()):
    print(f"  VNI {vni}: {n} datagrams")
split = sum(1 for ports in flows.values() if len(ports) > 1)
print(f"  {len(flows)} inner flows; {split} arrived from more than one outer source port (0 expected: the port is a symmetric flow hash)")
for (vni, key), ports in sorted(flows.items())[:8]:
    (a1, p1), (a2, p2), proto = key
    print(f"    VNI {vni} proto {proto} {a1}:{p1} <-> {a2}:{p2}  outer source port {sorted(ports)}")
sys.exit(1 if split else 0)

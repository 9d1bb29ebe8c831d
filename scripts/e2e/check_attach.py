#!/usr/bin/env python3
"""Checks for scripts/attach-e2e.sh.

  check_attach.py transactions EXPECTED COLLECTOR_OUTPUT... [--vni N] [--server IP:PORT]
      EXPECTED has one `METHOD URL STATUS` per line. The collectors' JSON lines together must hold exactly those
      exchanges (as a multiset), each once, with both directions (a status code, no gap or no_response flag),
      the session's VNI, and every connection's exchanges in one collector only.
  check_attach.py vxlan PCAP MTU
      tshark on a capture of the VXLAN stream: nothing malformed, no bad inner TCP checksum, every frame VXLAN with the I flag, inner frames no
      longer than MTU + 14 (Ethernet header), and one outer source port per connection, seen in both directions.
"""
import collections
import json
import subprocess
import sys


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def transactions(args):
    vni = None
    server = None
    files = []
    it = iter(args[1:])
    for a in it:
        if a == "--vni":
            vni = int(next(it))
        elif a == "--server":
            server = next(it)
        else:
            files.append(a)
    expected = collections.Counter()
    with open(args[0]) as f:
        for line in f:
            if line.strip():
                method, url, status = line.split()
                expected[(method, url, int(status))] += 1
    got = collections.Counter()
    connection_file = {}
    problems = []
    for path in files:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                r = json.loads(line)
                where = f"{path}:{n}"
                http = r.get("http", {})
                req, resp = http.get("request", {}), http.get("response", {})
                key = (req.get("method"), r.get("url", {}).get("original"), resp.get("status_code"))
                got[key] += 1
                flags = r.get("mirror", {}).get("flags", [])
                bad = [x for x in flags if x in ("request_gap", "response_gap", "no_response", "unparsed", "truncated")]
                if bad:
                    problems.append(f"{where}: {key} flagged {bad}")
                if vni is not None and r.get("mirror", {}).get("vni") != vni:
                    problems.append(f"{where}: VNI {r.get('mirror', {}).get('vni')}, expected {vni}")
                srv = f"{r['server']['ip']}:{r['server']['port']}"
                if server is not None and srv != server:
                    problems.append(f"{where}: server {srv}, expected {server}")
                conn = (r["client"]["ip"], r["client"]["port"], srv, r.get("mirror", {}).get("vni"))
                if connection_file.setdefault(conn, path) != path:
                    problems.append(f"{where}: connection {conn} split across {connection_file[conn]} and {path}")
    missing = expected - got
    extra = got - expected
    for k, c in sorted(missing.items(), key=str):
        problems.append(f"missing {c}× {k}")
    for k, c in sorted(extra.items(), key=str):
        problems.append(f"unexpected or duplicated {c}× {k}")
    per_file = {p: 0 for p in files}
    for conn, p in connection_file.items():
        per_file[p] += 1
    print(f"transactions: {sum(got.values())} found, {sum(expected.values())} expected, "
          f"{len(connection_file)} connections; per collector: " + ", ".join(f"{p.split('/')[-1]} {c}" for p, c in per_file.items()))
    if problems:
        for p in problems[:40]:
            print("  " + p)
        fail(f"{len(problems)} problem(s)")
    print("OK: exactly the expected transactions, each once, both directions, connections never split")


def vxlan(args):
    pcap, mtu = args[0], int(args[1])
    malformed = subprocess.run(
        # Inner TCP checksums are checked too: attach finishes the ones the kernel left to the NIC. (Not the outer
        # UDP ones: on a veth, tcpdump sees them before any NIC would finish them.)
        ["tshark", "-r", pcap, "-d", "udp.port==4789,vxlan", "-o", "tcp.check_checksum:TRUE",
         "-Y", "_ws.malformed || _ws.expert.severity == error",
         "-T", "fields", "-e", "frame.number"], capture_output=True, text=True, check=True).stdout.split()
    out = subprocess.run(
        ["tshark", "-r", pcap, "-d", "udp.port==4789,vxlan", "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a",
         "-E", "aggregator=,", "-e", "frame.number", "-e", "udp.srcport", "-e", "vxlan.flag_i", "-e", "vxlan.vni",
         "-e", "udp.length", "-e", "ip.src", "-e", "ip.dst", "-e", "tcp.srcport", "-e", "tcp.dstport"],
        capture_output=True, text=True, check=True).stdout
    frames = 0
    problems = [f"frame {n} malformed" for n in malformed]
    ports = collections.defaultdict(set)
    directions = collections.defaultdict(set)
    largest = 0
    for line in out.splitlines():
        cols = line.split("\t")
        n, udp_src, iflag, vni, udp_len = cols[0], cols[1].split(","), cols[2], cols[3], cols[4].split(",")
        frames += 1
        if not vni or iflag not in ("1", "True", "true"):
            problems.append(f"frame {n}: not VXLAN with the I flag ({iflag!r}, vni {vni!r})")
            continue
        inner = int(udp_len[0]) - 8 - 8  # UDP and VXLAN headers
        largest = max(largest, inner)
        if inner > mtu + 14:
            problems.append(f"frame {n}: inner frame {inner} bytes > MTU {mtu} + 14")
        ips_src, ips_dst = cols[5].split(","), cols[6].split(",")
        if len(ips_src) < 2 or not cols[7]:
            continue  # not inner TCP over IPv4 (ARP, ICMP...)
        a = (ips_src[1], cols[7])
        b = (ips_dst[1], cols[8])
        conn = (vni,) + tuple(sorted([a, b]))
        ports[conn].add(udp_src[0])
        directions[conn].add(a < b)
    for conn, p in ports.items():
        if len(p) != 1:
            problems.append(f"connection {conn}: outer source ports {sorted(p)}")
        if len(directions[conn]) != 2:
            problems.append(f"connection {conn}: only one direction mirrored")
    print(f"vxlan: {frames} frames, {len(malformed)} malformed, largest inner frame {largest} bytes, "
          f"{len(ports)} TCP connections, each on one outer source port: {all(len(p) == 1 for p in ports.values())}")
    if frames == 0:
        problems.append("no frames captured")
    if problems:
        for p in problems[:40]:
            print("  " + p)
        fail(f"{len(problems)} problem(s)")
    print("OK: every VXLAN frame well-formed, inner frames within the MTU, one outer source port per connection")


if __name__ == "__main__":
    {"transactions": transactions, "vxlan": vxlan}[sys.argv[1]](sys.argv[2:])

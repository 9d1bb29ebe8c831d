#!/usr/bin/env bash
# Installs the Debian packages vpcmirror builds, tests and benchmarks with. Idempotent; needs root (or sudo).
set -euo pipefail

packages=(
    pkg-config libpcap-dev libnl-3-dev libnl-route-3-dev libisal-dev  # build: CPcap, CNetlink, CIsal
    zlib1g-dev                                              # tests: CZlib compresses what CIsal inflates
    tshark tcpdump tcpreplay tcpflow iproute2 nftables ethtool  # tests and benchmarks: peers and referees
    curl nginx-light python3                                # live tests (issue 4): real clients and servers
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#packages[@]} packages present"
    exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
# tshark asks whether non-root users may capture; answer it before it asks.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"

#!/usr/bin/env bash
# The test command: installs what the tests use, builds, and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# Tests that need tshark or tcpdump fail instead of skipping when this is set.
export VPCMIRROR_REQUIRE_TOOLS=1
swift build --build-tests
swift test --skip-build

#!/usr/bin/env bash
# The test command: installs system packages if missing, builds everything (the integration
# tests start the real binaries from .build/debug), and runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build --build-tests
swift test "$@"

#!/usr/bin/env bash
# Installs the system packages Estuary builds and tests with, on Debian 12 (as root, or via
# sudo). Safe to run again: it installs only what is missing.
set -euo pipefail
packages=(
  libzstd-dev      # CZstd: frame compression
  libsqlite3-dev   # GRDB: the coordinator's store and the agent's outbox
  nghttp2-client   # nghttp: an independent HTTP/2 client in the interop tests
  protobuf-compiler # protoc: only for Protocol/generate.sh
  procps           # pkill/ps used by the dev mesh script
  python3          # tests' helpers
  python3-venv     # scripts/schemathesis.sh makes a virtualenv for schemathesis
  openssl          # openssl s_client: an independent TLS peer in the trust tests
  iproute2         # ip netns: the coordinator-mesh partition test (scripts/netns-mesh.sh)
  nftables         # nft: partitions and packet loss inside those namespaces
)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

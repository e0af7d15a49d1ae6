#!/usr/bin/env bash
# One command to a running dev mesh: a coordinator on an embedded SQLite store plus one agent
# per profile in Agents/dev/ (an Ascend NPU pool in the style of Pengcheng Cloud Brain II, a CPU
# partition in the style of the Guangzhou supercomputer, a GPU pool in the style of the Shaoguan
# hub), all on the process driver with SIMULATED accelerators. Ctrl-C stops everything.
#
#   scripts/dev-mesh.sh            # build (debug) and run in the foreground, with mutual TLS
#   scripts/dev-mesh.sh --insecure # cleartext h2c mesh and plain-HTTP API (--insecure-dev)
#   ESTUARY_DEV_DIR=/tmp/m scripts/dev-mesh.sh   # put state somewhere else (default ./dev-mesh)
#   ESTUARY_DEV_RELEASE=1 scripts/dev-mesh.sh    # release build
#
# With TLS (the default) the coordinator creates its CA in <dir>/coordinator/tls, each site is
# added with `estuaryctl site add` on first start, and each agent enrolls with its one-time
# join token, then renews its certificate by itself. The API listens on 127.0.0.1:7400, the
# mesh on 127.0.0.1:7401; the script prints the environment estuaryctl needs.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
dir=${ESTUARY_DEV_DIR:-$top/dev-mesh}
api_port=${ESTUARY_DEV_API_PORT:-7400}
mesh_port=${ESTUARY_DEV_MESH_PORT:-7401}
config=debug
[ -n "${ESTUARY_DEV_RELEASE:-}" ] && config=release
insecure=
case "${1:-}" in
  --insecure) insecure=1 ;;
  "") ;;
  *) echo "usage: scripts/dev-mesh.sh [--insecure]" >&2; exit 2 ;;
esac

scripts/install-deps.sh
echo "building ($config)…" >&2
swift build -c "$config" --product estuary-coordinator >&2
swift build -c "$config" --product estuary-agent >&2
swift build -c "$config" --product estuaryctl >&2
bin=$(swift build -c "$config" --show-bin-path)

mkdir -p "$dir/coordinator"
pids=()
cleanup() {
  trap - INT TERM EXIT
  echo "stopping dev mesh…" >&2
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

rm -f "$dir/coordinator/api.port" "$dir/coordinator/mesh.port"
mode_flags=()
scheme=https
if [ -n "$insecure" ]; then mode_flags=(--insecure-dev); scheme=http; fi
"$bin/estuary-coordinator" run --data-dir "$dir/coordinator" "${mode_flags[@]}" \
  --api-port "$api_port" --mesh-port "$mesh_port" --report-interval 2s \
  --policy "$top/Agents/policy.example.toml" \
  2> >(sed -u 's/^/[coordinator] /' >&2) &
pids+=($!)
for _ in $(seq 100); do [ -s "$dir/coordinator/api.port" ] && break; sleep 0.1; done
[ -s "$dir/coordinator/api.port" ] || { echo "coordinator did not start; see the log above" >&2; exit 1; }

# estuaryctl reads these (never a token on the command line).
export ESTUARY_API="$scheme://127.0.0.1:$api_port"
export ESTUARY_TOKEN_FILE="$dir/coordinator/admin.token"
[ -z "$insecure" ] && export ESTUARY_CA="$dir/coordinator/tls/ca.pem"

for profile in Agents/dev/*.toml; do
  name=$(basename "$profile" .toml)
  site=$(sed -n 's/^id *= *"\(.*\)"/\1/p' "$profile" | head -1)
  mkdir -p "$dir/$name"
  agent_flags=("${mode_flags[@]}")
  if [ -z "$insecure" ]; then
    agent_flags=(--ca "$ESTUARY_CA" --enroll-url "$ESTUARY_API")
    if [ ! -s "$dir/$name/tls/site.pem" ]; then
      # First start: add the site and hand its agent the one-time join token in a 0600 file.
      (umask 077; "$bin/estuaryctl" site add "$site" --org dev-mesh > "$dir/$name/join.token")
      [ -s "$dir/$name/join.token" ] || { echo "could not add site $site" >&2; exit 1; }
      agent_flags+=(--join-token-file "$dir/$name/join.token")
    fi
  fi
  "$bin/estuary-agent" run --profile "$profile" --data-dir "$dir/$name" \
    --coordinator "127.0.0.1:$mesh_port" "${agent_flags[@]}" \
    2> >(sed -u "s/^/[$name] /" >&2) &
  pids+=($!)
done

cat >&2 <<MSG

Estuary dev mesh is up (accelerators are SIMULATED by the process driver).
  API   $ESTUARY_API     mesh  127.0.0.1:$mesh_port ($([ -n "$insecure" ] && echo "cleartext h2c" || echo "mutual TLS 1.3"))     state  $dir
Try, in another terminal:
  export PATH="$bin:\$PATH" ESTUARY_API="$ESTUARY_API" ESTUARY_TOKEN_FILE="$ESTUARY_TOKEN_FILE"$([ -z "$insecure" ] && echo " ESTUARY_CA=\"$ESTUARY_CA\"")
  estuaryctl site list
  estuaryctl job submit Agents/examples/hello-npu.toml --wait
  estuaryctl job list
Ctrl-C here stops the mesh.

MSG
wait

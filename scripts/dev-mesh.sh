#!/usr/bin/env bash
# One command to a running dev mesh: a coordinator on an embedded SQLite store plus one agent
# per profile in Agents/dev/ (an Ascend NPU pool in the style of Pengcheng Cloud Brain II, a CPU
# partition in the style of the Guangzhou supercomputer, a GPU pool in the style of the Shaoguan
# hub), all on the process driver with SIMULATED accelerators. Ctrl-C stops everything.
#
#   scripts/dev-mesh.sh            # build (debug) and run in the foreground
#   ESTUARY_DEV_DIR=/tmp/m scripts/dev-mesh.sh   # put state somewhere else (default ./dev-mesh)
#   ESTUARY_DEV_RELEASE=1 scripts/dev-mesh.sh    # release build
#
# The API listens on 127.0.0.1:7400 (estuaryctl's default), the mesh on 127.0.0.1:7401.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
dir=${ESTUARY_DEV_DIR:-$top/dev-mesh}
api_port=${ESTUARY_DEV_API_PORT:-7400}
mesh_port=${ESTUARY_DEV_MESH_PORT:-7401}
config=debug
[ -n "${ESTUARY_DEV_RELEASE:-}" ] && config=release

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
"$bin/estuary-coordinator" run --data-dir "$dir/coordinator" --insecure-dev \
  --api-port "$api_port" --mesh-port "$mesh_port" --report-interval 2s \
  2> >(sed -u 's/^/[coordinator] /' >&2) &
pids+=($!)
for _ in $(seq 100); do [ -s "$dir/coordinator/api.port" ] && break; sleep 0.1; done
[ -s "$dir/coordinator/api.port" ] || { echo "coordinator did not start; see the log above" >&2; exit 1; }

for profile in Agents/dev/*.toml; do
  name=$(basename "$profile" .toml)
  mkdir -p "$dir/$name"
  "$bin/estuary-agent" run --profile "$profile" --data-dir "$dir/$name" \
    --coordinator "127.0.0.1:$mesh_port" --insecure-dev \
    2> >(sed -u "s/^/[$name] /" >&2) &
  pids+=($!)
done

cat >&2 <<MSG

Estuary dev mesh is up (accelerators are SIMULATED by the process driver).
  API   http://127.0.0.1:$api_port     mesh  127.0.0.1:$mesh_port     state  $dir
Try, in another terminal:
  export PATH="$bin:\$PATH"
  estuaryctl site list
  estuaryctl job submit Agents/examples/hello-npu.toml --wait
  estuaryctl job list
Ctrl-C here stops the mesh.

MSG
wait

#!/usr/bin/env bash
# What CI runs instead of Docker (no Docker engine runs on these machines): build the binaries
# exactly as the images do (Docker/build-static.sh: release, static Swift runtime, ldd-checked),
# lay them out as in the images, and run the images' entrypoint (Docker/entrypoint.sh) outside
# Docker, as a non-root user, on loopback, with a clean environment:
#
#   1. a coordinator and the three dev agents, each started by `estuary-entrypoint coordinator`
#      or `estuary-entrypoint agent`, gated by the images' HEALTHCHECK commands;
#   2. a job submitted with estuaryctl that must succeed;
#   3. SIGTERM to an agent while its job runs; the job ends while the agent is down; the agent,
#      restarted on the same data directory, reports it (the job must succeed at the coordinator);
#   4. SIGTERM to the coordinator while a job runs; the job's terminal report waits in the
#      agent's outbox; SIGTERM to that agent (the outbox must survive it); both restart on their
#      data directories and the report must arrive, with exactly one usage record;
#   5. SIGTERM to an agent still retrying to enrol (or to connect) must stop it, with status 0;
#   6. SIGTERM to everything: every process must exit 0.
#
#   scripts/container-smoke.sh
#   ESTUARY_SMOKE_MODE=insecure scripts/container-smoke.sh   # cleartext, as Docker/compose.yaml
#   ESTUARY_SCRATCH_PATH=DIR   SwiftPM scratch directory (default .build-static)
#   ESTUARY_SMOKE_SKIP_BUILD=1 reuse binaries already built in the scratch directory
#   ESTUARY_SMOKE_KEEP=1       keep the work directory (logs, state) even on success
#
# The default mode is mutual TLS with join tokens (what the images do unless told otherwise).
# Differences from a real container, on purpose: no PID/network namespace (so ports are picked
# by the kernel and health checks look at this process's own sockets), and no tini in front of
# the agent. Ends with one line: "container-smoke: PASS …" or "container-smoke: FAIL …".
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
mode=${ESTUARY_SMOKE_MODE:-tls}
case $mode in tls | insecure) ;; *) echo "ESTUARY_SMOKE_MODE must be tls or insecure" >&2; exit 2 ;; esac
export ESTUARY_SCRATCH_PATH=${ESTUARY_SCRATCH_PATH:-$top/.build-static}
began=$(date +%s)

work=$(mktemp -d /tmp/estuary-container-smoke.XXXXXX)
chmod 0755 "$work"
bin=$work/root/usr/local/bin  # as in the images
etc=$work/root/etc/estuary    # mounted configuration
state=$work/state             # the volumes
logs=$work/logs
mkdir -p "$bin" "$etc/examples" "$state" "$logs"

declare -A pids=()  # name -> pid of a running coordinator or agent
phase="setting up"
finish() {
  local status=$?
  trap - EXIT INT TERM
  local name
  for name in "${!pids[@]}"; do kill -TERM "${pids[$name]}" 2>/dev/null || true; done
  for name in "${!pids[@]}"; do
    for _ in $(seq 100); do exited "${pids[$name]}" && break; sleep 0.1; done
    kill -KILL "${pids[$name]}" 2>/dev/null || true
  done
  # Jobs run under shims in their own sessions; end any that outlived a failed run.
  local file shim
  for file in "$state"/*/jobs/*/shim.json; do
    [ -f "$file" ] || continue
    shim=$(sed -n 's/.*"shimPID" *: *\([0-9]*\).*/\1/p' "$file")
    [ -n "$shim" ] && [ -e "/proc/$shim" ] && grep -q "$work" "/proc/$shim/cmdline" 2>/dev/null &&
      kill -TERM "$shim" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  local seconds=$(($(date +%s) - began))
  if [ "$status" -eq 0 ]; then
    if [ -n "${ESTUARY_SMOKE_KEEP:-}" ]; then echo "state and logs kept in $work" >&2; else rm -rf "$work"; fi
    echo "container-smoke: PASS ($mode mode, ${seconds}s; build ${build_seconds:-?}s)"
  else
    for file in "$logs"/*.log; do
      [ -f "$file" ] || continue
      echo "----- last lines of $file" >&2
      tail -n 25 "$file" >&2
    done
    echo "state and logs kept in $work" >&2
    echo "container-smoke: FAIL while $phase ($mode mode, ${seconds}s)"
  fi
  exit "$status"
}
trap finish EXIT
trap 'exit 130' INT TERM

fail() {
  echo "container-smoke: $*" >&2
  exit 1
}
step() {
  phase=$1
  echo "== $1 ($(($(date +%s) - began))s)" >&2
}

# True once the process has ended (gone, or a zombie waiting for `wait`).
exited() {
  [ ! -e "/proc/$1" ] || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]
}

# wait_for SECONDS WHAT COMMAND...: polls COMMAND every 0.2 s until it succeeds.
wait_for() {
  local limit=$1 what=$2
  shift 2
  local deadline=$(($(date +%s) + limit))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "gave up after ${limit}s waiting for $what"
    sleep 0.2
  done
}

# Non-root, as the images' USER: root drops to nobody with setpriv; anyone else stays themself.
run_as=()
user=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
  user="nobody (uid 65534)"
  command -v setpriv >/dev/null || fail "setpriv (util-linux) is needed to drop root"
  run_as=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
  chown 65534:65534 "$state"
fi
command -v curl >/dev/null || fail "curl is needed (the coordinator's health check uses it)"
command -v python3 >/dev/null || fail "python3 is needed to read JSON and the agent's outbox"

# container_command VAR=VALUE... -- COMMAND...: sets `argv` to COMMAND run with a clean
# environment (no inherited ESTUARY_*), the images' PATH, as the images' user. Every link of
# the chain (env, setpriv, the entrypoint) execs the next, so a background command's $! is the
# program's own pid, as PID 1 is in a container.
container_command() {
  local vars=()
  while [ "$1" != -- ]; do vars+=("$1"); shift; done
  shift
  argv=(env -i PATH="$bin:/usr/sbin:/usr/bin:/sbin:/bin" HOME=/nonexistent LANG=C.UTF-8 "${vars[@]}" "${run_as[@]}" "$@")
}
in_container() {
  container_command "$@"
  "${argv[@]}"
}

step "building static release binaries (Docker/build-static.sh)"
build_began=$(date +%s)
if [ -n "${ESTUARY_SMOKE_SKIP_BUILD:-}" ]; then
  # Same flags, so this only links/copies what is already built.
  Docker/build-static.sh "$bin" estuary-coordinator estuary-agent estuaryctl >"$logs/build.log" 2>&1 ||
    fail "build failed; see $logs/build.log"
  grep '^build-static: .* needs:' "$logs/build.log" >&2
else
  scripts/install-deps.sh
  Docker/build-static.sh "$bin" estuary-coordinator estuary-agent estuaryctl 2>&1 | tee "$logs/build.log" >&2 ||
    fail "build failed"
fi
build_seconds=$(($(date +%s) - build_began))
install -m 0755 Docker/entrypoint.sh "$bin/estuary-entrypoint"
install -m 0644 Agents/policy.example.toml "$etc/policy.toml"
install -m 0644 Agents/dev/*.toml "$etc/"
install -m 0644 Agents/examples/*.toml "$etc/examples/"

agents=(pengcheng-ascend guangzhou-cpu shaoguan-gpu)
insecure_vars=()
[ "$mode" = insecure ] && insecure_vars=(ESTUARY_INSECURE_DEV=true)

# The coordinator's environment, as Docker/compose.yaml sets it, but on loopback. Ports are 0
# (the kernel picks; api.port/mesh.port say which) on first start, then pinned for restarts.
api_port=0
mesh_port=0
coordinator_vars() {
  printf '%s\n' ESTUARY_DATA_DIR="$state/coordinator" ESTUARY_API_HOST=127.0.0.1 ESTUARY_API_PORT="$api_port" \
    ESTUARY_MESH_HOST=127.0.0.1 ESTUARY_MESH_PORT="$mesh_port" ESTUARY_POLICY="$etc/policy.toml" \
    ESTUARY_REPORT_INTERVAL=2s "${insecure_vars[@]}"
}
agent_vars() {
  local name=$1
  printf '%s\n' ESTUARY_PROFILE="$etc/$name.toml" ESTUARY_DATA_DIR="$state/$name" \
    ESTUARY_COORDINATOR="127.0.0.1:$mesh_port" "${insecure_vars[@]}"
  if [ "$mode" = tls ]; then
    printf '%s\n' ESTUARY_CA="$etc/ca.pem" ESTUARY_ENROLL_URL="https://127.0.0.1:$api_port" \
      ESTUARY_JOIN_TOKEN_FILE="$etc/$name.join-token"
  fi
}

start() {
  local name=$1 vars
  shift
  mapfile -t vars < <("$@")
  container_command "${vars[@]}" -- estuary-entrypoint "$([ "$name" = coordinator ] && echo coordinator || echo agent)"
  "${argv[@]}" >>"$logs/$name.log" 2>&1 &
  pids[$name]=$!
  wait_for 10 "$name's pid $! to become the program itself" is_program "$!"
}
is_program() { tr '\0' ' ' <"/proc/$1/cmdline" | grep -q '^estuary-\(coordinator\|agent\) run '; }
healthy() {
  local name=$1 vars
  shift
  mapfile -t vars < <("$@")
  in_container "${vars[@]}" -- estuary-entrypoint health "$([ "$name" = coordinator ] && echo coordinator || echo agent)"
}
# stop NAME: SIGTERM, at most 20 s to exit, and the exit status must be 0.
stop() {
  local name=$1 pid=${pids[$1]} status=0
  kill -TERM "$pid"
  wait_for 20 "$name to exit after SIGTERM" exited "$pid"
  wait "$pid" || status=$?
  unset "pids[$name]"
  [ "$status" -eq 0 ] || fail "$name exited with status $status after SIGTERM (expected 0)"
  echo "   $name exited 0 after SIGTERM" >&2
}

# estuaryctl as an operator would run it in the coordinator's container; every call is bounded
# (ctl_timeout=SECONDS ctl … for a longer one).
ctl() {
  local vars=(ESTUARY_TOKEN_FILE="$state/coordinator/admin.token")
  if [ "$mode" = tls ]; then
    vars+=(ESTUARY_API="https://127.0.0.1:$api_port" ESTUARY_CA="$etc/ca.pem")
  else
    vars+=(ESTUARY_API="http://127.0.0.1:$api_port")
  fi
  in_container "${vars[@]}" -- timeout "${ctl_timeout:-30}" estuaryctl "$@"
}
job_state() { ctl job status "$1" --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["state"])'; }
job_is() { [ "$(job_state "$1")" = "$2" ]; }
# A job that runs for a few seconds on one unit of CLASS.
job_file() {
  cat >"$etc/examples/$1.toml" <<TOML
name = "$1"
tenant = "demo"
command = ["/bin/sh", "-c", "echo started on \$ESTUARY_SITE_ID; sleep $3; echo done"]
walltime = "2m"

[resources]
class = "$2"
count = 1
TOML
  printf '%s' "$etc/examples/$1.toml"
}
# outbox_rows NAME: rows waiting in that agent's outbox (read-only; the agent may be stopped).
outbox_rows() {
  python3 - "$state/$1/agent.sqlite" <<'PY'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
print(db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
PY
}
status_written() { compgen -G "$state/$1/jobs/$2-*/status.json" >/dev/null; }
outbox_holds_report() { status_written "$1" "$2" && [ "$(outbox_rows "$1")" -gt 0 ]; }
outbox_empty() { [ "$(outbox_rows "$1")" -eq 0 ]; }

step "starting the coordinator (estuary-entrypoint coordinator, as $user)"
start coordinator coordinator_vars
wait_for 60 "the coordinator's port files" test -s "$state/coordinator/api.port" -a -s "$state/coordinator/mesh.port"
api_port=$(cat "$state/coordinator/api.port")
mesh_port=$(cat "$state/coordinator/mesh.port")
wait_for 60 "the coordinator's health check (GET /readyz)" healthy coordinator coordinator_vars
echo "   healthy: API 127.0.0.1:$api_port, mesh 127.0.0.1:$mesh_port" >&2

if [ "$mode" = tls ]; then
  step "adding the sites; each agent gets a one-time join token in a 0600 file"
  install -m 0644 "$state/coordinator/tls/ca.pem" "$etc/ca.pem"
  for name in "${agents[@]}"; do
    site=$(sed -n 's/^id *= *"\(.*\)"/\1/p' "$etc/$name.toml" | head -1)
    (umask 077; ctl site add "$site" --org container-smoke >"$etc/$name.join-token")
    [ -s "$etc/$name.join-token" ] || fail "estuaryctl site add $site printed no token"
    [ "$(id -u)" -eq 0 ] && chown 65534:65534 "$etc/$name.join-token"
  done
fi

step "starting the three dev agents (estuary-entrypoint agent)"
for name in "${agents[@]}"; do start "$name" agent_vars "$name"; done
for name in "${agents[@]}"; do
  wait_for 60 "$name's health check" healthy "$name" agent_vars "$name"
done
echo "   all three agents healthy (enrolled, outbox open, connected)" >&2

step "a job submitted with estuaryctl must succeed"
ctl_timeout=120 ctl job submit "$etc/examples/hello-npu.toml" --wait >"$logs/hello.out" 2>>"$logs/estuaryctl.log" || fail "the hello-npu job did not succeed (estuaryctl job submit --wait)"
echo "   hello-npu succeeded: $(head -1 "$logs/hello.out")" >&2

step "SIGTERM an agent while its job runs; restart it on the same data directory"
job_a=$(ctl job submit "$(job_file smoke-agent-restart cpu-x86-64 4)")
wait_for 60 "job $job_a to run" job_is "$job_a" running
stop guangzhou-cpu
wait_for 30 "job $job_a to end while its agent is down" status_written guangzhou-cpu "$job_a"
[ "$(job_state "$job_a")" = running ] || fail "job $job_a should still be running at the coordinator"
start guangzhou-cpu agent_vars guangzhou-cpu
wait_for 60 "guangzhou-cpu to be healthy again" healthy guangzhou-cpu agent_vars guangzhou-cpu
wait_for 60 "job $job_a to succeed after the restart" job_is "$job_a" succeeded
echo "   job $job_a succeeded, reported by the restarted agent" >&2

step "SIGTERM the coordinator, then the agent holding a terminal report in its outbox"
job_b=$(ctl job submit "$(job_file smoke-outbox nvidia-a100 2)")
wait_for 60 "job $job_b to run" job_is "$job_b" running
stop coordinator
wait_for 30 "job $job_b's report to wait in shaoguan-gpu's outbox" outbox_holds_report shaoguan-gpu "$job_b"
stop shaoguan-gpu
rows=$(outbox_rows shaoguan-gpu)
[ "$rows" -gt 0 ] || fail "shaoguan-gpu's outbox is empty after SIGTERM: the report was lost"
echo "   $rows report(s) kept in shaoguan-gpu's outbox across SIGTERM" >&2
start coordinator coordinator_vars
wait_for 60 "the restarted coordinator's health check" healthy coordinator coordinator_vars
start shaoguan-gpu agent_vars shaoguan-gpu
wait_for 60 "job $job_b to succeed after both restarts" job_is "$job_b" succeeded
wait_for 30 "shaoguan-gpu's outbox to be acknowledged" outbox_empty shaoguan-gpu
records=$(ctl usage --json | python3 -c '
import json, sys
body = json.load(sys.stdin)
records = body["records"] if isinstance(body, dict) else body
print(sum(1 for r in records if r["job_id"] == sys.argv[1]))
' "$job_b")
[ "$records" -eq 1 ] || fail "job $job_b has $records usage records (expected exactly 1)"
echo "   job $job_b succeeded; outbox drained; one usage record" >&2
for name in "${agents[@]}"; do
  wait_for 60 "$name to be healthy after the coordinator's restart" healthy "$name" agent_vars "$name"
done

step "SIGTERM an agent that cannot reach its coordinator yet"
# A port nobody listens on (bound for a moment, then released).
closed=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'never-issued\n' >"$etc/stranded.join-token"
chmod 0600 "$etc/stranded.join-token"
[ "$(id -u)" -eq 0 ] && chown 65534:65534 "$etc/stranded.join-token"
stranded_vars() {
  printf '%s\n' ESTUARY_PROFILE="$etc/guangzhou-cpu.toml" ESTUARY_DATA_DIR="$state/stranded" \
    ESTUARY_COORDINATOR="127.0.0.1:$closed" "${insecure_vars[@]}"
  if [ "$mode" = tls ]; then
    printf '%s\n' ESTUARY_CA="$etc/ca.pem" ESTUARY_ENROLL_URL="https://127.0.0.1:$closed" \
      ESTUARY_JOIN_TOKEN_FILE="$etc/stranded.join-token"
  fi
}
start stranded stranded_vars
wait_for 30 "the stranded agent to retry" grep -qE 'enrollment failed; retrying|session ended' "$logs/stranded.log"
stop stranded

step "SIGTERM everything; every process must exit 0"
for name in "${agents[@]}"; do stop "$name"; done
stop coordinator

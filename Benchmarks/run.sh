#!/usr/bin/env bash
# Builds the release binaries, runs Estuary's benchmarks and rewrites their sections of
# BENCHMARKS.md (other sections and any text outside the marked blocks are kept).
#
#   Benchmarks/run.sh [codec|sessions|jobs|forward|placement|agent-footprint|slurm|tls|scheduler|replay|ledger|settlement|gossip-serf|gossip-sim|all] ...
#
# Parameters come from the environment (defaults in brackets):
#   SESSIONS_AGENTS [1000,2500,5000,10000]  SESSIONS_DURATION [30s]  SESSIONS_WARMUP [5s]
#   SESSIONS_PIN=1   pin the coordinator to CPU 0 and the load generator to the other CPUs
#   SESSIONS_ALL=1   run every agent count instead of stopping at the first that misses 5 ms
#   JOBS_AGENTS [3]  JOBS_COUNT [20000]  JOBS_CONCURRENCY [64]  JOBS_WARMUP [500]
#   FORWARD_JOBS [2000]  FORWARD_CONCURRENCY [64]  (per phase: local at c2, then forwarded from c1)
#   PLACEMENT_JOBS [20000]  PLACEMENT_SITES [3]  PLACEMENT_CONCURRENCY [64]
#   SLURM_JOBS [1000]  SLURM_POLL [5s]  SLURM_DURATION [60s]  (needs scripts/slurm-one-host.sh, as root)
#   FOOTPRINT_DURATION [60s]  CODEC_DURATION [1s]  TLS_DURATION [10s]  TLS_CONCURRENCY [16]
#   SCHED_SITES [1000]  SCHED_POOLS [8]  SCHED_JOBS [100000]  SCHED_SEED [42]
#   REPLAY_TRACE_DIR [Tests/Traces/alibaba-gpu-v2023]  REPLAY_SITES [4]  REPLAY_SPEEDUPS [1,1000,inf]
#   LEDGER_RECORDS [1000000]  LEDGER_CONCURRENCY [16]  LEDGER_BATCH [256]  LEDGER_BASELINE_RECORDS [5000]
#   LEDGER_STORE_JOBS_RECORDS [200000]  (records posted with jobs read from the store, as after a restart)
#   SETTLE_POSTINGS [10000000]
#   GOSSIP_MEMBERS [50]  GOSSIP_TRIALS [5]  GOSSIP_WINDOW [60s]  GOSSIP_SETTLE [10s]
#   GOSSIP_SYSTEMS [serf,estuary]  (needs root; installs the Debian packages serf and nftables if missing)
#   GOSSIP_SIM_MEMBERS [1000]  GOSSIP_SIM_SEED [1]  GOSSIP_SIM_TRIALS [10]  GOSSIP_SIM_LOSS [0.01]
#   GOSSIP_SIM_CHURN [60] (s between a member's capacity changes)  GOSSIP_SIM_STEADY [120] (s)
#   GOSSIP_SIM_STALLED [60] (s the stalled members stay stalled; 0 skips)  GOSSIP_SIM_PROFILES [default,fast,swim]
#   BENCH_WORK_ROOT  directory for the coordinators' data directories [$TMPDIR or /tmp]
#   BENCH_NO_BUILD=1 skip `swift build` (use the release binaries already built)
#   BENCH_SCRATCH_PATH  build in (and run the binaries from) this directory instead of .build
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)

usage() {
    echo "usage: Benchmarks/run.sh [codec|sessions|jobs|forward|placement|agent-footprint|slurm|tls|scheduler|replay|ledger|settlement|gossip-serf|gossip-sim|all] ..." >&2
    exit 2
}

selected=()
for arg in "${@:-all}"; do
    case "$arg" in
    all) selected+=(codec sessions jobs forward placement agent-footprint slurm tls scheduler replay ledger settlement gossip-serf gossip-sim) ;;
    codec | sessions | jobs | forward | placement | agent-footprint | slurm | tls | scheduler | replay | ledger | settlement | gossip-serf | gossip-sim) selected+=("$arg") ;;
    -h | --help) usage ;;
    *) echo "run.sh: unknown benchmark '$arg'" >&2; usage ;;
    esac
done

needs_products=(estuary-bench)
for name in "${selected[@]}"; do
    case "$name" in
    sessions | jobs | forward | placement) needs_products+=(estuary-coordinator) ;;
    agent-footprint | slurm) needs_products+=(estuary-coordinator estuary-agent) ;;
    gossip-serf) [[ "${GOSSIP_SYSTEMS:-serf,estuary}" == *estuary* ]] && needs_products+=(estuary-coordinator) ;;
    esac
done

# --- gossip-serf compares with HashiCorp Serf and counts bytes with nftables (Debian packages) --
gossip_selected=0
for name in "${selected[@]}"; do [[ "$name" == gossip-serf ]] && gossip_selected=1; done
if [[ "$gossip_selected" == 1 ]]; then
    missing=()
    command -v serf >/dev/null || missing+=(serf)
    command -v nft >/dev/null || missing+=(nftables)
    if [[ ${#missing[@]} -gt 0 ]]; then
        echo "run.sh: installing ${missing[*]} for gossip-serf" >&2
        apt-get install -y "${missing[@]}" >&2 || { apt-get update >&2 && apt-get install -y "${missing[@]}" >&2; }
    fi
fi

# --- build (release) ---------------------------------------------------------------------
scratch=()
[[ -n "${BENCH_SCRATCH_PATH:-}" ]] && scratch=(--scratch-path "$BENCH_SCRATCH_PATH")
if [[ "${BENCH_NO_BUILD:-0}" != 1 ]]; then
    for product in $(printf '%s\n' "${needs_products[@]}" | sort -u); do
        echo "run.sh: swift build -c release --product $product ${scratch[*]+"${scratch[*]}"}" >&2
        swift build -c release --product "$product" ${scratch[@]+"${scratch[@]}"} >&2
    done
fi
bin=$(swift build -c release --show-bin-path ${scratch[@]+"${scratch[@]}"})
bin=${bin#"$root"/}
for product in "${needs_products[@]}"; do
    [[ -x "$bin/$product" ]] || { echo "run.sh: $bin/$product is missing; build it or unset BENCH_NO_BUILD" >&2; exit 1; }
done

# --- file descriptors: thousands of sessions need thousands of sockets ----------------------
hard=$(ulimit -Hn)
want=65536
if [[ "$hard" != unlimited && "$hard" -lt "$want" ]]; then want=$hard; fi
ulimit -n "$want"
echo "run.sh: open files limit $(ulimit -n) (hard $hard)" >&2

# --- cleanup: no coordinator or agent may outlive this script -----------------------------
pids_file=$(mktemp "${TMPDIR:-/tmp}/estuary-bench-pids.XXXXXX")
out_dir=$(mktemp -d "${TMPDIR:-/tmp}/estuary-bench-out.XXXXXX")
export ESTUARY_BENCH_PIDS="$pids_file"
bench_pid=""

stop_children() {
    [[ -n "$bench_pid" ]] && kill -TERM "$bench_pid" 2>/dev/null && wait "$bench_pid" 2>/dev/null || true
    local pid left=()
    while read -r pid; do
        [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || continue
        # Only our own children: the pid must still be an estuary binary or a Serf agent of
        # gossip-serf (pids are reused).
        if tr '\0' ' ' <"/proc/$pid/cmdline" | grep -Eq 'estuary-|serf agent '; then
            kill -TERM "$pid" 2>/dev/null && left+=("$pid")
        fi
    done <"$pids_file"
    for _ in $(seq 50); do
        [[ ${#left[@]} -eq 0 ]] && break
        local still=()
        for pid in "${left[@]}"; do [[ -d "/proc/$pid" ]] && still+=("$pid"); done
        left=("${still[@]+"${still[@]}"}")
        sleep 0.1
    done
    for pid in "${left[@]+"${left[@]}"}"; do kill -KILL "$pid" 2>/dev/null || true; done
    # gossip-serf's byte counters, if estuary-bench died before removing them.
    if [[ "$gossip_selected" == 1 ]] && command -v nft >/dev/null; then
        nft delete table inet estuary_bench_gossip 2>/dev/null || true
    fi
    rm -f "$pids_file"
    rm -rf "$out_dir"
}
trap stop_children EXIT
trap 'echo "run.sh: interrupted" >&2; exit 130' INT TERM

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n "$(git status --porcelain 2>/dev/null | head -1)" ]]; then commit="$commit (with uncommitted changes)"; fi
export ESTUARY_BENCH_COMMIT="$commit"

command_for() {
    local name=$1
    local work=""
    [[ -n "${BENCH_WORK_ROOT:-}" ]] && work=" --work-root $BENCH_WORK_ROOT"
    local pin=""
    [[ "${SESSIONS_PIN:-0}" == 1 ]] && pin=" --pin-coordinator"
    [[ "${SESSIONS_ALL:-0}" == 1 ]] && pin="$pin --no-stop"
    case "$name" in
    codec)
        echo "$bin/estuary-bench codec --duration ${CODEC_DURATION:-1s}" ;;
    sessions)
        echo "$bin/estuary-bench sessions --coordinator-bin $bin/estuary-coordinator --agents ${SESSIONS_AGENTS:-1000,2500,5000,10000} --duration ${SESSIONS_DURATION:-30s} --warmup ${SESSIONS_WARMUP:-5s}$pin$work" ;;
    jobs)
        echo "$bin/estuary-bench jobs --coordinator-bin $bin/estuary-coordinator --agents ${JOBS_AGENTS:-3} --jobs ${JOBS_COUNT:-20000} --concurrency ${JOBS_CONCURRENCY:-64} --warmup-jobs ${JOBS_WARMUP:-500}$work" ;;
    forward)
        echo "$bin/estuary-bench forward --coordinator-bin $bin/estuary-coordinator --jobs ${FORWARD_JOBS:-2000} --concurrency ${FORWARD_CONCURRENCY:-64}$work" ;;
    placement)
        echo "$bin/estuary-bench placement --coordinator-bin $bin/estuary-coordinator --jobs ${PLACEMENT_JOBS:-20000} --sites ${PLACEMENT_SITES:-3} --concurrency ${PLACEMENT_CONCURRENCY:-64}$work" ;;
    tls)
        echo "$bin/estuary-bench tls --duration ${TLS_DURATION:-10s} --concurrency ${TLS_CONCURRENCY:-16}" ;;
    scheduler)
        echo "$bin/estuary-bench scheduler --sites ${SCHED_SITES:-1000} --pools ${SCHED_POOLS:-8} --jobs ${SCHED_JOBS:-100000} --seed ${SCHED_SEED:-42}" ;;
    replay)
        echo "$bin/estuary-bench replay --trace-dir ${REPLAY_TRACE_DIR:-Tests/Traces/alibaba-gpu-v2023} --sites ${REPLAY_SITES:-4} --speedups ${REPLAY_SPEEDUPS:-1,1000,inf}" ;;
    ledger)
        echo "$bin/estuary-bench ledger --records ${LEDGER_RECORDS:-1000000} --concurrency ${LEDGER_CONCURRENCY:-16} --batch ${LEDGER_BATCH:-256} --baseline-records ${LEDGER_BASELINE_RECORDS:-5000} --store-jobs-records ${LEDGER_STORE_JOBS_RECORDS:-200000}$work" ;;
    settlement)
        echo "$bin/estuary-bench settlement --postings ${SETTLE_POSTINGS:-10000000}$work" ;;
    gossip-sim)
        echo "$bin/estuary-bench gossip-sim --members ${GOSSIP_SIM_MEMBERS:-1000} --seed ${GOSSIP_SIM_SEED:-1} --trials ${GOSSIP_SIM_TRIALS:-10} --loss ${GOSSIP_SIM_LOSS:-0.01} --churn-seconds ${GOSSIP_SIM_CHURN:-60} --steady-seconds ${GOSSIP_SIM_STEADY:-120} --stalled-seconds ${GOSSIP_SIM_STALLED:-60} --profile-names ${GOSSIP_SIM_PROFILES:-default,fast,swim}" ;;
    slurm)
        echo "$bin/estuary-bench slurm --coordinator-bin $bin/estuary-coordinator --agent-bin $bin/estuary-agent --jobs ${SLURM_JOBS:-1000} --poll-interval ${SLURM_POLL:-5s} --duration ${SLURM_DURATION:-60s}$work" ;;
    gossip-serf)
        local coordinator=""
        [[ "${GOSSIP_SYSTEMS:-serf,estuary}" == *estuary* ]] && coordinator=" --coordinator-bin $bin/estuary-coordinator"
        echo "$bin/estuary-bench gossip-serf --members ${GOSSIP_MEMBERS:-50} --trials ${GOSSIP_TRIALS:-5} --window ${GOSSIP_WINDOW:-60s} --settle ${GOSSIP_SETTLE:-10s} --systems ${GOSSIP_SYSTEMS:-serf,estuary}$coordinator$work" ;;
    agent-footprint)
        echo "$bin/estuary-bench agent-footprint --coordinator-bin $bin/estuary-coordinator --agent-bin $bin/estuary-agent --duration ${FOOTPRINT_DURATION:-60s}$work" ;;
    esac
}

# Replaces the block between <!-- bench:NAME:begin --> and <!-- bench:NAME:end --> in
# BENCHMARKS.md with the file $2, or appends the block when the file has none yet.
update_section() {
    local name=$1 section=$2 target="$root/BENCHMARKS.md"
    if [[ ! -f "$target" ]]; then
        cat >"$target" <<'EOF'
# Estuary benchmarks

Figures from `Benchmarks/run.sh` (release builds, loopback only). `Benchmarks/README.md` says
what each benchmark measures and how to read it. Each section carries its own date, machine,
commit and command; a run rewrites only the sections of the benchmarks it ran.
EOF
    fi
    local begin="<!-- bench:$name:begin -->" end="<!-- bench:$name:end -->"
    if grep -qxF "$begin" "$target"; then
        awk -v begin="$begin" -v end="$end" -v section="$section" '
            $0 == begin { print; while ((getline line < section) > 0) print line; skipping = 1; next }
            $0 == end { skipping = 0 }
            !skipping { print }
        ' "$target" >"$target.tmp"
        mv "$target.tmp" "$target"
    else
        { echo; echo "$begin"; cat "$section"; echo "$end"; } >>"$target"
    fi
}

# Sections that do not state their provenance (the codec benchmark prints only the machine)
# get date, commit and command under their heading.
add_provenance() {
    local file=$1 cmd=$2
    if ! grep -q '^- Date: ' "$file"; then
        awk -v date="$(date -u '+%Y-%m-%d %H:%M UTC')" -v commit="$commit" -v cmd="$cmd" '
            NR == 1 && /^## / { print; print ""; print "- Date: " date; print "- Commit: `" commit "`"; print "- Command: `" cmd "`"; next }
            { print }
        ' "$file" >"$file.tmp"
        mv "$file.tmp" "$file"
    fi
}

status=0
for name in "${selected[@]}"; do
    cmd=$(command_for "$name")
    echo "run.sh: $cmd" >&2
    export ESTUARY_BENCH_COMMAND="$cmd"
    # shellcheck disable=SC2086 # the command is split into words on purpose
    $cmd >"$out_dir/$name.md" &
    bench_pid=$!
    if wait "$bench_pid"; then
        bench_pid=""
        add_provenance "$out_dir/$name.md" "$cmd"
        update_section "$name" "$out_dir/$name.md"
        cat "$out_dir/$name.md"
    else
        code=$?
        bench_pid=""
        echo "run.sh: $name failed (exit $code); BENCHMARKS.md keeps its earlier $name section" >&2
        status=1
    fi
done
exit "$status"

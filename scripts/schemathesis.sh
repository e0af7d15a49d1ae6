#!/usr/bin/env bash
# Runs schemathesis against Protocol/admin-api.yaml on a live coordinator (issue #3).
#
#   scripts/schemathesis.sh [--max-examples N] [--max-time SECONDS] [--token-file F]
#                           [--base-url URL] [--seed N] [-- extra schemathesis run flags]
#
#   --max-examples N   test cases generated per operation and phase (default 20)
#   --max-time S       hard limit on the schemathesis run in seconds (default 300); hitting it
#                      is a failure, so pick N so that the run ends well within it
#   --token-file F     send "Authorization: Bearer <contents of F>" with every request
#   --base-url URL     test this coordinator instead of starting one
#   --seed N           schemathesis' random seed, to reproduce a run (it prints the one it used)
#
# Without --base-url it starts .build/debug/estuary-coordinator (building it if it is missing)
# with a fresh data directory, --insecure-dev and any free ports, reads <data-dir>/api.port and
# stops the coordinator afterwards. If the coordinator wrote <data-dir>/admin.token (the
# bootstrap admin token) and no --token-file was given, that token is sent.
#
# Requests are limited to 40 a second, below the coordinator's default API rate limit (50 a
# second per token, bursts of 100), so that the run tests the API rather than the limiter.
#
# Checks: not_a_server_error (no 5xx) and response_schema_conformance (every documented
# response body matches its schema), on positive and negative test data, in schemathesis'
# examples, coverage, fuzzing and stateful phases; revokeToken runs last, on its own, so that
# the stateful phase cannot revoke the token the run uses. Exits non-zero on any failure; the
# logs (failing cases come with curl commands that reproduce them), JUnit reports and HAR
# files of the requests are written to Fuzz/.work/schemathesis/.
#
# schemathesis is installed with pip into Fuzz/.work/venv (git-ignored) on first use; it needs
# python3 (3.9+) with the venv module (Debian: python3-venv) and network access to PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

SCHEMATHESIS_VERSION=4.32.5
max_examples=20
max_time=300
token_file=""
base_url=""
seed=""
extra=()
while (($#)); do
  case "$1" in
    --max-examples) max_examples=${2:?}; shift 2 ;;
    --max-time) max_time=${2:?}; shift 2 ;;
    --token-file) token_file=${2:?}; shift 2 ;;
    --base-url) base_url=${2:?}; shift 2 ;;
    --seed) seed=${2:?}; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "schemathesis.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$max_examples" =~ ^[0-9]+$ ]] && ((max_examples > 0)) || { echo "--max-examples must be a positive integer" >&2; exit 2; }
[[ "$max_time" =~ ^[0-9]+$ ]] && ((max_time > 0)) || { echo "--max-time must be a positive integer" >&2; exit 2; }

work="$root/Fuzz/.work/schemathesis"
mkdir -p "$work"

# --- schemathesis in a private venv
venv="$root/Fuzz/.work/venv"
st="$venv/bin/schemathesis"
if ! { [ -x "$st" ] && "$st" --version 2>/dev/null | grep -q "version $SCHEMATHESIS_VERSION\$"; }; then
  echo "== installing schemathesis $SCHEMATHESIS_VERSION into ${venv#"$root"/}"
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
"$st" --version

# --- the coordinator under test
coordinator_pid=""
data=""
cleanup() {
  if [ -n "$coordinator_pid" ] && kill -0 "$coordinator_pid" 2>/dev/null; then
    kill -TERM "$coordinator_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$coordinator_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$coordinator_pid" 2>/dev/null || true
    wait "$coordinator_pid" 2>/dev/null || true
  fi
  [ -n "$data" ] && rm -rf "$data"
  return 0
}
trap cleanup EXIT INT TERM

if [ -z "$base_url" ]; then
  coordinator="$root/.build/debug/estuary-coordinator"
  if [ ! -x "$coordinator" ]; then
    echo "== building estuary-coordinator"
    swift build --product estuary-coordinator
  fi
  data=$(mktemp -d "${TMPDIR:-/tmp}/estuary-schemathesis.XXXXXX")
  echo "== starting $coordinator (data dir $data)"
  "$coordinator" run --data-dir "$data" --insecure-dev --api-host 127.0.0.1 --api-port 0 \
    --mesh-host 127.0.0.1 --mesh-port 0 >"$work/coordinator.log" 2>&1 &
  coordinator_pid=$!
  for _ in $(seq 300); do
    [ -s "$data/api.port" ] && break
    kill -0 "$coordinator_pid" 2>/dev/null || { echo "coordinator exited:" >&2; tail -n 30 "$work/coordinator.log" >&2; exit 1; }
    sleep 0.1
  done
  [ -s "$data/api.port" ] || { echo "coordinator wrote no api.port within 30 s" >&2; tail -n 30 "$work/coordinator.log" >&2; exit 1; }
  base_url="http://127.0.0.1:$(tr -d '[:space:]' <"$data/api.port")"
  python3 - "$base_url/healthz" <<'PY' || { echo "coordinator API not healthy at $base_url" >&2; exit 1; }
import sys, time, urllib.request
for _ in range(100):
    try:
        urllib.request.urlopen(sys.argv[1], timeout=1).read()
        sys.exit(0)
    except Exception:
        time.sleep(0.1)
sys.exit(1)
PY
  # The bootstrap admin token, once the coordinator writes one.
  for _ in $(seq 20); do
    [ -n "$token_file" ] || [ -s "$data/admin.token" ] && break
    sleep 0.1
  done
  if [ -z "$token_file" ] && [ -s "$data/admin.token" ]; then token_file="$data/admin.token"; fi
fi

headers=()
if [ -n "$token_file" ]; then
  [ -r "$token_file" ] || { echo "cannot read token file $token_file" >&2; exit 2; }
  headers=(-H "Authorization: Bearer $(tr -d '[:space:]' <"$token_file")")
  echo "== sending a bearer token from $token_file"
fi

seed_flags=()
[ -n "$seed" ] && seed_flags=(--seed "$seed")

# One schemathesis run; $1 names it (its log is $work/$1.log), the rest are extra flags.
run_schemathesis() {
  local name=$1
  shift
  local status
  set +e
  # From the work folder: schemathesis and hypothesis keep caches (.schemathesis/, .hypothesis/)
  # in the current directory.
  (cd "$work" && timeout --kill-after=10 "$max_time" "$st" --no-color run "$root/Protocol/admin-api.yaml" \
    --url "$base_url" \
    --checks not_a_server_error,response_schema_conformance \
    --max-examples "$max_examples" \
    --workers 1 \
    --rate-limit 40/s \
    --request-timeout 10 \
    --generation-database none \
    --report junit,har --report-junit-path "$work/$name-junit.xml" --report-har-path "$work/$name-requests.har" \
    --output-sanitize true \
    "${seed_flags[@]}" "${headers[@]}" "$@" "${extra[@]}") 2>&1 | tee "$work/$name.log"
  status=${PIPESTATUS[0]}
  set -e
  if ((status == 124 || status == 137)); then
    echo "schemathesis.sh: the $name run exceeded --max-time ${max_time} s" >&2
    status=1
  fi
  # "Test cases:" is followed by a line like "622 generated, 622 passed" (or "…, 3 failed").
  local cases
  cases=$(grep -A1 '^Test cases:' "$work/$name.log" | tail -1 | sed 's/^ *//' || true)
  summaries+=("$name: test cases: ${cases:-?}; exit $status")
  generated=$((generated + $(grep -Eo '^[0-9]+' <<<"$cases" || echo 0)))
  return "$status"
}

summaries=()
generated=0
status=0
rm -f "$work"/{main,revoke,schemathesis}.log "$work"/{main,revoke}-junit.xml "$work"/{main,revoke}-requests.har "$work"/junit.xml "$work"/requests.har
echo "== schemathesis run Protocol/admin-api.yaml against $base_url (max ${max_examples} examples, ${max_time} s limit per run)"
# Revoking tokens runs last, on its own: in the stateful phase schemathesis lists the tokens
# and revokes them, the one it authenticates with included, after which every request is 401.
run_schemathesis main --phases examples,coverage,fuzzing,stateful --exclude-operation-id revokeToken || status=1
if grep -q 'operationId: revokeToken' Protocol/admin-api.yaml; then
  echo "== schemathesis: revokeToken on its own"
  run_schemathesis revoke --phases examples,coverage,fuzzing --include-operation-id revokeToken || status=1
fi

echo "== schemathesis summary: $generated test cases; report in ${work#"$root"/}"
printf '   %s\n' "${summaries[@]}"
if ((status != 0)) && [ -n "$coordinator_pid" ]; then
  echo "---- last lines of the coordinator log (${work#"$root"/}/coordinator.log)"
  tail -n 20 "$work/coordinator.log"
fi
exit "$status"

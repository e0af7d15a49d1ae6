#!/bin/sh
# The entrypoint of both Estuary images, and what scripts/container-smoke.sh runs outside
# Docker. It turns ESTUARY_* environment variables into the flags the binaries take, then
# `exec`s the binary, so the program is PID 1 in a container and receives SIGTERM itself.
#
#   estuary-entrypoint coordinator [FLAG...]   estuary-coordinator run, configured from the env
#   estuary-entrypoint agent [FLAG...]         estuary-agent run, configured from the env
#   estuary-entrypoint health coordinator      exit 0 when GET /readyz answers 200
#   estuary-entrypoint health agent            exit 0 when the agent is up, enrolled and connected
#   estuary-entrypoint COMMAND [ARG...]        anything else runs as given (estuaryctl …, sh)
#
# Extra FLAGs go after the ones made from the environment, so they win where a flag may be
# given once. Docker/README.md lists every variable.
set -eu

die() {
  echo "estuary-entrypoint: $*" >&2
  exit 2
}

# True for 1, true, yes, on (any case).
enabled() {
  case $(printf '%s' "${1:-}" | tr '[:upper:]' '[:lower:]') in
    1 | true | yes | on) return 0 ;;
    *) return 1 ;;
  esac
}

coordinator_data_dir() { printf '%s' "${ESTUARY_DATA_DIR:-/var/lib/estuary}"; }
agent_data_dir() { printf '%s' "${ESTUARY_DATA_DIR:-/var/lib/estuary-agent}"; }
agent_profile() { printf '%s' "${ESTUARY_PROFILE:-/etc/estuary/site.toml}"; }

run_coordinator() {
  data=$(coordinator_data_dir)
  mkdir -p "$data"
  # Built in reverse and prepended, so that the caller's own flags ("$@") stay last.
  set -- --data-dir "$data" \
    --api-host "${ESTUARY_API_HOST:-0.0.0.0}" --api-port "${ESTUARY_API_PORT:-7400}" \
    --mesh-host "${ESTUARY_MESH_HOST:-0.0.0.0}" --mesh-port "${ESTUARY_MESH_PORT:-7401}" \
    --log-level "${ESTUARY_LOG_LEVEL:-info}" "$@"
  # Optional settings: only passed when set, so the binary's documented defaults apply.
  [ -n "${ESTUARY_COORDINATOR_ID:-}" ] && set -- --coordinator-id "$ESTUARY_COORDINATOR_ID" "$@"
  [ -n "${ESTUARY_POLICY:-}" ] && set -- --policy "$ESTUARY_POLICY" "$@"
  [ -n "${ESTUARY_CATALOG:-}" ] && set -- --catalog "$ESTUARY_CATALOG" "$@"
  [ -n "${ESTUARY_REPORT_INTERVAL:-}" ] && set -- --report-interval "$ESTUARY_REPORT_INTERVAL" "$@"
  [ -n "${ESTUARY_LOST_AFTER:-}" ] && set -- --lost-after "$ESTUARY_LOST_AFTER" "$@"
  [ -n "${ESTUARY_CERT_VALIDITY:-}" ] && set -- --cert-validity "$ESTUARY_CERT_VALIDITY" "$@"
  [ -n "${ESTUARY_PLATFORM_FEE_BP:-}" ] && set -- --platform-fee-bp "$ESTUARY_PLATFORM_FEE_BP" "$@"
  [ -n "${ESTUARY_DEFAULT_CREDIT_LIMIT:-}" ] && set -- --default-credit-limit "$ESTUARY_DEFAULT_CREDIT_LIMIT" "$@"
  [ -n "${ESTUARY_RATING_ROUNDING:-}" ] && set -- --rating-rounding "$ESTUARY_RATING_ROUNDING" "$@"
  if [ -n "${ESTUARY_CA_CERT:-}" ]; then
    set -- --ca-cert "$ESTUARY_CA_CERT" --ca-key "${ESTUARY_CA_KEY:?ESTUARY_CA_CERT needs ESTUARY_CA_KEY}" "$@"
  fi
  # Names for the coordinator's certificate, separated by commas or spaces.
  for name in $(printf '%s' "${ESTUARY_TLS_NAMES:-}" | tr ',' ' '); do
    set -- --tls-name "$name" "$@"
  done
  enabled "${ESTUARY_INSECURE_DEV:-}" && set -- --insecure-dev "$@"
  exec estuary-coordinator run "$@"
}

run_agent() {
  data=$(agent_data_dir)
  mkdir -p "$data"
  # estuary-agent reads ESTUARY_COORDINATOR, ESTUARY_DATA_DIR, ESTUARY_DATA_ROOT, ESTUARY_CA,
  # ESTUARY_ENROLL_URL and ESTUARY_JOIN_TOKEN itself; only what has no variable is mapped here.
  export ESTUARY_DATA_DIR="$data"
  set -- --profile "$(agent_profile)" --log-level "${ESTUARY_LOG_LEVEL:-info}" "$@"
  if [ -n "${ESTUARY_JOIN_TOKEN_FILE:-}" ]; then
    if [ -r "$ESTUARY_JOIN_TOKEN_FILE" ]; then
      set -- --join-token-file "$ESTUARY_JOIN_TOKEN_FILE" "$@"
    elif [ ! -s "$data/tls/site.pem" ]; then
      die "ESTUARY_JOIN_TOKEN_FILE=$ESTUARY_JOIN_TOKEN_FILE is not readable and $data holds no site certificate yet"
    fi
    # Already enrolled: the token is no longer needed, so a removed token file is fine.
  fi
  enabled "${ESTUARY_INSECURE_DEV:-}" && set -- --insecure-dev "$@"
  # The health check finds the agent by this file: `exec` keeps the PID.
  echo "$$" >"$data/agent.pid"
  exec estuary-agent run "$@"
}

health_coordinator() {
  data=$(coordinator_data_dir)
  port=${ESTUARY_API_PORT:-7400}
  # Port 0 means "any free port"; the coordinator writes the one it bound to api.port.
  [ "$port" = 0 ] && port=$(cat "$data/api.port")
  host=${ESTUARY_API_HOST:-0.0.0.0}
  case $host in 0.0.0.0 | "") host=127.0.0.1 ;; :: | "[::]") host="[::1]" ;; *:*) host="[$host]" ;; esac
  if enabled "${ESTUARY_INSECURE_DEV:-}"; then
    exec curl -fsS --max-time 3 -o /dev/null "http://$host:$port/readyz"
  fi
  # The coordinator's certificate always names 127.0.0.1, ::1 and localhost.
  exec curl -fsS --max-time 3 -o /dev/null --cacert "$data/tls/ca.pem" "https://$host:$port/readyz"
}

# The port of the coordinator's mesh address, as the agent resolves it (flag/env, else profile).
agent_coordinator_port() {
  address=${ESTUARY_COORDINATOR:-}
  if [ -z "$address" ]; then
    address=$(estuary-agent check --profile "$(agent_profile)" | sed -n 's/.*, coordinator \([^,]*\), pools .*/\1/p')
  fi
  case $address in
    *\]:*) printf '%s' "${address##*:}" ;;
    \[*) printf '7401' ;;
    *:*) printf '%s' "${address##*:}" ;;
    *) printf '7401' ;;
  esac
}

# The agent has no HTTP endpoint; healthy means, all of: the profile still validates, the
# process named in agent.pid is an estuary-agent, its outbox database exists, it holds a site
# certificate (unless insecure-dev), and it has an ESTABLISHED TCP connection to the
# coordinator's mesh port (read from its own /proc entries, so other processes do not count).
health_agent() {
  data=$(agent_data_dir)
  estuary-agent check --profile "$(agent_profile)" >/dev/null || exit 1
  pid=$(cat "$data/agent.pid" 2>/dev/null) || { echo "no $data/agent.pid" >&2; exit 1; }
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'estuary-agent run' ||
    { echo "process $pid is not a running estuary-agent" >&2; exit 1; }
  [ -s "$data/agent.sqlite" ] || { echo "no outbox at $data/agent.sqlite" >&2; exit 1; }
  if ! enabled "${ESTUARY_INSECURE_DEV:-}"; then
    [ -s "$data/tls/site.pem" ] || { echo "not enrolled: no $data/tls/site.pem" >&2; exit 1; }
  fi
  port=$(agent_coordinator_port)
  sockets=$(for fd in "/proc/$pid/fd/"*; do readlink "$fd" 2>/dev/null || true; done |
    sed -n 's/^socket:\[\([0-9]*\)\]$/\1/p' | tr '\n' ' ')
  # /proc/net/tcp{,6}: field 3 is the remote address as HEX_IP:HEX_PORT, field 4 the state
  # (01 = ESTABLISHED), field 10 the socket's inode.
  awk -v port="$(printf '%04X' "$port")" -v sockets="$sockets" '
    BEGIN { n = split(sockets, list, " "); for (i = 1; i <= n; i++) mine[list[i]] = 1 }
    $4 == "01" && ($10 in mine) { k = split($3, remote, ":"); if (remote[k] == port) found = 1 }
    END { exit found ? 0 : 1 }
  ' "/proc/$pid/net/tcp" "/proc/$pid/net/tcp6" 2>/dev/null ||
    { echo "no established connection to the coordinator's mesh port $port" >&2; exit 1; }
}

[ $# -ge 1 ] || die "usage: estuary-entrypoint coordinator|agent [FLAG...] | health coordinator|agent | COMMAND..."
command=$1
shift
case $command in
  coordinator) run_coordinator "$@" ;;
  agent) run_agent "$@" ;;
  health)
    case ${1:-} in
      coordinator) health_coordinator ;;
      agent) health_agent ;;
      *) die "usage: estuary-entrypoint health coordinator|agent" ;;
    esac
    ;;
  *) exec "$command" "$@" ;;
esac

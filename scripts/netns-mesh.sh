#!/usr/bin/env bash
# Network namespaces for tests with real processes on a real (virtual) network: N namespaces
# est1..estN, each with one veth (eth0, 10.231.0.<i>/24) on the bridge estbr0 (10.231.0.254/24,
# so the host reaches them too), and nftables in the namespaces to cut the network into groups
# or drop a share of packets. Needs root (ip netns, nft).
#
#   scripts/netns-mesh.sh up 5                     # est1..est5, 10.231.0.1 .. 10.231.0.5
#   scripts/netns-mesh.sh exec 3 ping -c1 10.231.0.1
#   scripts/netns-mesh.sh partition "1 2" "3 4 5"  # the groups cannot reach each other
#   scripts/netns-mesh.sh heal                      # drop every partition
#   scripts/netns-mesh.sh loss 10                   # each namespace drops 10 % of what it receives
#   scripts/netns-mesh.sh loss 0                    # no loss
#   scripts/netns-mesh.sh delay 50                  # 50 ms each way, only where sch_netem exists
#   scripts/netns-mesh.sh status
#   scripts/netns-mesh.sh down                      # everything gone; safe to repeat
#
# Namespaces not named in a partition keep reaching everyone. Partitions and loss are nftables
# tables inside each namespace (inet est_partition, inet est_loss), so the host's own rules are
# not touched.
set -euo pipefail

bridge=estbr0
prefix=10.231.0
host_address=$prefix.254

usage() {
  sed -n 's/^#   //p' "$0" >&2
  exit 2
}

die() {
  echo "netns-mesh: $*" >&2
  exit 1
}

# The indexes of the namespaces that exist, ascending.
members() {
  ip netns list | awk '{print $1}' | sed -n 's/^est\([0-9][0-9]*\)$/\1/p' | sort -n
}

require_member() {
  [[ "$1" =~ ^[0-9]+$ ]] || die "'$1' is not a namespace number"
  ip netns list | awk '{print $1}' | grep -qx "est$1" || die "namespace est$1 does not exist (scripts/netns-mesh.sh up N)"
}

in_ns() {
  local index=$1
  shift
  ip netns exec "est$index" "$@"
}

up() {
  local count=${1:-}
  if ! [[ "$count" =~ ^[0-9]+$ ]] || ((count < 1 || count > 253)); then die "up: give a count from 1 to 253"; fi
  [[ -z "$(members)" ]] || die "namespaces est* exist already; run 'down' first"
  command -v nft >/dev/null || die "nft is missing (apt-get install nftables)"
  ip link add "$bridge" type bridge
  ip addr add "$host_address/24" dev "$bridge"
  ip link set "$bridge" up
  local i
  for i in $(seq 1 "$count"); do
    ip netns add "est$i"
    ip link add "estv$i" type veth peer name "estp$i"
    ip link set "estp$i" netns "est$i"
    in_ns "$i" ip link set "estp$i" name eth0
    in_ns "$i" ip addr add "$prefix.$i/24" dev eth0
    in_ns "$i" ip link set lo up
    in_ns "$i" ip link set eth0 up
    ip link set "estv$i" master "$bridge"
    ip link set "estv$i" up
  done
  echo "netns-mesh: est1..est$count up on $bridge ($prefix.1..$prefix.$count, host $host_address)"
}

down() {
  local i
  for i in $(members); do
    ip netns delete "est$i" 2>/dev/null || true
  done
  # A veth whose namespace is gone disappears with it; the bridge stays until deleted.
  ip link delete "$bridge" 2>/dev/null || true
  echo "netns-mesh: down"
}

# Replaces the table $2 in namespace $1 with the rules on stdin (an empty stdin just removes it).
replace_table() {
  local index=$1 table=$2 rules
  rules=$(cat)
  in_ns "$index" nft delete table inet "$table" 2>/dev/null || true
  [[ -z "$rules" ]] && return 0
  in_ns "$index" nft -f - <<EOF
table inet $table {
$rules
}
EOF
}

addresses() {
  local out=() i
  for i in "$@"; do out+=("$prefix.$i"); done
  local IFS=,
  echo "${out[*]}"
}

partition() {
  [[ $# -eq 2 ]] || die 'partition: give two groups, e.g. partition "1 2" "3 4 5"'
  local -a left right
  read -r -a left <<<"$1"
  read -r -a right <<<"$2"
  [[ ${#left[@]} -gt 0 && ${#right[@]} -gt 0 ]] || die "partition: both groups need members"
  local i j
  for i in "${left[@]}"; do
    for j in "${right[@]}"; do [[ "$i" != "$j" ]] || die "partition: $i is in both groups"; done
  done
  for i in "${left[@]}" "${right[@]}"; do require_member "$i"; done
  heal_quietly
  cut_off "$(addresses "${right[@]}")" "${left[@]}"
  cut_off "$(addresses "${left[@]}")" "${right[@]}"
  echo "netns-mesh: partitioned {$1} | {$2}"
}

# cut_off ADDRESSES I...: namespaces I... drop everything from and to ADDRESSES.
cut_off() {
  local others=$1 i
  shift
  for i in "$@"; do
    replace_table "$i" est_partition <<EOF
  chain input {
    type filter hook input priority 0; policy accept;
    ip saddr { $others } drop
  }
  chain output {
    type filter hook output priority 0; policy accept;
    ip daddr { $others } drop
  }
EOF
  done
}

heal_quietly() {
  local i
  for i in $(members); do replace_table "$i" est_partition </dev/null; done
}

heal() {
  heal_quietly
  echo "netns-mesh: healed"
}

loss() {
  local percent=${1:-}
  if ! [[ "$percent" =~ ^[0-9]+$ ]] || ((percent > 100)); then die "loss: give a percentage from 0 to 100"; fi
  local i
  for i in $(members); do
    if ((percent == 0)); then
      replace_table "$i" est_loss </dev/null
    else
      # Incoming only, so that a packet between two namespaces is dropped with PCT % once.
      replace_table "$i" est_loss <<EOF
  chain input {
    type filter hook input priority 0; policy accept;
    iifname "eth0" numgen random mod 100 < $percent drop
  }
EOF
    fi
  done
  echo "netns-mesh: loss $percent %"
}

delay() {
  local ms=${1:-}
  [[ "$ms" =~ ^[0-9]+$ ]] || die "delay: give milliseconds"
  local first
  first=$(members | head -n 1)
  [[ -n "$first" ]] || die "no namespaces; run 'up N' first"
  local i
  if ((ms == 0)); then
    for i in $(members); do in_ns "$i" tc qdisc del dev eth0 root 2>/dev/null || true; done
    echo "netns-mesh: no delay"
    return 0
  fi
  local probe
  if ! probe=$(in_ns "$first" tc qdisc replace dev eth0 root netem delay "${ms}ms" 2>&1); then
    die "delay needs the netem qdisc (kernel module sch_netem), which this kernel does not have: $probe"
  fi
  for i in $(members); do in_ns "$i" tc qdisc replace dev eth0 root netem delay "${ms}ms"; done
  echo "netns-mesh: delay $ms ms on every eth0 (each way)"
}

status() {
  local i
  for i in $(members); do
    local tables
    tables=$(in_ns "$i" nft list tables 2>/dev/null | awk '{print $3}' | paste -sd, -)
    echo "est$i $(in_ns "$i" ip -4 -o addr show dev eth0 | awk '{print $4}') ${tables:-no rules}"
  done
}

[[ $# -ge 1 ]] || usage
command=$1
shift
[[ "$command" == -h || "$command" == --help ]] && usage
[[ $(id -u) -eq 0 ]] || die "must run as root (ip netns, nft)"
case "$command" in
  up) up "$@" ;;
  down) down ;;
  partition) partition "$@" ;;
  heal) heal ;;
  loss) loss "$@" ;;
  delay) delay "$@" ;;
  status) status ;;
  exec)
    [[ $# -ge 2 ]] || die "exec: give a namespace number and a command"
    require_member "$1"
    index=$1
    shift
    exec ip netns exec "est$index" "$@"
    ;;
  *) usage ;;
esac

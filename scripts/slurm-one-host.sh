#!/usr/bin/env bash
# A real one-host Slurm for the tests and benchmarks of the `slurm` driver (issue #6):
# installs Debian 12's slurm-wlm and munge, writes a one-node slurm.conf, starts munged,
# slurmctld and slurmd, and waits until `sinfo` shows the node idle. Run as root.
#
#   scripts/slurm-one-host.sh          # set up and start (does nothing if already running)
#   scripts/slurm-one-host.sh stop     # stop the three daemons
#
# Partitions (no GRES; at least 8 CPUs, more than a 2-core CI machine has, see below):
#   cpu   Default, up: where the tests' jobs run.
#   down  the same node, State=DOWN: jobs submitted there stay pending (reason PartitionDown).
# Accounting: no slurmdbd. The text job-completion plugin (JobCompType=jobcomp/filetxt) gives
# `sacct -c` each ended job's state, exit code, start and end, which is what the agent needs
# (its profile says accounting = "jobcomp"); plain `sacct` answers "accounting storage is
# disabled", which the tests use as "accounting unavailable".
set -euo pipefail

if [ "${1:-}" = stop ]; then
    pkill -x slurmd || true
    pkill -x slurmctld || true
    pkill -x munged || true
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "slurm-one-host: run as root (it installs packages and starts daemons)" >&2
    exit 1
fi

if pgrep -x slurmctld >/dev/null && pgrep -x slurmd >/dev/null && sinfo -h -o %T 2>/dev/null | grep -qx idle; then
    echo "slurm-one-host: already running"
    exit 0
fi

missing=()
for p in slurm-wlm slurm-client munge; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "slurm-one-host: installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

host=$(hostname -s)
# At least 8 CPUs, so that several test jobs run at once on a 2-core machine: slurmd accepts
# the configured count over the real one (SlurmdParameters=config_overrides). Jobs share cores.
cpus=$(nproc)
[ "$cpus" -ge 8 ] || cpus=8
mkdir -p /run/munge /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm /etc/slurm
chown munge:munge /run/munge
chown -R slurm:slurm /var/lib/slurm /var/log/slurm
# A fresh key where the package did not make one (a container image may lack it).
if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
fi

cat >/etc/slurm/slurm.conf <<CONF
# Written by estuary scripts/slurm-one-host.sh: a one-host cluster for tests.
ClusterName=estuary-ci
SlurmctldHost=$host
AuthType=auth/munge
SlurmUser=slurm
SlurmdUser=root
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobCompType=jobcomp/filetxt
JobCompLoc=/var/log/slurm/jobcomp.log
JobAcctGatherType=jobacct_gather/linux
# Ended jobs stay in squeue for 5 minutes; the benchmark queues 1,000 at once.
MinJobAge=300
MaxJobCount=20000
# Time limits are enforced within about 30 s of passing (the walltime test relies on it).
KillWait=5
SlurmdParameters=config_overrides
NodeName=$host CPUs=$cpus RealMemory=2048 State=UNKNOWN
PartitionName=cpu Nodes=$host Default=YES MaxTime=INFINITE State=UP
PartitionName=down Nodes=$host MaxTime=INFINITE State=DOWN
CONF

pgrep -x munged >/dev/null || su -s /bin/sh munge -c /usr/sbin/munged
# A fresh start forgets old jobs (ids start again; the agent matches jobs by name too).
pgrep -x slurmctld >/dev/null || { rm -rf /var/lib/slurm/slurmctld/*; /usr/sbin/slurmctld; }
pgrep -x slurmd >/dev/null || /usr/sbin/slurmd
for _ in $(seq 60); do
    if sinfo -h -p cpu -o %T 2>/dev/null | grep -qx idle; then
        echo "slurm-one-host: node $host idle ($cpus CPUs); partitions: $(sinfo -h -o '%P/%a' | tr '\n' ' ')"
        exit 0
    fi
    sleep 1
done
echo "slurm-one-host: the node never became idle; sinfo says:" >&2
sinfo >&2 || true
tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
exit 1

#!/usr/bin/env bash
# A single-node Slurm on this machine, for `make test-cluster` (tests/test_slurm.py).
# Installs slurm-wlm and munge from Debian when they are missing (needs root and apt-get),
# starts munge, writes a one-node slurm.conf from `slurmd -C`, starts slurmctld and slurmd,
# and waits until the node takes jobs. A Slurm that already answers is left as it is.
set -euo pipefail

log() { echo "[slurm-localhost] $*"; }

node_ready() {
  local state
  state=$(sinfo -h -o %t 2>/dev/null | head -n1 || true)
  [[ "$state" == idle* || "$state" == mix* || "$state" == alloc* ]]
}

if command -v sinfo >/dev/null 2>&1 && node_ready; then
  log "a Slurm already answers: $(sinfo -h -o '%P %D %t' | head -n1)"
  exit 0
fi

if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "slurm-localhost: Slurm is not installed and this is not root with apt-get;" \
      "install slurm-wlm and munge, or run as root" >&2
    exit 2
  fi
  log "installing slurm-wlm and munge"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q slurm-wlm munge >/dev/null || {
    apt-get update -q >/dev/null && apt-get install -y -q slurm-wlm munge >/dev/null
  }
fi

# munge: a key, then the daemon (unless one already answers)
if ! (munge -n | unmunge) >/dev/null 2>&1; then
  if [[ ! -s /etc/munge/munge.key ]]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
  chmod 0400 /etc/munge/munge.key
  runuser -u munge -- munged --force 2>/dev/null || munged --force
  for _ in $(seq 20); do (munge -n | unmunge) >/dev/null 2>&1 && break; sleep 0.5; done
fi
log "munge answers"

conf_dir=/etc/slurm
mkdir -p "$conf_dir" /var/spool/slurmd /var/spool/slurmctld /var/log/slurm
host=$(hostname -s)
node_line=$(slurmd -C | head -n1)
cat >"$conf_dir/slurm.conf" <<CONF
# written by microexp tools/slurm_localhost.sh: one node, this machine
ClusterName=microexp
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobRequeue=1
MpiDefault=none
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmdSpoolDir=/var/spool/slurmd
StateSaveLocation=/var/spool/slurmctld
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=600
KillWait=5
Waittime=0
$node_line State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
log "wrote $conf_dir/slurm.conf ($node_line)"

pkill -x slurmctld 2>/dev/null || true
pkill -x slurmd 2>/dev/null || true
sleep 1
slurmctld
slurmd
for _ in $(seq 60); do
  node_ready && break
  state=$(sinfo -h -o %t 2>/dev/null | head -n1 || true)
  if [[ "$state" == down* || "$state" == drain* ]]; then
    scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true
  fi
  sleep 0.5
done
if ! node_ready; then
  echo "slurm-localhost: the node did not become idle; see /var/log/slurm/" >&2
  sinfo >&2 || true
  exit 1
fi
log "ready: $(sinfo -h -o '%P %D %t %c CPUs' | head -n1)"

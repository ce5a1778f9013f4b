#!/usr/bin/env bash
# A real one-node SLURM cluster in a folder, from the OS packages (Debian: slurm-wlm, munge), for
# the tests and for trying the cluster walkthrough of docs/sweeps.md on a laptop. It installs
# nothing: munged (its own key and socket), slurmctld and slurmd run as this user, with state,
# logs and pid files under DIR, and ports picked free.
#
#   scripts/slurm/local_cluster.sh start DIR   # prints `export SLURM_CONF=DIR/slurm.conf`
#   export SLURM_CONF=DIR/slurm.conf            # then sbatch, srun, squeue, sinfo, scontrol
#   scripts/slurm/local_cluster.sh stop DIR     # stops the three daemons (by their pid files)
#
# The node: `hostname -s`, CPUs from nproc, RealMemory from /proc/meminfo; processes are tracked
# by /proc (proctrack/linuxproc), no cgroups, no accounting. `start` returns once `sinfo` says the
# node is idle (about 2 s), or exits 1 saying which daemon failed and where its log is.
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
action=$1
dir=$(realpath -m "$2")

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

stop() {  # all three at once (slurmd first in line), then wait for each, at most 5 s
    local name pid pids=()
    for name in slurmd slurmctld munged; do
        pid=$(cat "$dir/run/$name.pid" 2>/dev/null || true)
        [[ -n $pid ]] && kill "$pid" 2>/dev/null && pids+=("$pid")
        rm -f "$dir/run/$name.pid"
    done
    for pid in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
}

write_conf() {
    local node cpus mem
    node=$(hostname -s)
    cpus=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)  # nproc honours OMP_NUM_THREADS
    mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
    cat >"$dir/slurm.conf" <<EOF
ClusterName=biaslab-local
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=$(id -un)
SlurmdUser=$(id -un)
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/run/munge.socket,cred_expire=5
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
MpiDefault=none
ReturnToService=2
JobRequeue=1
KillWait=10
MinJobAge=600
SchedulerParameters=sched_interval=2
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
}

wait_idle() {
    local state="" name pid
    for _ in $(seq 120); do
        state=$(SLURM_CONF="$dir/slurm.conf" sinfo -h -o %t 2>/dev/null || true)
        [[ $state == idle* ]] && return 0
        for name in munged slurmctld slurmd; do
            pid=$(cat "$dir/run/$name.pid" 2>/dev/null || true)
            if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
                echo "$name stopped; see $dir/log/$name.log" >&2
                return 1
            fi
        done
        sleep 0.5
    done
    echo "the local SLURM cluster did not become idle in 60 s (sinfo: ${state:-nothing}); see $dir/log" >&2
    return 1
}

start() {
    for bin in munged slurmctld slurmd sinfo sbatch srun; do
        command -v "$bin" >/dev/null || { echo "$bin not found: apt-get install slurm-wlm munge" >&2; exit 1; }
    done
    stop
    rm -rf "$dir/state" "$dir/spool" "$dir/run"
    mkdir -p "$dir"/{state,spool,run,log}
    chmod 700 "$dir/run"
    [[ -f $dir/munge.key ]] || { head -c 1024 /dev/urandom >"$dir/munge.key"; chmod 400 "$dir/munge.key"; }
    write_conf
    munged --force --socket="$dir/run/munge.socket" --key-file="$dir/munge.key" \
        --pid-file="$dir/run/munged.pid" --log-file="$dir/log/munged.log" \
        --seed-file="$dir/run/munged.seed" 2>>"$dir/log/munged.log" \
        || { echo "munged did not start; see $dir/log/munged.log" >&2; exit 1; }
    export SLURM_CONF="$dir/slurm.conf"
    slurmctld -i || { echo "slurmctld did not start; see $dir/log/slurmctld.log" >&2; stop; exit 1; }
    slurmd || { echo "slurmd did not start; see $dir/log/slurmd.log" >&2; stop; exit 1; }
    wait_idle || { stop; exit 1; }
    echo "export SLURM_CONF=$dir/slurm.conf"
}

case $action in
    start) start ;;
    stop) stop ;;
    *) usage ;;
esac

#!/usr/bin/env bash
# A one-node Slurm for esteira's tests (Debian 12, slurm-wlm 22.05): munge, MariaDB + slurmdbd
# (so `sacct` works), slurmctld and slurmd, as root, without systemd or cgroups, loopback only.
#
# Idempotent: when slurmctld already answers `scontrol ping`, nothing is done. Otherwise each
# daemon that is not running is started (one left over from a half-started attempt is kept).
# Needs: apt-get install slurm-wlm munge slurmdbd mariadb-server (see .ci/run).
#
# Differences from Slurm's defaults, and why:
# - OverSubscribe=FORCE:8 on the partition: up to 8 jobs share a core, so the tests' jobs (a
#   one-minute time-limit job, two jobs that must overlap, jobs to cancel, several test binaries
#   at once) all run at once on a 2-core runner instead of queueing for cores. Memory stays
#   consumable (CR_Core_Memory).
# - DefMemPerCPU=512: without it a job without --mem asks for the whole node's memory, so two
#   jobs never run at once (the tests check that independent jobs overlap).
# - KillWait=2: a job past its time limit gets SIGTERM and, 2 s later (not 30), SIGKILL, so the
#   time-limit test ends soon after Slurm's check. Slurm's time limits are whole minutes and
#   slurmctld checks them every 30 s, so a `--time=1` job is killed 60-90 s after it starts;
#   that cannot be made shorter by configuration.
# - MinJobAge=300: finished jobs stay visible to `squeue --states=all` for 5 minutes (the
#   client asks squeue first and sacct only for jobs squeue no longer knows).
# - One partition `debug`: the node, its CPUs and its memory minus 1 GiB.
#
# Logs: /var/log/slurm/. Stop (for a clean restart): kill the pids in /run/{slurmd,slurmctld,
# slurmdbd,mariadbd}.pid and `pkill -u munge munged`.
set -euo pipefail

if timeout 15 scontrol ping 2>/dev/null | grep -q 'is UP'; then
  echo "slurm: slurmctld already up"
  exit 0
fi

t0=$(date +%s%N)
H=$(hostname -s)
CPUS=$(nproc)
MEM=$(( $(awk '/MemTotal/{print $2}' /proc/meminfo) / 1024 - 1024 ))

running() { # pidfile: its process exists and is not a zombie (no init reaps it in a container)
  local st
  [ -s "$1" ] && st=$(ps -o stat= -p "$(cat "$1")" 2>/dev/null) && [ -n "$st" ] && [ "${st#Z}" = "$st" ]
}
wait_for() { # what, command... (up to 30 s; each try at most 5 s)
  local what=$1 end=$(( $(date +%s) + 30 ))
  shift
  until timeout 5 "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$end" ]; then
      echo "slurm: $what did not come up within 30 s; logs in /var/log/slurm/" >&2
      tail -n 20 /var/log/slurm/*.log >&2 || true
      exit 1
    fi
    sleep 0.1
  done
}

mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge /run/mysqld
chown slurm:slurm /var/spool/slurmctld /var/log/slurm
chown munge:munge /run/munge
chown mysql:mysql /run/mysqld

cat > /etc/slurm/slurm.conf <<CONF
# Written by esteira's .ci/slurm-up.sh.
ClusterName=esteira-ci
SlurmctldHost=${H}(127.0.0.1)
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=512
KillWait=2
MinJobAge=300
JobAcctGatherType=jobacct_gather/linux
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobCompType=jobcomp/none
ReturnToService=2
MpiDefault=none
NodeName=${H} NodeAddr=127.0.0.1 CPUs=${CPUS} RealMemory=${MEM} State=UNKNOWN
PartitionName=debug Nodes=${H} Default=YES MaxTime=INFINITE OverSubscribe=FORCE:8 State=UP
CONF

if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom bs=1024 count=1 of=/etc/munge/munge.key 2>/dev/null
  chown munge:munge /etc/munge/munge.key
  chmod 400 /etc/munge/munge.key
fi
if ! pgrep -u munge -x -r R,S,D munged >/dev/null; then
  runuser -u munge -- /usr/sbin/munged
fi
wait_for munged munge -n

if ! running /run/mariadbd.pid; then
  [ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
  runuser -u mysql -- /usr/sbin/mariadbd --datadir=/var/lib/mysql --socket=/run/mysqld/mysqld.sock \
    --bind-address=127.0.0.1 >/var/log/slurm/mariadb.log 2>&1 &
  echo $! >/run/mariadbd.pid
fi
wait_for mariadb mariadb -e 'select 1'
mariadb -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
  CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmpw';
  GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';"

printf '%s\n' AuthType=auth/munge DbdHost=localhost DbdAddr=127.0.0.1 SlurmUser=slurm \
  LogFile=/var/log/slurm/slurmdbd.log PidFile=/run/slurmdbd.pid StorageType=accounting_storage/mysql \
  StorageHost=localhost StorageLoc=slurm_acct_db StorageUser=slurm StoragePass=slurmpw >/etc/slurm/slurmdbd.conf
chown slurm:slurm /etc/slurm/slurmdbd.conf
chmod 600 /etc/slurm/slurmdbd.conf
running /run/slurmdbd.pid || /usr/sbin/slurmdbd
wait_for slurmdbd sacctmgr -n list cluster
if ! sacctmgr -n -P list cluster format=Cluster | grep -qx esteira-ci; then
  sacctmgr -i -Q add cluster esteira-ci >/dev/null
fi

running /run/slurmctld.pid || /usr/sbin/slurmctld
running /run/slurmd.pid || /usr/sbin/slurmd
wait_for "the node" sh -c "sinfo -h -o %T | grep -qE '^(idle|mixed|allocated)'"
wait_for "sacct" sacct -n -X --starttime=now

sinfo
echo "slurm: up in $(( ($(date +%s%N) - t0) / 1000000 )) ms"

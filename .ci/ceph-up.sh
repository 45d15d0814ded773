#!/usr/bin/env bash
# A one-node Ceph cluster for esteira-remote's tests: a monitor, one memstore OSD and the RADOS
# gateway (S3) on http://127.0.0.1:7480, auth none inside the cluster, loopback only, no systemd.
# Needs root and Debian's `ceph-mon ceph-osd radosgw ceph-base` (16.2 on Debian 12).
#
# Creates one S3 user (access key $S3_ACCESS_KEY, secret $S3_SECRET_KEY) and nothing else: the
# tests create their own buckets. Idempotent: when the gateway already answers and the user's
# keys work, it only says so; otherwise it stops the daemons it started before (pid files under
# $CEPH_DIR), wipes $CEPH_DIR and starts afresh. Everything it writes is under $CEPH_DIR (its own
# ceph.conf, passed with -c: /etc/ceph is left alone). Prints how long it took.
#
#   .ci/ceph-up.sh          start (or confirm) the cluster
#   .ci/ceph-up.sh stop     stop the daemons it started
set -euo pipefail

CEPH_DIR=${CEPH_DIR:-/tmp/esteira-ceph}
S3_ACCESS_KEY=${S3_ACCESS_KEY:-esteira}
S3_SECRET_KEY=${S3_SECRET_KEY:-esteira-secret}
ENDPOINT=http://127.0.0.1:7480
CONF=$CEPH_DIR/ceph.conf
start=$(date +%s.%N)
# On any failure, show why: the tail of every log the daemons wrote.
show_logs() {
  local rc=$? f
  echo "ceph-up: failed (exit $rc) at line ${BASH_LINENO[0]}; df of $CEPH_DIR:" >&2
  df -h "$CEPH_DIR" >&2 2>/dev/null || true
  for f in "$CEPH_DIR"/log/*; do
    [ -s "$f" ] || continue
    echo "--- $f (last 20 lines)" >&2
    tail -n 20 "$f" >&2
  done
}
trap show_logs ERR
elapsed() { echo "$(date +%s.%N) - $start" | bc; }

stop_daemons() {
  local pidfile pid
  for pidfile in "$CEPH_DIR"/run/*.pid; do
    [ -e "$pidfile" ] || continue
    pid=$(cat "$pidfile" 2>/dev/null || true)
    # Only a process that is still the Ceph daemon the pid file names.
    if [ -n "$pid" ] && grep -qE '^(ceph-mon|ceph-osd|radosgw)$' "/proc/$pid/comm" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do [ -e "/proc/$pid" ] || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  done
}

if [ "${1:-}" = stop ]; then
  stop_daemons
  echo "ceph stopped"
  exit 0
fi

# Already up with our user? (A signed request needs the keys; an unsigned one would pass anyway.)
user_works() {
  [ -e "$CONF" ] && radosgw-admin -c "$CONF" user info --uid=esteira 2>/dev/null | grep -q "\"$S3_ACCESS_KEY\""
}
if curl -s -o /dev/null --max-time 2 "$ENDPOINT/" && user_works; then
  echo "ceph+rgw already up at $ENDPOINT (checked in $(elapsed) s)"
  exit 0
fi
for bin in ceph-mon ceph-osd radosgw radosgw-admin ceph-authtool monmaptool ceph bc curl; do
  command -v "$bin" >/dev/null || { echo "ceph-up: $bin not found (apt-get install ceph-mon ceph-osd radosgw ceph-base bc curl)" >&2; exit 1; }
done
if curl -s -o /dev/null --max-time 2 "$ENDPOINT/"; then
  echo "ceph-up: something else answers at $ENDPOINT (not the cluster of $CEPH_DIR); stop it first" >&2
  exit 1
fi

stop_daemons
rm -rf "$CEPH_DIR"
mkdir -p "$CEPH_DIR"/{mon,osd0,run,log}
H=$(hostname -s)
FSID=$(cat /proc/sys/kernel/random/uuid)
cat > "$CONF" <<CONF
[global]
fsid = $FSID
mon initial members = $H
mon host = 127.0.0.1
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
run dir = $CEPH_DIR/run
pid file = $CEPH_DIR/run/\$name.pid
admin socket = $CEPH_DIR/run/\$name.asok
log file = $CEPH_DIR/log/\$name.log
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data = $CEPH_DIR/mon
osd data = $CEPH_DIR/osd\$id
osd objectstore = memstore
memstore device bytes = 2147483648
osd memory target = 1073741824
# ceph-mon refuses to start (exit 28, ENOSPC) when its data directory's filesystem has under 5 %
# free, however many gigabytes that is; a CI machine's big, mostly full disk is not a reason here.
mon data avail crit = 0
mon data avail warn = 0
[client.rgw.$H]
# tcp_nodelay: without it beast sends a small response's body after its headers only once the
# client ACKs them, which Linux delays by 40 ms: every cache record and small object cost 40 ms
# (a remote-hit run of the default pipeline took 1.7 s instead of 0.4 s).
rgw frontends = beast endpoint=127.0.0.1:7480 tcp_nodelay=1
rgw dns name = localhost
CONF

ceph-authtool --create-keyring "$CEPH_DIR/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
monmaptool --create --add "$H" 127.0.0.1 --fsid "$FSID" "$CEPH_DIR/monmap" >/dev/null
ceph-mon -c "$CONF" --mkfs -i "$H" --monmap "$CEPH_DIR/monmap" --keyring "$CEPH_DIR/mon.keyring"
ceph-mon -c "$CONF" -i "$H"
# Right after it starts the monitor may refuse a command ("wrong fsid", EPERM) before the
# client has its map: retry the few commands that matter.
retry() {
  local i
  for i in $(seq 1 60); do
    if "$@"; then return 0; fi
    sleep 0.5
  done
  echo "ceph-up: gave up on: $*; logs in $CEPH_DIR/log" >&2
  return 1
}
retry ceph -c "$CONF" --connect-timeout 5 mon stat >/dev/null 2>&1
OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
OSD_ID=$(retry ceph -c "$CONF" --connect-timeout 5 osd new "$OSD_UUID" 2>>"$CEPH_DIR/log/console.log")
# The daemons fork into the background; what they print before that goes to the log directory.
ceph-osd -c "$CONF" -i "$OSD_ID" --mkfs --osd-uuid "$OSD_UUID" >>"$CEPH_DIR/log/console.log" 2>&1
osd_up() { ceph -c "$CONF" --connect-timeout 5 osd stat 2>/dev/null | grep -q "1 up"; }
osd_alive() {
  local pid
  pid=$(cat "$CEPH_DIR/run/osd.$OSD_ID.pid" 2>/dev/null) && grep -qx ceph-osd "/proc/$pid/comm" 2>/dev/null
}
for attempt in 1 2 3 4 5; do
  ceph-osd -c "$CONF" -i "$OSD_ID" >>"$CEPH_DIR/log/console.log" 2>&1 || true
  # It can fail its first command to the monitor the same way and exit: then start it again.
  for _ in $(seq 1 60); do
    osd_up && break 2
    osd_alive || break
    sleep 0.25
  done
  if [ "$attempt" = 5 ]; then echo "ceph-up: the OSD does not come up; logs in $CEPH_DIR/log" >&2; exit 1; fi
  if osd_alive; then kill "$(cat "$CEPH_DIR/run/osd.$OSD_ID.pid")" 2>/dev/null || true; sleep 1; fi
  sleep 0.5
done
radosgw -c "$CONF" -n "client.rgw.$H" >>"$CEPH_DIR/log/console.log" 2>&1
up=0
for _ in $(seq 1 120); do
  if curl -s -o /dev/null --max-time 2 "$ENDPOINT/"; then up=1; break; fi
  sleep 0.5
done
if [ "$up" != 1 ]; then
  echo "ceph-up: the gateway did not answer at $ENDPOINT in 60 s; logs in $CEPH_DIR/log" >&2
  exit 1
fi
radosgw-admin -c "$CONF" user create --uid=esteira --display-name=esteira \
  --access-key="$S3_ACCESS_KEY" --secret="$S3_SECRET_KEY" >/dev/null
echo "ceph+rgw up at $ENDPOINT in $(elapsed) s"

#!/usr/bin/env bash
# A test cluster of N hosts made of Linux network namespaces, all inside this
# machine: a switch namespace holding a bridge, and one namespace per host
# joined to it by a veth pair, on a private subnet that exists only here.
# The machine's own network namespace is never touched.
#
#   cluster.sh up RUN N [--rate 1gbit]   make hosts RUN-h1..RUN-hN (10.213.7.11 ...)
#   cluster.sh exec RUN I CMD...         run CMD on host I with its own host name (RUN-hI)
#   cluster.sh avahi RUN I               start dbus + avahi-daemon on host I (foreground pids in the state dir)
#   cluster.sh link RUN I up|down        cut or restore host I's link
#   cluster.sh inner RUN I [--only]      join host I to a second, inner network (bridge br1, 10.213.8.1I on eth1);
#                                        --only takes it off the outer one (a node behind a gateway host)
#   cluster.sh down RUN                  remove what `up RUN` made (and nothing else)
#   cluster.sh gc                        remove clusters left behind by runs whose owner process is gone
#   cluster.sh check                     exit 0 if this machine can make a test cluster
#
# Every name starts with "pct" + RUN; state lives in /tmp/picompute-netns/RUN.
set -euo pipefail

SUBNET=10.213.7
INNER_SUBNET=10.213.8
STATE_ROOT=/tmp/picompute-netns

die() { echo "cluster.sh: $*" >&2; exit 1; }
ns() { echo "pct$1-h$2"; }
sw() { echo "pct$1-sw"; }

cmd_check() {
  [ "$(id -u)" = 0 ] || die "needs root (ip netns)"
  command -v ip >/dev/null || die "needs iproute2 (ip)"
  local probe="pctcheck$$"
  ip netns add "$probe" 2>/dev/null || die "ip netns does not work here"
  ip netns del "$probe"
  command -v unshare >/dev/null || die "needs unshare (util-linux) for per-host host names"
}

cmd_up() {
  local run=$1 n=$2 rate=""
  shift 2
  while [ $# -gt 0 ]; do case $1 in --rate) rate=$2; shift 2 ;; *) die "unknown option $1" ;; esac; done
  [[ "$run" =~ ^[a-z0-9]{1,6}$ ]] || die "RUN must be 1-6 lowercase letters or digits"
  local state="$STATE_ROOT/$run"
  mkdir -p "$state"
  echo "${PICOMPUTE_NETNS_OWNER:-$PPID}" > "$state/owner"
  ip netns add "$(sw "$run")"
  echo "$(sw "$run")" >> "$state/namespaces"
  ip -n "$(sw "$run")" link set lo up
  ip -n "$(sw "$run")" link add br0 type bridge mcast_snooping 0
  ip -n "$(sw "$run")" link set br0 up
  for i in $(seq 1 "$n"); do
    local h; h=$(ns "$run" "$i")
    ip netns add "$h"
    echo "$h" >> "$state/namespaces"
    ip -n "$(sw "$run")" link add "p$i" type veth peer name eth0 netns "$h"
    ip -n "$(sw "$run")" link set "p$i" master br0 up
    ip -n "$h" link set lo up
    ip -n "$h" addr add "$SUBNET.$((10 + i))/24" dev eth0
    ip -n "$h" link set eth0 up
    # No default route: only the subnet and multicast (mDNS) are reachable.
    ip -n "$h" route add 224.0.0.0/4 dev eth0
    if [ -n "$rate" ]; then
      ip netns exec "$h" tc qdisc add dev eth0 root tbf rate "$rate" burst 256kb latency 50ms
    fi
  done
}

cmd_exec() {
  local run=$1 i=$2
  shift 2
  local h; h=$(ns "$run" "$i")
  # Namespaces share the kernel host name; a UTS namespace gives each host its own.
  exec ip netns exec "$h" unshare --uts -- sh -c 'hostname "$0" && exec "$@"' "$h" "$@"
}

cmd_avahi() {
  local run=$1 i=$2 h state="$STATE_ROOT/$1"
  h=$(ns "$run" "$i")
  local dir="$state/avahi-$i"
  mkdir -p "$dir"
  cat > "$dir/dbus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$dir/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/><allow own="*"/><allow send_destination="*"/><allow receive_sender="*"/>
  </policy>
</busconfig>
CONF
  cat > "$dir/avahi.conf" <<CONF
[server]
host-name=$h
use-ipv4=yes
use-ipv6=no
allow-interfaces=eth0
enable-dbus=yes
[publish]
publish-hinfo=no
publish-workstation=no
CONF
  ip netns exec "$h" dbus-daemon --config-file="$dir/dbus.conf" --nofork --nopidfile > "$dir/dbus.log" 2>&1 &
  echo $! > "$dir/dbus.pid"
  for _ in $(seq 1 50); do [ -S "$dir/system_bus_socket" ] && break; sleep 0.1; done
  [ -S "$dir/system_bus_socket" ] || die "dbus-daemon did not start on $h: $(cat "$dir/dbus.log")"
  DBUS_SYSTEM_BUS_ADDRESS="unix:path=$dir/system_bus_socket" ip netns exec "$h" \
    avahi-daemon --no-chroot --no-drop-root --no-rlimits -f "$dir/avahi.conf" > "$dir/avahi.log" 2>&1 &
  echo $! > "$dir/avahi.pid"
  echo "unix:path=$dir/system_bus_socket"
}

cmd_link() {
  local run=$1 i=$2 updown=$3
  ip -n "$(sw "$run")" link set "p$i" "$updown"
}

# The gateway topology: a master Pi with one leg on the LAN and one on the
# cluster's own switch. The inner bridge lives in the same switch namespace;
# a host on both keeps its multicast route on eth0, as a gateway whose
# default route is the LAN would.
cmd_inner() {
  local run=$1 i=$2 only=${3:-}
  local h s; h=$(ns "$run" "$i"); s=$(sw "$run")
  ip -n "$s" link show br1 >/dev/null 2>&1 || {
    ip -n "$s" link add br1 type bridge mcast_snooping 0
    ip -n "$s" link set br1 up
  }
  ip -n "$s" link add "q$i" type veth peer name eth1 netns "$h"
  ip -n "$s" link set "q$i" master br1 up
  ip -n "$h" addr add "$INNER_SUBNET.$((10 + i))/24" dev eth1
  ip -n "$h" link set eth1 up
  if [ "$only" = --only ]; then
    ip -n "$s" link del "p$i"
    ip -n "$h" route replace 224.0.0.0/4 dev eth1
  fi
}

cmd_down() {
  local run=$1 state="$STATE_ROOT/$1"
  [ -d "$state" ] || return 0
  for pidfile in "$state"/avahi-*/*.pid; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  if [ -f "$state/namespaces" ]; then
    # Processes still inside a namespace keep it alive: end them first.
    while read -r n; do
      for pid in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
      ip netns del "$n" 2>/dev/null || true
    done < "$state/namespaces"
  fi
  rm -rf "$state"
}

cmd_gc() {
  [ -d "$STATE_ROOT" ] || return 0
  for state in "$STATE_ROOT"/*/; do
    local run owner
    run=$(basename "$state")
    owner=$(cat "$state/owner" 2>/dev/null || echo 0)
    if ! kill -0 "$owner" 2>/dev/null; then cmd_down "$run"; fi
  done
}

case "${1:-}" in
  check) cmd_check ;;
  up) shift; cmd_up "$@" ;;
  exec) shift; cmd_exec "$@" ;;
  avahi) shift; cmd_avahi "$@" ;;
  link) shift; cmd_link "$@" ;;
  inner) shift; cmd_inner "$@" ;;
  down) shift; cmd_down "$@" ;;
  gc) cmd_gc ;;
  *) die "usage: cluster.sh check|up|exec|avahi|link|inner|down|gc (see the top of this file)" ;;
esac

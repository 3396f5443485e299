#!/usr/bin/env bash
# A bare host on host I of a test cluster (cluster.sh): what a freshly
# flashed Pi has, for installer tests. Its own mount namespace, in which
# /etc, /opt, /var/lib, /var/cache and /usr/local are overlays on this
# machine's, every write landing in DIR/upper/ (so an installer may create
# users, units and keys without touching the machine, and a test reads what
# it wrote from DIR/upper/); and a PATH of only the basic commands plus node:
# no pnpm, no compiler, no sudo.
#
#   bare-host.sh up RUN I DIR [--no-node]   start it (a sleeping process holds the namespaces; pid in DIR/pid)
#   bare-host.sh exec DIR CMD...            run CMD there as root with the bare PATH (DIR/bin)
#   bare-host.sh down DIR                   stop it (DIR stays, for looking at)
set -euo pipefail

OVERLAID="etc opt var/lib var/cache usr/local"
# What Raspberry Pi OS Lite has that an installer may use (and setpriv, to start a service's command as its user).
COMMANDS="sh dash bash env id uname mktemp rm rmdir mkdir mv cp ln chmod chown cat sed awk head tail tr cut df date dirname basename
  tar gzip sha256sum install useradd userdel groupadd ls grep printf true false test [ readlink sleep find kill stat touch wc curl setpriv"

die() { echo "bare-host.sh: $*" >&2; exit 1; }

cmd_up() {
  local run=$1 i=$2 dir=$3 node=yes
  [ "${4:-}" = --no-node ] && node=no
  mkdir -p "$dir/bin"
  for c in $COMMANDS; do
    local p; p=$(command -v "$c" 2>/dev/null) || continue
    ln -sf "$p" "$dir/bin/$c"
  done
  [ $node = yes ] && ln -sf "$(command -v node)" "$dir/bin/node"
  local mounts="" d
  for d in $OVERLAID; do
    local flat=${d//\//_}
    mkdir -p "$dir/upper/$flat" "$dir/work/$flat"
    mounts="$mounts mount -t overlay overlay -o lowerdir=/$d,upperdir=$dir/upper/$flat,workdir=$dir/work/$flat /$d &&"
  done
  local h="pct$run-h$i"
  ip netns exec "$h" unshare --uts --mount --propagation private -- \
    sh -c "hostname $h-bare && $mounts echo \$\$ > '$dir/pid.tmp' && mv '$dir/pid.tmp' '$dir/pid' && exec sleep 100000" </dev/null >"$dir/host.log" 2>&1 &
  for _ in $(seq 1 50); do [ -f "$dir/pid" ] && break; sleep 0.1; done
  [ -f "$dir/pid" ] || die "the bare host on $h did not start"
  cat "$dir/pid"
}

cmd_exec() {
  local dir=$1
  shift
  exec nsenter -t "$(cat "$dir/pid")" -m -u -n -- env -i PATH="$dir/bin" HOME=/root LANG=C.UTF-8 "$@"
}

cmd_down() {
  local dir=$1
  [ -f "$dir/pid" ] && kill "$(cat "$dir/pid")" 2>/dev/null || true
  rm -f "$dir/pid"
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  exec) shift; cmd_exec "$@" ;;
  down) shift; cmd_down "$@" ;;
  *) die "usage: bare-host.sh up|exec|down (see the top of this file)" ;;
esac

#!/bin/sh
# The picompute installer, as a coordinator serves it (GET /install.sh on its
# dashboard port; the coordinator fills in the @@…@@ values):
#
#   curl -sfL @@BASE_URL@@/install.sh | sh -s -- --token PC1…
#
# Installs picompute @@VERSION@@ on this host as the systemd service
# picompute-agent (user picompute, Restart=always), joined to the
# coordinator at @@COORDINATOR@@, and leaves /opt/picompute/uninstall.sh.
# The token pins the cluster: the host gets the cluster key only from a
# coordinator that proves it holds it (`picompute join`). Every check runs
# before anything is written, so a refused join leaves nothing behind.
# Run again, it upgrades to the coordinator's version, or does nothing when
# that is the version installed (no token needed then).
set -eu

BASE_URL='@@BASE_URL@@'
COORDINATOR='@@COORDINATOR@@'
PREFIX=/opt/picompute
CONF=/etc/picompute
HOME_DIR=/var/lib/picompute
CACHE_DIR=/var/cache/picompute
UNIT=/etc/systemd/system/picompute-agent.service
LINK=/usr/local/bin/picompute
NAME=picompute
MIN_FREE_MB=200
# The cluster's request authentication allows 120 s of skew; stop well inside it.
MAX_SKEW_S=60

say() { printf 'picompute install: %s\n' "$*" >&2; }
die() {
  printf 'picompute install: %s\n' "$*" >&2
  exit 1
}

TOKEN=''
while [ $# -gt 0 ]; do
  case $1 in
  --token)
    [ $# -ge 2 ] || die '--token needs the PC1… token'
    TOKEN=$2
    shift 2
    ;;
  --token=*)
    TOKEN=${1#--token=}
    shift
    ;;
  *) die "unknown option $1 (usage: curl -sfL $BASE_URL/install.sh | sh -s -- --token PC1…)" ;;
  esac
done

# --- checks: nothing is written until they all pass -------------------------

[ "$(id -u)" = 0 ] || die "run it as root (it creates a user and a service): curl -sfL $BASE_URL/install.sh | sudo sh -s -- --token …"

case $(uname -m) in
aarch64 | arm64) ARCH=arm64 ;;
armv7* | armv8l) ARCH=armv7 ;;
x86_64 | amd64) ARCH=x64 ;;
armv6*) die "this is an armv6 board ($(uname -m): a Pi Zero or Pi 1), for which there is no Node.js 20; picompute runs on arm64, armv7 and x64" ;;
*) die "unsupported architecture $(uname -m): picompute runs on arm64, armv7 and x64" ;;
esac

NODE_HINT='install Node.js 20 or newer (Raspberry Pi OS 13 / Debian 13: sudo apt install nodejs; on older systems take Node 20+ from https://nodejs.org/en/download or NodeSource), then run this line again'
NODE=$(command -v node 2>/dev/null) || die "Node.js is not installed: picompute runs on plain Node.js, nothing else. $NODE_HINT"
# The unit runs node as the service user: name the real file, not a link in someone's private folder.
NODE=$(readlink -f "$NODE" 2>/dev/null || echo "$NODE")
NODE_MAJOR=$("$NODE" -p 'process.versions.node.split(".")[0]' 2>/dev/null) || die "$NODE does not run: $NODE_HINT"
[ "$NODE_MAJOR" -ge 20 ] || die "Node.js $("$NODE" -v) at $NODE is too old for picompute (it needs 20 or newer): $NODE_HINT"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Downloads with curl, or with node itself where there is no curl.
fetch() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsS --max-time 120 -o "$2" "$1"
  else
    "$NODE" -e '
      fetch(process.argv[1]).then(async (r) => {
        if (!r.ok) { console.error(`${r.status} ${(await r.text()).trim()}`); process.exit(22); }
        require("node:fs").writeFileSync(process.argv[2], Buffer.from(await r.arrayBuffer()));
      }).catch((e) => { console.error(e.cause?.message ?? e.message); process.exit(7); });' "$1" "$2"
  fi
}
sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d ' ' -f 1
  else
    "$NODE" -e 'process.stdout.write(require("node:crypto").createHash("sha256").update(require("node:fs").readFileSync(process.argv[1])).digest("hex"))' "$1"
  fi
}

fetch "$BASE_URL/install/version" "$TMP/version" 2>"$TMP/err" ||
  die "cannot reach the coordinator at $BASE_URL ($(tr '\n' ' ' <"$TMP/err")): is \`picompute coordinator --dashboard-host 0.0.0.0\` running there, and its dashboard port open to this host?"
field() { sed -n "s/^$1=//p" "$TMP/version" | head -n 1; }
VERSION=$(field version)
SHA=$(field sha256)
THEN=$(field time)
MISSING=$(field missing)
[ -n "$VERSION" ] && [ -n "$THEN" ] || die "$BASE_URL/install/version is not a picompute coordinator's answer"
[ -z "$MISSING" ] || die "the coordinator cannot hand out picompute: $MISSING"

NOW=$(date +%s)
SKEW=$((NOW - THEN))
[ "$SKEW" -ge 0 ] || SKEW=$((-SKEW))
[ "$SKEW" -le "$MAX_SKEW_S" ] ||
  die "this host's clock is $SKEW s off the coordinator's (here $(date -u '+%Y-%m-%d %H:%M:%S') UTC): the cluster's authentication allows 120 s. Set the time (sudo timedatectl set-ntp true, or sudo date -s 'YYYY-MM-DD hh:mm:ss') and run this line again"

INSTALLED=''
if [ -f "$PREFIX/current/package.json" ]; then
  INSTALLED=$("$NODE" -p 'require(process.argv[1]).version' "$PREFIX/current/package.json" 2>/dev/null || true)
fi
UPGRADE=''
if [ -n "$INSTALLED" ] && [ -f "$CONF/cluster.key" ]; then
  if [ "$INSTALLED" = "$VERSION" ]; then
    say "picompute $INSTALLED is installed and is the coordinator's version: nothing to do"
    exit 0
  fi
  UPGRADE=1
  say "upgrading picompute $INSTALLED to $VERSION (the cluster key in $CONF stays)"
else
  [ -n "$TOKEN" ] || die "--token is missing: run the line that \`picompute join-command\` prints on the coordinator"
fi

free_mb() {
  d=$1
  while [ ! -d "$d" ]; do d=$(dirname "$d"); done
  df -Pk "$d" | awk 'NR == 2 { print int($4 / 1024) }'
}
for d in "$PREFIX" "$CACHE_DIR"; do
  FREE=$(free_mb "$d")
  [ "$FREE" -ge "$MIN_FREE_MB" ] || die "only $FREE MB free for $d: picompute and its job cache need $MIN_FREE_MB MB; free some space and run this line again"
done

fetch "$BASE_URL/picompute.tgz" "$TMP/picompute.tgz" 2>"$TMP/err" || die "cannot download $BASE_URL/picompute.tgz: $(tr '\n' ' ' <"$TMP/err")"
GOT=$(sha256 "$TMP/picompute.tgz")
[ "$GOT" = "$SHA" ] || die "the download's SHA-256 is $GOT but the coordinator announced $SHA: the transfer was damaged; run this line again"
mkdir "$TMP/unpacked"
tar -xzf "$TMP/picompute.tgz" -C "$TMP/unpacked" || die "cannot unpack the release (tar failed above)"
[ -f "$TMP/unpacked/package/bin/picompute.mjs" ] || die "the release has no bin/picompute.mjs: it is not a picompute release"

if [ -z "$UPGRADE" ]; then
  # Checks the coordinator against the token's pin before it sends anything secret.
  "$NODE" "$TMP/unpacked/package/bin/picompute.mjs" join --url "$BASE_URL" --token "$TOKEN" --key-out "$TMP/cluster.key" >&2 ||
    die 'the join was refused (the reason is above); nothing was installed'
fi

# --- install: from here on a fresh install that fails is rolled back --------

rollback() {
  rm -rf "$PREFIX" "$CONF" "$HOME_DIR" "$CACHE_DIR" "$UNIT" "$LINK"
  if [ -n "${CREATED_USER:-}" ]; then userdel "$NAME" 2>/dev/null || deluser "$NAME" 2>/dev/null || true; fi
}
if [ -z "$UPGRADE" ]; then
  trap 'status=$?; rm -rf "$TMP"; if [ $status != 0 ]; then say "install failed: rolling back"; rollback; fi' EXIT
fi

if ! id "$NAME" >/dev/null 2>&1; then
  if command -v useradd >/dev/null 2>&1; then
    useradd --system --home-dir "$HOME_DIR" --no-create-home --shell /usr/sbin/nologin "$NAME"
  elif command -v adduser >/dev/null 2>&1; then
    adduser -S -D -H -h "$HOME_DIR" -s /sbin/nologin "$NAME"
  else
    die "cannot create the user $NAME: this host has neither useradd nor adduser"
  fi
  CREATED_USER=1
fi
GROUP=$(id -gn "$NAME")

install -d -m 755 "$PREFIX"
rm -rf "$PREFIX/$VERSION.new"
mv "$TMP/unpacked/package" "$PREFIX/$VERSION.new"
rm -rf "${PREFIX:?}/$VERSION"
mv "$PREFIX/$VERSION.new" "$PREFIX/$VERSION"
ln -sfn "$VERSION" "$PREFIX/current"
if [ -n "$INSTALLED" ] && [ "$INSTALLED" != "$VERSION" ]; then rm -rf "${PREFIX:?}/$INSTALLED"; fi

install -d -m 700 -o "$NAME" -g "$GROUP" "$CONF" "$HOME_DIR" "$CACHE_DIR"
[ -n "$UPGRADE" ] || install -m 600 -o "$NAME" -g "$GROUP" "$TMP/cluster.key" "$CONF/cluster.key"

# systemd reads it as root before it starts the agent.
(
  umask 077
  cat >"$CONF/agent.env" <<EOF
# The picompute agent's environment (systemd EnvironmentFile=), written by the installer.
PICOMPUTE_KEY_FILE=$CONF/cluster.key
HOME=$HOME_DIR
XDG_CACHE_HOME=/var/cache
# glibc keeps a malloc arena per worker thread that ever ran; two are plenty.
MALLOC_ARENA_MAX=2
EOF
)
chmod 600 "$CONF/agent.env"

EXEC="$NODE $PREFIX/current/bin/picompute.mjs agent --coordinator $COORDINATOR"
install -d -m 755 "$(dirname "$UNIT")" "$(dirname "$LINK")"
cat >"$UNIT" <<EOF
# picompute agent, installed from $BASE_URL; uninstall: sudo $PREFIX/uninstall.sh
[Unit]
Description=picompute agent (runs batch tasks for the cluster at $COORDINATOR)
After=network-online.target
Wants=network-online.target

[Service]
User=$NAME
Group=$GROUP
EnvironmentFile=$CONF/agent.env
WorkingDirectory=$HOME_DIR
ExecStart=$EXEC
Restart=always
RestartSec=2
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths=$HOME_DIR $CACHE_DIR
ProtectHome=yes
PrivateTmp=yes

[Install]
WantedBy=multi-user.target
EOF
chmod 644 "$UNIT"

cat >"$LINK" <<EOF
#!/bin/sh
exec $NODE $PREFIX/current/bin/picompute.mjs "\$@"
EOF
chmod 755 "$LINK"

cat >"$PREFIX/uninstall.sh" <<EOF
#!/bin/sh
# Removes what the picompute installer made on this host.
set -eu
[ "\$(id -u)" = 0 ] || { echo 'run it as root: sudo $PREFIX/uninstall.sh' >&2; exit 1; }
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now picompute-agent 2>/dev/null || true
fi
rm -rf "$UNIT" "$LINK" "$CONF" "$HOME_DIR" "$CACHE_DIR" "$PREFIX"
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then systemctl daemon-reload; fi
if id $NAME >/dev/null 2>&1; then userdel $NAME 2>/dev/null || deluser $NAME 2>/dev/null || true; fi
echo 'picompute removed from this host'
EOF
chmod 755 "$PREFIX/uninstall.sh"

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl daemon-reload
  if [ -n "$UPGRADE" ]; then systemctl restart picompute-agent; else systemctl enable --now picompute-agent; fi
  say "picompute $VERSION ($ARCH) installed and started: systemctl status picompute-agent; uninstall: $PREFIX/uninstall.sh"
else
  say "picompute $VERSION ($ARCH) installed. systemd is not running on this host, so $UNIT is written but not started: start the agent as it would, as user $NAME with the environment in $CONF/agent.env: $EXEC"
fi

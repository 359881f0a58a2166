#!/usr/bin/env bash
# Let this x86_64 machine run aarch64 binaries, in containers too: QEMU 10's
# static qemu-aarch64 (from Debian 13's qemu-user package; Debian 12's QEMU 7.2
# cannot run systemd 257 or Erlang) registered in binfmt_misc with flags FPC
# (F: the kernel opens the interpreter now, so it works inside containers).
# Idempotent; needs root and Debian's mirrors.
set -euo pipefail

MIRROR="${TESTBED_MIRROR:-http://deb.debian.org/debian}"
QEMU=/usr/local/lib/rabbitmq-kit/qemu-aarch64
BINFMT=/proc/sys/fs/binfmt_misc
# The aarch64 ELF magic and mask, as in QEMU's scripts/qemu-binfmt-conf.sh.
MAGIC='\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00'
MASK='\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff'

log() { printf '[qemu %(%H:%M:%S)T] %s\n' -1 "$*"; }

[ -e "$BINFMT/register" ] || mount -t binfmt_misc binfmt_misc "$BINFMT"

if [ ! -x "$QEMU" ]; then
  log "fetching qemu-user from Debian 13 (trixie)"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
  echo "deb $MIRROR trixie main" >"$work/sources.list"
  apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o APT::Get::List-Cleanup=0
    -o APT::Sandbox::User=root)
  apt-get "${apt_opts[@]}" update -qq
  (cd "$work" && apt-get "${apt_opts[@]}" download -qq qemu-user)
  dpkg-deb -x "$work"/qemu-user_*.deb "$work/root"
  install -D -m 0755 "$work/root/usr/bin/qemu-aarch64" "$QEMU"
fi

entry="$BINFMT/qemu-aarch64"
if [ -e "$entry" ] && grep -q "interpreter $QEMU" "$entry" && grep -q "^flags: .*F" "$entry"; then
  log "qemu-aarch64 already registered ($("$QEMU" --version | head -n 1))"
  exit 0
fi
[ -e "$entry" ] && echo -1 >"$entry"
printf '%s' ":qemu-aarch64:M::$MAGIC:$MASK:$QEMU:FPC" >"$BINFMT/register"
log "registered $QEMU ($("$QEMU" --version | head -n 1)) for aarch64, flags FPC"

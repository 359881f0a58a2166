#!/usr/bin/env bash
# Install the Debian packages a test step needs, when any is missing, so
# `sudo make test` runs on a fresh Debian machine. Nothing is done when all are
# present (no root needed then).
#
#   testbed/packages.sh PACKAGE ...
#
# Services a package ships are not started at install time (policy-rc.d): the
# worker tests start their own RabbitMQ nodes from the rabbitmq-server package.
set -euo pipefail

log() { printf '[packages %(%H:%M:%S)T] %s\n' -1 "$*"; }
die() { printf '[packages] ERROR: %s\n' "$*" >&2; exit 1; }

missing=()
for package in "$@"; do
  dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q 'ok installed' || missing+=("$package")
done
[ ${#missing[@]} -gt 0 ] || exit 0

command -v apt-get >/dev/null || die "${missing[*]} missing, and this machine has no apt: install them yourself"
[ "$(id -u)" -eq 0 ] || die "${missing[*]} missing: run as root (sudo make test) to install them"

policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  trap 'rm -f "$policy"' EXIT
fi
log "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

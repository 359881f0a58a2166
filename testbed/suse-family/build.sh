#!/usr/bin/env bash
# Build the SUSE-family test host (a Debian 13 systemd container that behaves,
# for the kit's Ansible SUSE branch, like SLES 15 SP6: os_family Suse, zypper,
# rpm, signed rpm-md repositories) and the repository server it installs from:
#
#   rabbitmq-kit/suse-family:sles15sp6   the host (CMD /lib/systemd/systemd)
#   rabbitmq-kit/suse-repo:latest        python3 -m http.server 80 on /srv/repo
#
#   testbed/suse-family/build.sh         (testbed/prepare.sh suse-family calls it)
#
# Idempotent: each image carries the label kit.inputs-hash (this directory's
# build inputs and the base image) and the test keys' fingerprints; an image
# whose labels match is not rebuilt. The test keys, the downloaded .debs and a
# builder image are kept under $WORKDIR, so a rebuild reuses them. Needs root, a
# running dockerd, rabbitmq-kit/systemd:debian13, and Debian's package mirrors.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
WORKDIR="${TESTBED_WORKDIR:-/var/tmp/rabbitmq-kit-testbed}/suse-family"
BASE=rabbitmq-kit/systemd:debian13
BUILDER=rabbitmq-kit/suse-family-builder:latest
HOST_IMAGE=rabbitmq-kit/suse-family:sles15sp6
REPO_IMAGE=rabbitmq-kit/suse-repo:latest

log() { printf '[suse-family %(%H:%M:%S)T] %s\n' -1 "$*"; }
die() { printf '[suse-family] ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root"
docker info >/dev/null 2>&1 || die "dockerd is not running (testbed/prepare.sh starts it)"
docker image inspect "$BASE" >/dev/null 2>&1 || die "$BASE is missing (testbed/prepare.sh debian13 builds it)"
start=$SECONDS

# docker build, quiet; its output is shown only when it fails.
dbuild() {
  local out
  out=$(docker build -q "$@" 2>&1) || { printf '%s\n' "$out" >&2; die "docker build $* failed"; }
}

label() { docker image inspect -f "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true; }

# The inputs: every file here except the docs and the self-test, and the base image.
inputs_hash() {
  {
    docker image inspect -f '{{.Id}}' "$BASE"
    cd "$HERE" && find . -type f ! -name README.md ! -name selftest.sh -print0 | LC_ALL=C sort -z |
      xargs -0 sha256sum
  } | sha256sum | cut -c1-16
}
HASH=$(inputs_hash)

# Up to date: both images carry this hash and the fingerprints of the kept keys.
if [ -s "$WORKDIR/keys/suse.fpr" ] && [ -s "$WORKDIR/keys/rabbitmq.fpr" ]; then
  suse_fpr=$(cat "$WORKDIR/keys/suse.fpr") rmq_fpr=$(cat "$WORKDIR/keys/rabbitmq.fpr")
  fresh=1
  for image in "$HOST_IMAGE" "$REPO_IMAGE"; do
    [ "$(label "$image" kit.inputs-hash)" = "$HASH" ] &&
      [ "$(label "$image" kit.suse-key-fingerprint)" = "$suse_fpr" ] &&
      [ "$(label "$image" kit.rabbitmq-key-fingerprint)" = "$rmq_fpr" ] || fresh=0
  done
  if [ "$fresh" = 1 ]; then
    log "$HOST_IMAGE and $REPO_IMAGE are up to date (inputs $HASH)"
    exit 0
  fi
fi

mkdir -p "$WORKDIR"
# The builder: Debian 13 with rpmbuild, createrepo_c and gpg, kept as an image.
builder_hash=$(sha256sum "$HERE/builder/Dockerfile" | cut -c1-16)
if [ "$(label "$BUILDER" kit.inputs-hash)" != "$builder_hash" ]; then
  log "building $BUILDER (rpm, createrepo_c, gpg)"
  dbuild -t "$BUILDER" --label "kit.inputs-hash=$builder_hash" "$HERE/builder"
fi

log "building and signing the RPMs (Debian payloads; logs in $WORKDIR/rpmbuild)"
docker run --rm --network bridge -v "$HERE:/kit:ro" -v "$WORKDIR:/work" "$BUILDER" \
  bash /kit/builder/build-rpms.sh
# shellcheck source=/dev/null
. "$WORKDIR/out/versions.env"

# The release RPMs' sha256 (the kit's upstream_rpm mode requires checksums; GitHub
# publishes none, and every build signs anew, so they are read from these labels).
gh=$WORKDIR/out/repo/github/rabbitmq
erlang_sha=$(sha256sum "$gh/erlang-rpm/releases/download/v$ERLVER/erlang-$ERLVER-1.el8.x86_64.rpm" | cut -d' ' -f1)
rabbitmq_sha=$(sha256sum "$gh/rabbitmq-server/releases/download/v$RMQVER/rabbitmq-server-$RMQVER-1.el8.noarch.rpm" | cut -d' ' -f1)
labels=(--label "kit.inputs-hash=$HASH" --label "kit.suse-key-fingerprint=$SUSE_FPR"
  --label "kit.erlang-rpm-sha256=$erlang_sha" --label "kit.rabbitmq-server-rpm-sha256=$rabbitmq_sha"
  --label "kit.rabbitmq-key-fingerprint=$RMQ_FPR" --label "kit.testbed=suse-family"
  --label "kit.payload-versions=rabbitmq-$RMQVER erlang-$ERLVER python-$PYVER")

log "building $REPO_IMAGE"
cp "$HERE/repo/Dockerfile" "$WORKDIR/out/Dockerfile"
dbuild -t "$REPO_IMAGE" "${labels[@]}" "$WORKDIR/out"

log "building $HOST_IMAGE (Debian layer: zypper, rpm, curl, wget, gpg, socat, logrotate, firewalld, ...)"
ctx=$WORKDIR/host-context
rm -rf "$ctx"
cp -a "$HERE/host" "$ctx"
cp "$WORKDIR/keys/suse.asc" "$ctx/suse-build-key-stand-in.asc"
cp "$WORKDIR/out/host/kit-testbed-base-system.rpm" "$ctx/"
dbuild -t "$HOST_IMAGE" "${labels[@]}" "$ctx"
rm -rf "$ctx"

log "built $HOST_IMAGE and $REPO_IMAGE in $((SECONDS - start)) s (RabbitMQ $RMQVER, Erlang $ERLVER, Python $PYVER)"
log "SUSE stand-in key $SUSE_FPR, Team RabbitMQ stand-in key $RMQ_FPR"

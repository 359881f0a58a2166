#!/usr/bin/env bash
# Run a command in a stand-in for a FRESH Debian 12 machine, to check that the
# kit's entry points (./lab up first of all) install everything they need.
#
#   testbed/fresh-machine.sh [COMMAND ...]    default: ./lab up && ./lab demo && ./lab down
#
# What it is: a container on THIS machine from rabbitmq-kit/systemd:debian12 (a
# debootstrap minbase Debian 12 with python3, systemd, sudo and ca-certificates;
# no make, docker.io, debootstrap, python3-venv, venv or test images), holding the
# committed tree of this checkout (git archive HEAD) in /root/rabbitmq-kit, where
# COMMAND runs as root. It gets this machine's package sources: the apt sources,
# the apt.conf.d settings without hooks, the local CA certificates (the egress
# proxy's), the pip configuration, PIP_* and /opt/wheels, /opt/pypi*. Its dockerd
# (started by the kit) keeps /var/lib/docker on a docker volume (overlay on
# overlay fails).
#
# What it is not: a fresh VM. It shares this machine's kernel, its modules and
# its cgroup hierarchy (--cgroupns=host, as testbed/systemd-host does: here that
# is cgroup v1), and systemd is not PID 1 in it (nothing is booted; `sleep`
# is). It is not --privileged, which fails here for the missing CAP_SYS_RESOURCE
# (../shared/testbed.md): every other capability, no seccomp/AppArmor
# confinement, unmasked /proc and /sys.
#
# Everything it creates is named freshproof-<pid> and removed on exit. Needs root
# and a running dockerd; builds the debian12 image with testbed/prepare.sh if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=rabbitmq-kit/systemd:debian12
NAME=freshproof-$$
VOLUME=$NAME-docker
DIR=/root/rabbitmq-kit

log() { printf '[fresh-machine %(%H:%M:%S)T] %s\n' -1 "$*"; }

[ $# -gt 0 ] || set -- './lab up && ./lab demo && ./lab down'
[ "$(id -u)" -eq 0 ] || { echo "run as root" >&2; exit 1; }
docker image inspect "$IMAGE" >/dev/null 2>&1 || testbed/prepare.sh debian12

# shellcheck disable=SC2317  # shellcheck 0.9 does not see that the trap calls it
cleanup() {
  local rc=$?
  log "removing $NAME and its volume"
  # The nested containers' cgroups live in this machine's hierarchy: let the
  # nested dockerd remove its containers first, when it runs.
  docker exec "$NAME" sh -c 'docker ps -aq 2>/dev/null | xargs -r docker rm -f -v' >/dev/null 2>&1 || true
  docker rm -f -v "$NAME" >/dev/null 2>&1 || true
  docker volume rm "$VOLUME" >/dev/null 2>&1 || true
  exit "$rc"
}
trap cleanup EXIT

# This machine's pip configuration and local indexes, read-only, where they exist.
mounts=()
for path in /etc/pip.conf /etc/xdg/pip /root/.config/pip /opt/wheels /opt/pypi /opt/pypi-more; do
  [ ! -e "$path" ] || mounts+=(-v "$path:$path:ro")
done
envs=()
while read -r var; do envs+=(-e "$var"); done < <(compgen -e | grep '^PIP_' || true)

docker volume create "$VOLUME" >/dev/null
docker run -d --init --name "$NAME" --hostname "$NAME" \
  --cap-add ALL --cap-drop SYS_RESOURCE \
  --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
  --security-opt systempaths=unconfined \
  --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
  -v "$VOLUME:/var/lib/docker" \
  "${mounts[@]}" "${envs[@]}" \
  "$IMAGE" sleep infinity >/dev/null

# Package sources: apt's sources replace the image's, and the package lists
# debootstrap left go (a fresh machine has none until `apt-get update`);
# apt.conf.d files without hooks (Invoke) only: hooks call programs it lacks.
files=()
for path in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
  /etc/apt/apt.conf.d/* /usr/local/share/ca-certificates/*; do
  [ -f "$path" ] || continue
  case $path in /etc/apt/apt.conf.d/*) ! grep -q Invoke "$path" || continue ;; esac
  files+=("${path#/}")
done
docker exec "$NAME" sh -c 'rm -rf /etc/apt/sources.list /var/lib/apt/lists/*'
tar -C / -c "${files[@]}" | docker exec -i "$NAME" tar -x -C /
docker exec "$NAME" update-ca-certificates >/dev/null 2>&1 || { echo "update-ca-certificates failed in $NAME" >&2; exit 1; }

docker exec "$NAME" mkdir -p "$DIR"
git archive HEAD | docker exec -i "$NAME" tar -x -C "$DIR"
log "$NAME: $(docker exec "$NAME" sh -c '. /etc/os-release; echo "$PRETTY_NAME"'), $(git rev-parse --short HEAD) in $DIR"

tty=()
[ ! -t 1 ] || tty=(-t)
log "running: $*"
start=$SECONDS
rc=0
docker exec "${tty[@]}" -w "$DIR" "$NAME" bash -c "$*" || rc=$?
log "exit status $rc after $((SECONDS - start)) s"
exit "$rc"

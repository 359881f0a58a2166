#!/usr/bin/env bash
# Prepare this machine as a test bed: a running docker daemon and systemd base
# images built without any container registry (debootstrap + docker import).
#
#   testbed/prepare.sh [IMAGE ...]     IMAGE: debian13 (default set: debian13 debian12), debian12, debian13-arm64,
#                                      suse-family (the SUSE-family test host and its repository; testbed/suse-family/)
#
# Safe to run again: packages already present, a running daemon and images
# that already exist are left alone. Needs root and Debian's package mirrors.
set -euo pipefail

MIRROR="${TESTBED_MIRROR:-http://deb.debian.org/debian}"
INCLUDE="systemd,systemd-sysv,dbus,python3,python3-apt,sudo,ca-certificates,iproute2,procps"
WORKDIR="${TESTBED_WORKDIR:-/var/tmp/rabbitmq-kit-testbed}"

log() { printf '[testbed %(%H:%M:%S)T] %s\n' -1 "$*"; }
die() { printf '[testbed] ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (it installs packages, starts dockerd and runs debootstrap)"

need_pkgs=()
command -v dockerd >/dev/null || need_pkgs+=(docker.io)
command -v debootstrap >/dev/null || need_pkgs+=(debootstrap)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing ${need_pkgs[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  log "starting dockerd"
  nohup dockerd >/var/log/dockerd.log 2>&1 &
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || die "dockerd did not come up within 60 s; see /var/log/dockerd.log"
fi

# image name -> "suite arch"
declare -A SPEC=(
  [debian13]="trixie amd64"
  [debian12]="bookworm amd64"
  [debian13-arm64]="trixie arm64"
)

build() {
  local key=$1 suite arch tag root
  read -r suite arch <<<"${SPEC[$key]:?unknown image $key (known: ${!SPEC[*]})}"
  tag="rabbitmq-kit/systemd:${key}"
  if docker image inspect "$tag" >/dev/null 2>&1; then
    log "$tag already exists"
    return
  fi
  if [ "$arch" != amd64 ]; then
    "$(dirname "$0")/qemu-aarch64.sh"
  fi
  root="$WORKDIR/$key"
  rm -rf "$root"
  mkdir -p "$root"
  log "debootstrap $suite/$arch into $root (minutes; more under emulation)"
  local start=$SECONDS
  debootstrap --arch="$arch" --variant=minbase --include="$INCLUDE" "$suite" "$root" "$MIRROR" \
    >"$WORKDIR/$key.log" 2>&1 || die "debootstrap failed; see $WORKDIR/$key.log"
  # A test-host image: make apt quiet and small, never start services at install
  # time from policy-rc.d (systemd is PID 1 in the container, so units start normally).
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$root/etc/apt/apt.conf.d/90testbed"
  if [ "$arch" != amd64 ]; then
    # Under qemu-user, journald cannot import credentials (243/CREDENTIALS).
    # This fix is for the emulated test image only, never for real hosts.
    mkdir -p "$root/etc/systemd/system/systemd-journald.service.d"
    printf '[Service]\nImportCredential=\n' >"$root/etc/systemd/system/systemd-journald.service.d/emulation.conf"
  fi
  rm -rf "$root/var/cache/apt/archives/"*.deb
  tar -C "$root" -c . | docker import -c 'CMD ["/lib/systemd/systemd"]' - "$tag" >/dev/null
  rm -rf "$root"
  log "built $tag in $((SECONDS - start)) s"
}

images=("$@")
[ ${#images[@]} -gt 0 ] || images=(debian13 debian12)
for image in "${images[@]}"; do
  case $image in
    suse-family) build debian13 && "$(dirname "$0")/suse-family/build.sh" ;;
    *) build "$image" ;;
  esac
done

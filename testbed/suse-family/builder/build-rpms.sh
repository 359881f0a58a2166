#!/usr/bin/env bash
# Runs inside the builder container (see build.sh): /kit is testbed/suse-family
# (read-only), /work the work dir (kept between builds). Makes the two test keys
# (once), fetches the Debian .debs (cached), builds and signs every RPM, and
# lays out the repository tree in /work/out/repo, served as http://suse-repo/.
set -euo pipefail

MIRROR="${TESTBED_MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${TESTBED_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
W=/work
OUT=$W/out/repo

log() { printf '[suse-family builder %(%H:%M:%S)T] %s\n' -1 "$*"; }

# ---------------------------------------------------------------- test keys
# RSA 4096, no passphrase, never expiring; each in its own GnuPG home under
# /work/keys so rebuilds reuse them. The names say what they are.
make_key() { # NAME "USER ID"
  local home=$W/keys/$1
  mkdir -p "$home"; chmod 700 "$home"
  if ! gpg --homedir "$home" --batch --list-secret-keys 2>/dev/null | grep -q '^sec'; then
    log "generating test key $1: $2"
    gpg --homedir "$home" --batch --passphrase '' --quick-gen-key "$2" rsa4096 sign never 2>/dev/null
  fi
  gpg --homedir "$home" --batch --with-colons --list-secret-keys 2>/dev/null | awk -F: '/^fpr:/ {print $10; exit}' >"$W/keys/$1.fpr"
  gpg --homedir "$home" --batch --armor --export "$(cat "$W/keys/$1.fpr")" 2>/dev/null >"$W/keys/$1.asc"
}
make_key suse "Kit test key: SUSE build key stand-in (NOT SUSE, test only) <suse-stand-in@kit-testbed.invalid>"
make_key rabbitmq "Kit test key: Team RabbitMQ signing key stand-in (NOT Team RabbitMQ, test only) <rabbitmq-stand-in@kit-testbed.invalid>"
SUSE_FPR=$(cat $W/keys/suse.fpr)
RMQ_FPR=$(cat $W/keys/rabbitmq.fpr)

# ---------------------------------------------------------------- Debian .debs
# One apt state per suite, in the work dir (the technique of testbed/qemu-aarch64.sh):
# bookworm's Python 3.11 is fetched inside this trixie container without
# touching the container's own apt configuration.
fetch_debs() { # SUITE SOURCES-LINES PACKAGE...
  local suite=$1 lines=$2; shift 2
  local a=$W/apt/$suite
  mkdir -p "$a/lists/partial" "$a/cache/archives/partial" "$W/debs/$suite"
  printf '%s\n' "$lines" >"$a/sources.list"
  local opts=(-o "Dir::Etc::SourceList=$a/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$a/lists" -o "Dir::Cache=$a/cache" -o APT::Get::List-Cleanup=0
    -o APT::Sandbox::User=root -o Dir::State::status=/var/lib/dpkg/status)
  apt-get "${opts[@]}" update -qq
  # Download only what is not cached yet (a newer Debian revision is fetched).
  local want=() p v f
  for p in "$@"; do
    v=$(apt-cache "${opts[@]}" policy "$p" | awk '/Candidate:/ {print $2}')
    if [ -z "$v" ] || [ "$v" = "(none)" ]; then echo "no candidate for $p in $suite" >&2; exit 1; fi
    f=$(find "$W/debs/$suite" -maxdepth 1 -name "${p}_*.deb" | head -n 1)
    if [ -z "$f" ] || [ "$(dpkg-deb -f "$f" Version)" != "$v" ]; then
      rm -f "$W/debs/$suite/${p}_"*.deb
      want+=("$p")
    fi
  done
  if [ ${#want[@]} -gt 0 ]; then
    log "downloading ${#want[@]} .debs from $suite"
    (cd "$W/debs/$suite" && apt-get "${opts[@]}" download -qq "${want[@]}" 2>&1) | { grep -v unsandboxed || true; }
  fi
  for p in "$@"; do ls "$W/debs/$suite/${p}_"*.deb >/dev/null || { echo "missing $p" >&2; exit 1; }; done
}
ERLANG_DEBS=(erlang-base erlang-asn1 erlang-crypto erlang-public-key erlang-mnesia erlang-runtime-tools
  erlang-ssl erlang-eldap erlang-inets erlang-os-mon erlang-parsetools erlang-syntax-tools erlang-tools erlang-xmerl)
fetch_debs trixie "deb $MIRROR trixie main
deb $MIRROR trixie-updates main
deb $SECURITY_MIRROR trixie-security main" "${ERLANG_DEBS[@]}" rabbitmq-server
PY_DEBS=(python3.11 python3.11-minimal libpython3.11-minimal libpython3.11-stdlib python3.11-venv
  python3-pip-whl python3-setuptools-whl)
REQ_DEBS=(python3-requests python3-urllib3 python3-idna python3-certifi python3-charset-normalizer
  python3-chardet python3-six)
fetch_debs bookworm "deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb $SECURITY_MIRROR bookworm-security main" "${PY_DEBS[@]}" "${REQ_DEBS[@]}"

deb() { ls "$W/debs/$1/${2}_"*.deb; }
upstream_version() { # Debian version -> upstream part: 1:27.3.4.1+dfsg-1+deb13u4 -> 27.3.4.1
  dpkg-deb -f "$1" Version | sed -E 's/^[0-9]+://; s/[-+~].*$//'
}
ERLVER=$(upstream_version "$(deb trixie erlang-base)")
RMQVER=$(upstream_version "$(deb trixie rabbitmq-server)")
PYVER=$(upstream_version "$(deb bookworm python3.11)")
REQVER=$(upstream_version "$(deb bookworm python3-requests)")
PIPVER=$(upstream_version "$(deb bookworm python3-pip-whl)")
log "payload versions: Erlang $ERLVER, RabbitMQ $RMQVER, Python $PYVER (pip $PIPVER, requests $REQVER)"

# ---------------------------------------------------------------- stages
S=$W/stage
rm -rf "$S" "$W/rpmbuild" "$W/out"
mkdir -p "$S"
x() { dpkg-deb -x "$1" "$2"; }

# Erlang: the union of the erlang-* payloads.
mkdir -p "$S/erlang-all"
for p in "${ERLANG_DEBS[@]}"; do x "$(deb trixie "$p")" "$S/erlang-all"; done
ERTS=$(cd "$S/erlang-all/usr/lib/erlang" && ls -d erts-*)
# Team RabbitMQ shape: /usr/lib/erlang and the six /usr/bin links of erlang.spec
# (%files: epmd, erl, erlc, escript, run_erl, to_erl); no systemd units, no Debian docs.
mkdir -p "$S/erlang/usr/bin" "$S/erlang/usr/lib"
cp -a "$S/erlang-all/usr/lib/erlang" "$S/erlang/usr/lib/"
for b in epmd erl erlc escript run_erl to_erl; do ln -s ../lib/erlang/bin/$b "$S/erlang/usr/bin/$b"; done
# SUSE shape: the same tree, epmd split into erlang26-epmd (openSUSE erlang.spec %files epmd).
cp -a "$S/erlang" "$S/erlang26"
mkdir -p "$S/erlang26-epmd/usr/bin" "$S/erlang26-epmd/usr/lib/erlang/bin" "$S/erlang26-epmd/usr/lib/erlang/$ERTS/bin"
mv "$S/erlang26/usr/bin/epmd" "$S/erlang26-epmd/usr/bin/"
mv "$S/erlang26/usr/lib/erlang/bin/epmd" "$S/erlang26-epmd/usr/lib/erlang/bin/"
mv "$S/erlang26/usr/lib/erlang/$ERTS/bin/epmd" "$S/erlang26-epmd/usr/lib/erlang/$ERTS/bin/"

# RabbitMQ: Debian's payload without Debian's packaging around it (init script,
# /etc/default, Debian's unit and logrotate, its own wrapper, OCF agent, the
# python3 rabbitmqadmin). The upstream wrapper script is kept aside: both RPM
# specs install it as the /usr/sbin CLIs.
mkdir -p "$S/rmq-all"
x "$(deb trixie rabbitmq-server)" "$S/rmq-all"
cp "$S/rmq-all/usr/sbin/rabbitmq-diagnostics" "$S/rabbitmq-script-wrapper"
grep -q '@RABBITMQ_USER@' "$S/rabbitmq-script-wrapper" || { echo "unexpected wrapper in Debian's payload" >&2; exit 1; }
rm -rf "$S/rmq-all/etc" "$S/rmq-all/usr/sbin" "$S/rmq-all/usr/bin" "$S/rmq-all/usr/lib/ocf" \
  "$S/rmq-all/usr/lib/systemd" "$S/rmq-all/usr/share/rabbitmq" "$S/rmq-all/usr/share/doc/rabbitmq-server/README.Debian.gz" \
  "$S/rmq-all/usr/lib/rabbitmq/bin/rabbitmq-script-wrapper" "$S/rmq-all/usr/lib/rabbitmq/bin/rabbitmq-server-wait"
mv "$S/rmq-all" "$S/rabbitmq-server"
# With any /etc/rabbitmq/rabbitmq-env.conf (SUSE's package ships one; the kit
# writes one on every platform), the 4.0.5 CLI of this payload, on Erlang 27,
# passes a wrong default plugins directory (.../escript/rabbitmq-plugins) to the
# file's shell and then adopts it, so rabbitmq-plugins fails with
# :plugins_dir_does_not_exist (rabbit_common src/rabbit_env.erl,
# do_load_conf_env_file: PLUGINS_DIR from get_default_plugins_path_from_env).
# Debian's own wrapper sets PLUGINS_DIR for that reason (its
# rabbitmq-script-wrapper L33-34); SUSE's 3.13 package on Erlang 26 works with
# its file. Both shapes get the directory here, so that they model their real
# packages rather than this payload's quirk (README: "Modelled differently").
# shellcheck disable=SC2016 # ${RABBITMQ_HOME} is for rabbitmq-defaults to expand
printf '\n# kit test bed: the plugins directory, see testbed/suse-family/README.md\nPLUGINS_DIR="${RABBITMQ_HOME}/plugins"\n' \
  >>"$S/rabbitmq-server/usr/lib/rabbitmq/lib/rabbitmq_server-$RMQVER/sbin/rabbitmq-defaults"
# SUSE shape: plugins/rabbitmq_* go to -plugins (openSUSE rabbitmq-server.spec).
RMQLIB=usr/lib/rabbitmq/lib/rabbitmq_server-$RMQVER
cp -a "$S/rabbitmq-server" "$S/rabbitmq-server313"
mkdir -p "$S/rabbitmq-server313-plugins/$RMQLIB/plugins"
mv "$S/rabbitmq-server313/$RMQLIB/plugins/"rabbitmq_* "$S/rabbitmq-server313-plugins/$RMQLIB/plugins/"
# Python 3.11 from bookworm.
mkdir -p "$S/python311"
for p in "${PY_DEBS[@]}"; do x "$(deb bookworm "$p")" "$S/python311"; done
# (Debian's /etc/python3.11/sitecustomize.py, an apport hook, has no SUSE counterpart.)
rm -rf "$S/python311/etc" "$S/python311/usr/lib/python3.11/sitecustomize.py" "$S/python311/usr/share/doc" "$S/python311/usr/share/lintian" "$S/python311/usr/share/man" \
  "$S/python311/usr/share/binfmts" "$S/python311/usr/share/applications" "$S/python311/usr/share/pixmaps"
# Its own site directory instead of Debian's shared /usr/lib/python3/dist-packages,
# which on this host belongs to Debian's Python 3.13 (see python311-sitecustomize.py).
install -m 0644 /kit/builder/python311-sitecustomize.py "$S/python311/usr/lib/python3.11/sitecustomize.py"
mkdir -p "$S/python311/usr/lib/python3.11/site-packages"
# pip from Debian's pip wheel (the one ensurepip installs), as python311-pip.
mkdir -p "$S/python311-pip/usr/lib/python3.11/site-packages" "$S/python311-pip/usr/bin"
python3 -m zipfile -e "$S/python311/usr/share/python-wheels/pip-$PIPVER-py3-none-any.whl" \
  "$S/python311-pip/usr/lib/python3.11/site-packages/"
cat >"$S/python311-pip/usr/bin/pip3.11" <<'EOF'
#!/usr/bin/python3.11
import re
import sys
from pip._internal.cli.main import main
if __name__ == "__main__":
    sys.argv[0] = re.sub(r"(-script\.pyw|\.exe)?$", "", sys.argv[0])
    sys.exit(main())
EOF
chmod 0755 "$S/python311-pip/usr/bin/pip3.11"
# requests and its dependencies, moved from dist-packages to python3.11's site-packages.
mkdir -p "$S/req-all" "$S/python311-requests/usr/lib/python3.11/site-packages"
for p in "${REQ_DEBS[@]}"; do x "$(deb bookworm "$p")" "$S/req-all"; done
cp -a "$S/req-all/usr/lib/python3/dist-packages/." "$S/python311-requests/usr/lib/python3.11/site-packages/"

# ---------------------------------------------------------------- rpmbuild
mkdir -p "$W/rpmbuild"/{BUILD,RPMS,SRPMS,SPECS,SOURCES}
cp /kit/builder/rpmmacros /root/.rpmmacros
rb() { # SPEC DEFINES...
  local spec=$1; shift
  rpmbuild -bb --quiet --nodeps "$@" "/kit/specs/$spec" >"$W/rpmbuild/$spec.log" 2>&1 \
    || { tail -n 40 "$W/rpmbuild/$spec.log" >&2; echo "rpmbuild $spec failed; log: $W/rpmbuild/$spec.log" >&2; exit 1; }
}
log "rpmbuild: Team-RabbitMQ-shaped erlang and rabbitmq-server"
rb erlang.upstream.spec --define "erlver $ERLVER" --define "stage $S/erlang" &
rb rabbitmq-server.upstream.spec --define "rmqver $RMQVER" --define "stage $S/rabbitmq-server" \
  --define "stage_wrapper $S/rabbitmq-script-wrapper" &
log "rpmbuild: SLE-shaped erlang26, rabbitmq-server313, python311"
rb erlang26.sle.spec --define "erlver $ERLVER" --define "stage $S/erlang26" --define "stage_epmd $S/erlang26-epmd" &
rb rabbitmq-server313.sle.spec --define "rmqver $RMQVER" --define "stage $S/rabbitmq-server313" \
  --define "stage_plugins $S/rabbitmq-server313-plugins" --define "stage_wrapper $S/rabbitmq-script-wrapper" &
rb python311.sle.spec --define "pyver $PYVER" --define "pipver $PIPVER" --define "requestsver $REQVER" \
  --define "stage $S/python311" --define "stage_pip $S/python311-pip" --define "stage_requests $S/python311-requests" &
wait_all() { local rc=0 j; for j in $(jobs -p); do wait "$j" || rc=1; done; return $rc; }
wait_all || exit 1

log "rpmbuild: name-only packages"
trixie_version() { apt-cache -o "Dir::State::Lists=$W/apt/trixie/lists" -o Dir::Etc::SourceParts=/dev/null \
  -o "Dir::Etc::SourceList=$W/apt/trixie/sources.list" policy "$1" | awk '/Candidate:/ {print $2}' | sed -E 's/^[0-9]+://; s/[-+~].*$//'; }
nameonly() { # SLE-NAME DEBIAN-NAME NOTE [PROVIDES]
  local args=(--define "pkgname $1" --define "pkgversion $(trixie_version "$2")" --define "pkgnote $3")
  [ -n "${4:-}" ] && args+=(--define "pkgprovides $4")
  rb nameonly.sle.spec "${args[@]}"
}
for p in curl wget tar socat logrotate firewalld; do
  nameonly "$p" "$p" "The program is Debian 13's $p, preinstalled in the host image." &
done
nameonly gpg2 gpg "The program is Debian 13's gpg, preinstalled in the host image. Provides: gnupg (as SLES's gpg2 does)." gnupg &
nameonly python3-pip python3-pip "Stands for SLES 15's pip for its python3 (3.6), which ansible-core cannot use; it installs nothing. Use python311-pip." &
rb base-system.host.spec &
wait_all || exit 1

# ---------------------------------------------------------------- signing
# rpmsign --addsign with each key (RPM v4 header signatures).
sign() { # KEY RPM...
  local key=$1; shift
  rpmsign --addsign --define "_gpg_path $W/keys/$key" --define "_gpg_name $(cat "$W/keys/$key.fpr")" \
    --define '__gpg /usr/bin/gpg' "$@" 2>&1 >/dev/null | grep -v 'Could not set GPG_TTY' >&2 || true
  local bad
  bad=$(rpm -K "$@" 2>&1 | grep -v ': digests signatures OK$' || true)
  [ -z "$bad" ] || { printf '%s\n' "$bad" >&2; echo "signature check failed" >&2; exit 1; }
}
# The builder's own rpm database trusts both keys, to check the signatures.
rpmkeys --import "$W/keys/suse.asc" "$W/keys/rabbitmq.asc"
R=$W/rpmbuild/RPMS
UP_ERLANG=$R/x86_64/erlang-$ERLVER-1.el8.x86_64.rpm
UP_RMQ=$R/noarch/rabbitmq-server-$RMQVER-1.el8.noarch.rpm
sign rabbitmq "$UP_ERLANG" "$UP_RMQ"
SLE_BASE=()
for f in "$R"/*/erlang26-*.rpm "$R"/*/rabbitmq-server313-*.rpm "$R"/noarch/{curl,wget,gpg2,tar,socat,logrotate,python3-pip,firewalld}-[0-9]*.rpm; do
  SLE_BASE+=("$f")
done
SLE_PY=("$R"/*/python311-*.rpm)
BASE_SYSTEM=$R/noarch/kit-testbed-base-system-15.6-kit.1.noarch.rpm
sign suse "${SLE_BASE[@]}" "${SLE_PY[@]}" "$BASE_SYSTEM"
mkdir -p "$W/out/host"
cp "$BASE_SYSTEM" "$W/out/host/kit-testbed-base-system.rpm"

# ---------------------------------------------------------------- repositories
mkdir -p "$OUT/keys"
cp "$W/keys/suse.asc" "$OUT/keys/suse-build-key-stand-in.asc"
cp "$W/keys/rabbitmq.asc" "$OUT/keys/rabbitmq-signing-key-stand-in.asc"
cat >"$OUT/FINGERPRINTS" <<EOF
# Test keys of the kit's SUSE-family test host (not SUSE's, not Team RabbitMQ's).
suse-build-key-stand-in $SUSE_FPR keys/suse-build-key-stand-in.asc
rabbitmq-signing-key-stand-in $RMQ_FPR keys/rabbitmq-signing-key-stand-in.asc
EOF

# An rpm-md repository whose repomd.xml is signed (repomd.xml.asc, detached and
# armored) and carries its key (repomd.xml.key), as zypper expects.
make_repo() { # DIR KEY
  createrepo_c --quiet --general-compress-type=gz "$1"
  gpg --homedir "$W/keys/$2" --batch --yes --armor --detach-sign \
    --local-user "$(cat "$W/keys/$2.fpr")" -o "$1/repodata/repomd.xml.asc" "$1/repodata/repomd.xml" 2>/dev/null
  cp "$W/keys/$2.asc" "$1/repodata/repomd.xml.key"
}
# SLE-shaped (a) Basesystem + Server Applications, (b) the Python 3 module.
mkdir -p "$OUT/sle/15-SP6" "$OUT/sle/python3-module/15-SP6"
for f in "${SLE_BASE[@]}"; do a=$(basename "$(dirname "$f")"); mkdir -p "$OUT/sle/15-SP6/$a"; cp "$f" "$OUT/sle/15-SP6/$a/"; done
for f in "${SLE_PY[@]}"; do a=$(basename "$(dirname "$f")"); mkdir -p "$OUT/sle/python3-module/15-SP6/$a"; cp "$f" "$OUT/sle/python3-module/15-SP6/$a/"; done
make_repo "$OUT/sle/15-SP6" suse
make_repo "$OUT/sle/python3-module/15-SP6" suse

# GitHub release files, at GitHub's paths. rabbitmq-server has a detached
# armored signature next to it (rabbitmq/server-packages
# .github/workflows/reusable-release-workflow.yml, step "Sign artifacts directly
# with GPG": gpg --detach-sign --armor for every release file). The Erlang RPM
# has none: rabbitmq/erlang-packages' build signs only the RPM itself
# (rabbitmq/erlang-rpm Makefile: rpm --addsign), and rabbitmq/erlang-rpm issue
# #111 confirms the release pages carry no .asc files.
GH=$OUT/github/rabbitmq
mkdir -p "$GH/erlang-rpm/releases/download/v$ERLVER" "$GH/rabbitmq-server/releases/download/v$RMQVER" \
  "$GH/signing-keys/releases/download/3.0"
cp "$UP_ERLANG" "$GH/erlang-rpm/releases/download/v$ERLVER/"
cp "$UP_RMQ" "$GH/rabbitmq-server/releases/download/v$RMQVER/"
gpg --homedir "$W/keys/rabbitmq" --batch --yes --armor --detach-sign --local-user "$RMQ_FPR" \
  -o "$GH/rabbitmq-server/releases/download/v$RMQVER/$(basename "$UP_RMQ").asc" "$UP_RMQ" 2>/dev/null
# The release signing key at the URL RabbitMQ's docs import it from
# (https://www.rabbitmq.com/docs/signatures: .../signing-keys/releases/download/3.0/rabbitmq-release-signing-key.asc).
cp "$W/keys/rabbitmq.asc" "$GH/signing-keys/releases/download/3.0/rabbitmq-release-signing-key.asc"

# Team RabbitMQ's RPM repositories, at the paths of the install guide
# (https://www.rabbitmq.com/docs/install-rpm: baseurl https://yum1.rabbitmq.com/erlang/el/8/$basearch,
# .../erlang/el/8/noarch, .../rabbitmq/el/8/$basearch, .../rabbitmq/el/8/noarch),
# with yum1.rabbitmq.com standing as suse-repo/rabbitmq. The real ones sign
# repomd.xml with Cloudsmith repository keys; here the one stand-in key does all.
TR=$OUT/rabbitmq
mkdir -p "$TR/erlang/el/8/x86_64" "$TR/erlang/el/8/noarch" "$TR/rabbitmq/el/8/x86_64" "$TR/rabbitmq/el/8/noarch"
cp "$UP_ERLANG" "$TR/erlang/el/8/x86_64/"
cp "$UP_RMQ" "$TR/rabbitmq/el/8/noarch/"
for d in "$TR"/erlang/el/8/x86_64 "$TR"/erlang/el/8/noarch "$TR"/rabbitmq/el/8/x86_64 "$TR"/rabbitmq/el/8/noarch; do
  make_repo "$d" rabbitmq
done

cat >"$W/out/versions.env" <<EOF
ERLVER=$ERLVER
RMQVER=$RMQVER
PYVER=$PYVER
SUSE_FPR=$SUSE_FPR
RMQ_FPR=$RMQ_FPR
EOF
rm -rf "$S"
log "repository tree ready: $(find "$OUT" -name '*.rpm' | wc -l) RPMs, $(du -sh "$OUT" | cut -f1)"

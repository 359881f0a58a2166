#!/usr/bin/env bash
# Self-test of the SUSE-family test host (testbed/suse-family/build.sh builds
# the images): starts the repository server and two hosts on a private docker
# network, checks what the kit relies on, prints one PASS/FAIL line per check,
# and removes everything it created, whatever happens. Exit status: 0 when
# every check passed. Traffic goes only to the containers it starts.
#
#   testbed/suse-family/selftest.sh
#
# The checks are shell snippets run inside the containers: single quotes on purpose.
# shellcheck disable=SC2016
set -uo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
HOST_IMAGE=rabbitmq-kit/suse-family:sles15sp6
REPO_IMAGE=rabbitmq-kit/suse-repo:latest
ANSIBLE="$HERE/../../.venv/bin/ansible"
ID="sf-selftest-$$"
NET=$ID-net
REPO=$ID-repo
HOST1=$ID-upstream
HOST2=$ID-sle
# The one definition of a systemd test host (its flags, /tmp mounted exec among them).
SYSTEMD_HOST="$HERE/../systemd-host"

passed=0 failed=0 start=$SECONDS
log() { printf '[suse-family selftest %(%H:%M:%S)T] %s\n' -1 "$*"; }
pass() { passed=$((passed + 1)); printf 'PASS %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf 'FAIL %s\n' "$*"; }
# check "what" command...: PASS when the command succeeds (its output is shown on FAIL).
check() {
  local what=$1 out; shift
  if out=$("$@" 2>&1); then pass "$what"; else fail "$what"; printf '%s\n' "$out" | tail -n 15 | sed 's/^/     | /'; fi
}
# refute "what" command...: PASS when the command fails.
refute() {
  local what=$1 out; shift
  if out=$("$@" 2>&1); then fail "$what"; printf '%s\n' "$out" | tail -n 15 | sed 's/^/     | /'; else pass "$what"; fi
}
on() { local c=$1; shift; timeout 300 docker exec "$c" bash -c "$*"; }
# wait_for SECONDS command...: retry once a second until it succeeds.
wait_for() {
  local limit=$1; shift
  local end=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do [ $SECONDS -lt $end ] || return 1; sleep 1; done
}

cleanup() {
  docker rm -f "$HOST1" "$HOST2" "$REPO" >/dev/null 2>&1
  docker network rm "$NET" >/dev/null 2>&1
  true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for image in "$HOST_IMAGE" "$REPO_IMAGE"; do
  docker image inspect "$image" >/dev/null 2>&1 || { echo "missing $image: run testbed/suse-family/build.sh" >&2; exit 2; }
done
SUSE_FPR=$(docker image inspect -f '{{ index .Config.Labels "kit.suse-key-fingerprint" }}' "$HOST_IMAGE")
RMQ_FPR=$(docker image inspect -f '{{ index .Config.Labels "kit.rabbitmq-key-fingerprint" }}' "$HOST_IMAGE")

log "starting $REPO (alias suse-repo) and $HOST1 on network $NET"
docker network create "$NET" >/dev/null
docker run -d --name "$REPO" --hostname suse-repo --network "$NET" --network-alias suse-repo "$REPO_IMAGE" >/dev/null
start_host() { "$SYSTEMD_HOST" "$1" "$HOST_IMAGE" --hostname "$1" --network "$NET"; }
booted() { local s; s=$(docker exec "$1" systemctl is-system-running 2>/dev/null); [ "$s" = running ] || [ "$s" = degraded ]; }
start_host "$HOST1"

# ------------------------------------------------------------------ the host
check "systemd boots (running or degraded within 60 s)" wait_for 60 booted "$HOST1"
check "the repository answers within 30 s" wait_for 30 on "$HOST1" 'curl -fsS http://suse-repo/FINGERPRINTS'
check "repository FINGERPRINTS match the image labels" \
  on "$HOST1" "curl -fsS http://suse-repo/FINGERPRINTS | grep -q '$SUSE_FPR' && curl -fsS http://suse-repo/FINGERPRINTS | grep -q '$RMQ_FPR'"
check "Ansible-relevant identity: /etc/os-release is SLES 15 SP6" \
  on "$HOST1" '. /etc/os-release && [ "$ID" = sles ] && [ "$VERSION_ID" = 15.6 ] && [ "$ID_LIKE" = suse ]'
check "python3 --version says Python 3.6.15" on "$HOST1" '[ "$(python3 --version)" = "Python 3.6.15" ]'
refute "python3 -c pass fails (SLES 15's 3.6 stands there, unusable by ansible-core)" on "$HOST1" 'python3 -c pass'
refute "no python3.11 before the python311 RPM" on "$HOST1" 'command -v python3.11 || ls /usr/lib/python3.11'
refute "no apt-get or dpkg in PATH" on "$HOST1" 'command -v apt-get || command -v dpkg'
refute "no erlang, rabbitmq or requests preinstalled" \
  on "$HOST1" 'command -v erl || ls /usr/lib/rabbitmq || /usr/libexec/kit-testbed/python3 -c "import requests"'
check "firewalld is installed, not enabled; it starts, and firewall-cmd (on Debian's Python in /usr/libexec/kit-testbed) answers" \
  on "$HOST1" '! systemctl is-enabled firewalld && timeout 90 systemctl start firewalld && firewall-cmd --state && systemctl stop firewalld'
check "rpm and zypper share /var/lib/rpm; only the SUSE stand-in key is trusted" \
  on "$HOST1" "[ \"\$(rpm --eval %_dbpath)\" = /var/lib/rpm ] && [ \"\$(rpm -q gpg-pubkey | wc -l)\" = 1 ] && rpm -qi gpg-pubkey | grep -q 'SUSE build key stand-in'"
check "zypper --non-interactive refresh succeeds, gpgcheck on" \
  on "$HOST1" 'zypper --non-interactive refresh && zypper lr -d | grep -c "Yes.*(r ) Yes" | grep -qx 2'

# ------------------------------------------------------------------ Python 3.11
check "zypper in python311 (the Python 3 module)" on "$HOST1" 'zypper --non-interactive in python311'
refute "python3.11 cannot import requests before python311-requests" on "$HOST1" 'python3.11 -c "import requests"'
refute "python3.11 does not see Debian's /usr/lib/python3/dist-packages" on "$HOST1" 'python3.11 -c "import apt_pkg"'
check "zypper in python311 python311-requests" on "$HOST1" 'zypper --non-interactive in python311 python311-requests'
check "python3.11 -c 'import requests, venv, ensurepip'" on "$HOST1" "python3.11 -c 'import requests, venv, ensurepip'"
check "python3.11 -m venv /tmp/v && /tmp/v/bin/pip --version" on "$HOST1" 'python3.11 -m venv /tmp/v && /tmp/v/bin/pip --version'
check "no shared library missing for python3.11's extension modules" \
  on "$HOST1" '! ldd /usr/bin/python3.11 /usr/lib/python3.11/lib-dynload/*.so | grep "not found"'
if [ -x "$ANSIBLE" ]; then
  check "Ansible facts: distribution SLES, os_family Suse, pkg_mgr zypper, python3.11" bash -c "
    out=\$(cd /tmp && timeout 120 '$ANSIBLE' all -i '$HOST1,' -c docker -m ansible.builtin.setup \
      -a 'filter=ansible_distribution,ansible_os_family,ansible_pkg_mgr,ansible_python_version' 2>&1) || { echo \"\$out\"; exit 1; }
    echo \"\$out\" | grep -q '\"ansible_distribution\": \"SLES\"' && echo \"\$out\" | grep -q '\"ansible_os_family\": \"Suse\"' &&
    echo \"\$out\" | grep -q '\"ansible_pkg_mgr\": \"zypper\"' && echo \"\$out\" | grep -q '\"ansible_python_version\": \"3.11' || { echo \"\$out\"; exit 1; }"
  # community.general.zypper twice: the first run installs, the second changes nothing.
  zypper_twice() {
    local run out
    for run in CHANGED SUCCESS; do
      out=$(cd /tmp && timeout 180 "$ANSIBLE" all -i "$HOST1," -c docker -m community.general.zypper \
        -a 'name=curl,wget,gnupg,tar,socat,logrotate state=present' 2>&1)
      printf '%s\n' "$out" | grep -q "| $run" || { printf '%s\n' "$out"; return 1; }
    done
  }
  check "community.general.zypper installs the tutorial's prerequisites (gnupg through gpg2's Provides), then changes nothing" zypper_twice
  check "... and rpm knows them: curl wget gpg2 tar socat logrotate" on "$HOST1" 'rpm -q curl wget gpg2 tar socat logrotate'
else
  printf 'SKIP Ansible facts and zypper module: %s not found (make venv)\n' "$ANSIBLE"
fi

# ------------------------------------------------------------------ upstream RPMs
GH=http://suse-repo/github/rabbitmq
ERLVER=$(docker image inspect -f '{{ index .Config.Labels "kit.payload-versions" }}' "$HOST_IMAGE" | grep -o 'erlang-[0-9.]*' | cut -d- -f2)
check "download the Team-RabbitMQ-shaped RPMs and the .asc with curl" on "$HOST1" "
  mkdir -p /root/rpms && cd /root/rpms &&
  curl -fsSLO $GH/erlang-rpm/releases/download/v$ERLVER/erlang-$ERLVER-1.el8.x86_64.rpm &&
  curl -fsSLO $GH/rabbitmq-server/releases/download/v4.0.5/rabbitmq-server-4.0.5-1.el8.noarch.rpm &&
  curl -fsSLO $GH/rabbitmq-server/releases/download/v4.0.5/rabbitmq-server-4.0.5-1.el8.noarch.rpm.asc"
label() { docker image inspect -f "{{ index .Config.Labels \"$1\" }}" "$HOST_IMAGE"; }
check "their sha256 match the image labels kit.erlang-rpm-sha256 and kit.rabbitmq-server-rpm-sha256" on "$HOST1" "
  cd /root/rpms && printf '%s  %s\n' '$(label kit.erlang-rpm-sha256)' erlang-$ERLVER-1.el8.x86_64.rpm \
    '$(label kit.rabbitmq-server-rpm-sha256)' rabbitmq-server-4.0.5-1.el8.noarch.rpm | sha256sum -c"
check "the .asc verifies the rabbitmq-server RPM with the Team RabbitMQ stand-in key" on "$HOST1" "
  export GNUPGHOME=\$(mktemp -d) && curl -fsS http://suse-repo/keys/rabbitmq-signing-key-stand-in.asc | gpg --batch --import &&
  gpg --batch --verify /root/rpms/rabbitmq-server-4.0.5-1.el8.noarch.rpm.asc /root/rpms/rabbitmq-server-4.0.5-1.el8.noarch.rpm"
refute "zypper in of the RPM files is REFUSED while the Team RabbitMQ key is not imported" \
  on "$HOST1" 'zypper --non-interactive in /root/rpms/*.rpm'
check "... and nothing got installed" on "$HOST1" '! rpm -q erlang rabbitmq-server'
check "rpm --import of the Team RabbitMQ stand-in key (by its URL), fingerprint as labelled" on "$HOST1" "
  rpm --import $GH/signing-keys/releases/download/3.0/rabbitmq-release-signing-key.asc &&
  rpm -q gpg-pubkey --qf '%{VERSION}\n' | grep -qix '$(printf '%s' "$RMQ_FPR" | tail -c 8)'"
check "zypper in of the RPM files now installs them (logrotate from the SLE repository)" \
  on "$HOST1" 'zypper --non-interactive in /root/rpms/*.rpm && rpm -q erlang rabbitmq-server logrotate'
check "upstream layout: rabbitmq user, /var/lib/rabbitmq and /var/log/rabbitmq owned by rabbitmq, not started" on "$HOST1" '
  id rabbitmq && [ "$(stat -c %U /var/lib/rabbitmq)" = rabbitmq ] && [ "$(stat -c %U /var/log/rabbitmq)" = rabbitmq ] &&
  ! systemctl is-active rabbitmq-server && ! systemctl is-enabled rabbitmq-server'
check "no shared library missing for Erlang (beam.smp, crypto NIF)" \
  on "$HOST1" '! ldd /usr/lib/erlang/erts-*/bin/beam.smp /usr/lib/erlang/lib/crypto-*/priv/lib/*.so | grep "not found"'
check "erl reports OTP 27 (the tutorial's check)" \
  on "$HOST1" "erl -noshell -eval 'io:format(\"~s~n\", [erlang:system_info(otp_release)]), halt().' | grep -qx 27"
check "systemctl start rabbitmq-server" on "$HOST1" 'systemctl start rabbitmq-server'
check "rabbitmqctl status succeeds (within 60 s)" wait_for 60 on "$HOST1" 'rabbitmqctl status'
check "rabbitmq-plugins enable rabbitmq_management" on "$HOST1" 'rabbitmq-plugins enable rabbitmq_management'
check "management listener on 15672 (within 60 s)" wait_for 60 on "$HOST1" 'ss -ltn | grep -q ":15672 "'

# ------------------------------------------------------------------ SLE packages
log "stopping $HOST1; starting a fresh host $HOST2"
docker rm -f "$HOST1" >/dev/null
start_host "$HOST2"
check "second host boots" wait_for 60 booted "$HOST2"
check "zypper install -y curl wget gnupg tar socat logrotate (the tutorial's line), twice" on "$HOST2" '
  zypper --non-interactive refresh && zypper install -y curl wget gnupg tar socat logrotate &&
  zypper install -y curl wget gnupg tar socat logrotate | grep -q "Nothing to do"'
check "zypper in rabbitmq-server313 (erlang26, erlang26-epmd, logrotate come along)" on "$HOST2" '
  zypper --non-interactive refresh && zypper --non-interactive in rabbitmq-server313 &&
  rpm -q rabbitmq-server313 erlang26 erlang26-epmd logrotate'
check "rabbitmq-server313 requires rabbitmq-server313-plugins, as openSUSE's does (boo#1174068)" \
  on "$HOST2" 'rpm -q rabbitmq-server313-plugins && rpm -q --requires rabbitmq-server313 | grep -q "^rabbitmq-server313-plugins"'
check "rabbitmq_management is in rabbitmq-server313-plugins" \
  on "$HOST2" '[ "$(rpm -qf --qf "%{NAME}" /usr/lib/rabbitmq/lib/rabbitmq_server-*/plugins/rabbitmq_management-*)" = rabbitmq-server313-plugins ]'
check "/etc/rabbitmq/rabbitmq-env.conf says NODENAME=rabbit@localhost" \
  on "$HOST2" 'grep -qx "NODENAME=rabbit@localhost" /etc/rabbitmq/rabbitmq-env.conf'
check "CLIs in /usr/sbin; SUSE's unit (BindsTo=epmd.service); not started, not enabled" on "$HOST2" '
  [ -x /usr/sbin/rabbitmqctl ] && [ -x /usr/sbin/rabbitmq-plugins ] &&
  systemctl cat rabbitmq-server | grep -qx "BindsTo=epmd.service" && ! systemctl is-active rabbitmq-server && ! systemctl is-enabled rabbitmq-server'
check "systemctl start rabbitmq-server (epmd.socket comes along)" on "$HOST2" 'systemctl start rabbitmq-server'
check "rabbitmqctl status succeeds on rabbit@localhost (within 60 s)" wait_for 60 on "$HOST2" 'rabbitmqctl status | grep -q "rabbit@localhost"'
check "epmd listens on 127.0.0.1:4369 only" on "$HOST2" '
  ss -ltn | grep ":4369 " && [ "$(ss -ltnH "sport = :4369" | awk "{print \$4}")" = 127.0.0.1:4369 ]'
check "without rabbitmq-server313-plugins (rpm -e --nodeps) ..." on "$HOST2" 'rpm -e --nodeps rabbitmq-server313-plugins'
refute "... rabbitmq-plugins enable rabbitmq_management fails" on "$HOST2" 'rabbitmq-plugins enable rabbitmq_management'
check "zypper in rabbitmq-server313-plugins" on "$HOST2" 'zypper --non-interactive in rabbitmq-server313-plugins'
check "rabbitmq-plugins enable rabbitmq_management then works" on "$HOST2" 'rabbitmq-plugins enable rabbitmq_management'
check "management listener on 15672 (within 60 s)" wait_for 60 on "$HOST2" 'ss -ltn | grep -q ":15672 "'

printf '%s passed, %s failed\n' "$passed" "$failed"
log "selftest took $((SECONDS - start)) s"
[ "$failed" -eq 0 ]

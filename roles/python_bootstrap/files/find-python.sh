#!/bin/sh
# Print the Python interpreter Ansible should use on this host. SLE 15 and Leap
# 15 ship python3 3.6, too old for current ansible-core; their newer Python is
# python311 (/usr/bin/python3.11 is in python311-base: openSUSE python311.spec
# L1043-1044), from the Python 3 module on SLE 15 (sle-module-python3,
# SUSE:SLE-15-SP6:GA sle-module-python3-release.spec), installed here with
# zypper. SLE 15 ships no newer python3.x stack, so no other name is tried.
# Runs through the raw module, so it needs only sh.
# Output lines: "interpreter=PATH" and, when something was installed, "changed=true".
# Errors: "error=..." on stderr, and a non-zero exit.
# Environment: CHECK_ONLY=1 installs nothing; ACTIVATE_MODULE=1 lets a registered
# SLE host activate the Python 3 module with SUSEConnect; ZYPP_LOCK_TIMEOUT (seconds)
# is how long zypper waits for a lock held by first-boot registration.
set -eu
MIN_MINOR="${MIN_MINOR:-9}"
export ZYPP_LOCK_TIMEOUT="${ZYPP_LOCK_TIMEOUT:-300}"

usable() {
  "$1" -c "import sys; sys.exit(0 if sys.version_info >= (3, ${MIN_MINOR}) else 1)" 2>/dev/null
}

found() {
  for candidate in python3 python3.11; do
    path=$(command -v "$candidate" 2>/dev/null) || continue
    if usable "$path"; then
      echo "interpreter=$path"
      return 0
    fi
  done
  return 1
}

fail() {
  echo "error=$2" >&2
  exit "$1"
}

found && exit 0

command -v zypper >/dev/null 2>&1 ||
  fail 3 "no Python >= 3.${MIN_MINOR} found and no zypper to install one; install python3 first"
[ "${CHECK_ONLY:-0}" = 1 ] &&
  fail 4 "python311 is not installed; run once without --check to bootstrap it"

# zypper exits 104 when a name has no provider (ZYPPER_EXIT_INF_CAP_NOT_FOUND)
# and 7 when another process holds the lock past ZYPP_LOCK_TIMEOUT
# (openSUSE/zypper doc/zypper.8.txt, EXIT CODES). `SUSEConnect --status` prints
# JSON whose installed products say "status":"Registered" once registered, and
# exits 0 either way; modules are activated as -p NAME/VERSION/ARCH
# (SUSE/connect-ng internal/connect/status.go L21-24, connectUsage.txt L8-13).
install_python311() {
  zypper --non-interactive --quiet install --no-recommends python311 >&2
}

. /etc/os-release
module="sle-module-python3/${VERSION_ID:-15.6}/$(uname -m)"
rc=0
install_python311 || rc=$?
if [ "$rc" = 104 ]; then
  registered=false
  if command -v SUSEConnect >/dev/null 2>&1 && SUSEConnect --status 2>/dev/null | grep -q '"status":"Registered"'; then
    registered=true
  fi
  if [ "${ACTIVATE_MODULE:-0}" = 1 ] && $registered; then
    SUSEConnect -p "$module" >&2 || fail 6 "SUSEConnect -p $module failed (see above)"
    rc=0
    install_python311 || rc=$?
  elif $registered; then
    fail 5 "python311 has no provider: the Python 3 module is not active. Activate it with 'SUSEConnect -p $module', or set python_bootstrap_activate_python3_module=true to let the kit do it"
  else
    fail 5 "python311 has no provider: the Python 3 module ($module) is not active and this host is not registered with SUSEConnect. Register it ('SUSEConnect -r CODE'), then run 'SUSEConnect -p $module', or add a repository that provides python311"
  fi
fi
[ "$rc" = 0 ] || fail 7 "zypper install python311 failed with exit code $rc (7: another process held the package lock for ${ZYPP_LOCK_TIMEOUT} s)"
echo "changed=true"
found || fail 8 "python311 was installed but no usable python3.11 was found"

#!/bin/sh
# Print the Python interpreter Ansible should use on this host, installing
# python311 with zypper on SLES/Leap 15 (whose python3 is 3.6, too old for
# current ansible-core). Runs through the raw module, so it needs only sh.
# Output lines: "interpreter=PATH" and, when something was installed, "changed=true".
# With CHECK_ONLY=1 nothing is installed; a missing interpreter is an error.
set -eu
MIN_MINOR="${MIN_MINOR:-9}"

usable() {
  "$1" -c "import sys; sys.exit(0 if sys.version_info >= (3, ${MIN_MINOR}) else 1)" 2>/dev/null
}

for candidate in python3 python3.13 python3.12 python3.11; do
  path=$(command -v "$candidate" 2>/dev/null) || continue
  if usable "$path"; then
    echo "interpreter=$path"
    exit 0
  fi
done

if ! command -v zypper >/dev/null 2>&1; then
  echo "error=no Python >= 3.${MIN_MINOR} found and no zypper to install one; install python3 first" >&2
  exit 3
fi
if [ "${CHECK_ONLY:-0}" = 1 ]; then
  echo "error=python311 is not installed; run once without --check to bootstrap it" >&2
  exit 4
fi
zypper --non-interactive --quiet install --no-recommends python311 >&2
echo "changed=true"
echo "interpreter=$(command -v python3.11)"

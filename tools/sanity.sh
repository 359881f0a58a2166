#!/usr/bin/env bash
# `ansible-test sanity` on the collection as its users get it (make lint).
#
# ansible-test needs the collection at .../ansible_collections/armkit/rabbitmq: this builds the
# archive (`ansible-galaxy collection build`, so galaxy.yml's build_ignore applies) and installs
# it into a temporary directory, where ansible-test tests every file (no git metadata there).
# The ignore file is written there too (tests/ is not shipped): see "ignored" below.
#
# ansible-test runs each sanity test in a virtual environment of its own under
# ~/.ansible/test/venv, with the requirements ansible-test itself pins for the ansible-core that
# requirements.txt pins, installed from PyPI on the first run (about a minute on a 2-core machine)
# and reused after (the whole script then takes about 30 s). It bootstraps pip in each with a
# get-pip.py downloaded from Ansible's CI file server, which this machine cannot reach; where its
# cache has no get-pip.py (the path its error message names), this script puts a stand-in there
# that installs the same pip version from PyPI with the project venv's pip.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
python=$(command -v python3) # the project venv's: make puts .venv/bin first on PATH
version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
log() { printf '[sanity %(%H:%M:%S)T] %s\n' -1 "$*"; }

command -v shellcheck >/dev/null || {
  echo "tools/sanity.sh: shellcheck is missing (testbed/packages.sh shellcheck); ansible-test would skip its test" >&2
  exit 1
}

pip_version=$("$python" - <<'EOF'
import pathlib, re, ansible_test
source = pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
print(re.search(r"pip='([0-9.]+)'", source.read_text()).group(1))
EOF
)
get_pip=~/.ansible/test/cache/get_pip_${pip_version//./_}.py
marker="# stand-in written by armkit.rabbitmq tools/sanity.sh"
stand_in="$marker
import subprocess, sys
wanted = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]  # get-pip's own options
sys.exit(subprocess.call(['$python', '-m', 'pip', '--python', sys.executable, 'install', *wanted]))"
if [ ! -e "$get_pip" ] || { head -1 "$get_pip" | grep -qxF "$marker" && [ "$(cat "$get_pip")" != "$stand_in" ]; }; then
  mkdir -p "$(dirname "$get_pip")"
  printf '%s\n' "$stand_in" >"$get_pip"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# From outside the clone: its ansible.cfg finds this very repository as the installed
# armkit.rabbitmq (collections/), and install would skip.
cd "$work"
ansible-galaxy collection build --output-path "$work" "$root" >/dev/null
ANSIBLE_COLLECTIONS_PATH="$work" ansible-galaxy collection install --no-deps -p "$work" "$work"/armkit-rabbitmq-*.tar.gz >/dev/null
collection="$work/ansible_collections/armkit/rabbitmq"
cd "$collection"

# ignored: validate-modules wants a GPLv3 header in every module; the collection is Apache-2.0
# (galaxy.yml), so none has one.
core=$("$python" -c 'from ansible.release import __version__ as v; print(".".join(v.split(".")[:2]))')
mkdir -p tests/sanity
for module in plugins/modules/*.py; do
  echo "$module validate-modules:missing-gplv3-license"
done >"tests/sanity/ignore-$core.txt"

skipped=(
  # the kit writes CHANGELOG.md by hand: there is no changelogs/ for antsibull-changelog to check
  --skip-test changelog
  # no PowerShell in the collection (and no pwsh on the machine)
  --skip-test pslint
  # worker/ is the event-worker Python package the roles install on hosts, not Ansible content:
  # ruff and mypy --strict judge it (make lint) by its own settings, not Ansible's pylint and pep8
  --exclude worker/
)
log "ansible-test sanity on Python $version (tests: every sanity test but changelog and pslint; worker/ excluded)"
ansible-test sanity --local --python "$version" --python-interpreter "$python" "${skipped[@]}"

# Modules and module_utils run on the managed hosts, whose Python may be older or newer than the
# controller's (python_bootstrap accepts 3.9 and later): compile them with each such Python here.
targets=() found=()
for minor in 9 10 11 12 13; do
  [ "3.$minor" != "$version" ] || continue
  for candidate in "$(command -v "python3.$minor" || true)" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3."$minor".*/bin/python3."$minor"; do
    if [ -x "$candidate" ] && "$candidate" -c '' 2>/dev/null; then
      targets+=(--target-python "3.$minor@$candidate")
      found+=("3.$minor")
      break
    fi
  done
done
if [ ${#targets[@]} -gt 0 ]; then
  log "ansible-test sanity --test compile on the other Pythons found: ${found[*]}"
  ansible-test sanity --test compile --controller "origin:python=$version@$python" "${targets[@]}" --exclude worker/
else
  log "no other Python 3.9-3.13 here: modules compiled on $version only"
fi

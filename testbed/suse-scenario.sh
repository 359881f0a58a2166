#!/usr/bin/env bash
# Run the molecule `suse` scenario for Leap 15.6 and Leap 16.0, or skip it with
# a one-line reason when the openSUSE images are not on this machine and pulls
# are not allowed (KIT_SUSE_PULL=1 allows them; `make test-suse` sets it).
# A skip is reported as SKIPPED, never as passed.
set -euo pipefail
cd "$(dirname "$0")/.."

releases=("leap:15.6 rabbitmq-server313" "leap:16.0 rabbitmq-server")
for entry in "${releases[@]}"; do
  read -r release package <<<"$entry"
  image="registry.opensuse.org/opensuse/$release"
  if ! docker image inspect "$image" >/dev/null 2>&1; then
    if [ "${KIT_SUSE_PULL:-0}" != 1 ]; then
      echo "SKIPPED molecule suse ($release): image $image is not on this machine and this test bed reaches no container registry; run 'make test-suse' where registry.opensuse.org is reachable"
      continue
    fi
    docker pull "$image" || { echo "SKIPPED molecule suse ($release): cannot pull $image"; continue; }
  fi
  echo "=== molecule suse on $release"
  SUSE_RELEASE=$release SUSE_RABBITMQ_PACKAGE=$package molecule test -s suse
done

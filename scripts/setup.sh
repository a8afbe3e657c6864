#!/usr/bin/env bash
# Prepares this machine for clnrm's tests and examples: a running Docker engine (Debian's
# docker.io is installed when `docker info` fails), debootstrap, Debian's prometheus (for the
# metrics tests), and the locally built images
# (scripts/build-images.sh). Safe to run again: what is there already is kept.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# `prometheus` and `promtool` for the metrics tests (tests/e2e/metrics.rs).
if ! command -v promtool >/dev/null; then
  echo "setup: installing prometheus"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends \
    prometheus >/dev/null
  # The tests start servers of their own; the package's system service is not wanted.
  if command -v systemctl >/dev/null; then
    as_root systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
fi

if ! docker info >/dev/null 2>&1; then
  echo "setup: starting dockerd"
  as_root setsid dockerd >/tmp/clnrm-dockerd.log 2>&1 </dev/null &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  if ! docker info >/dev/null 2>&1; then
    echo "setup: dockerd did not come up; its log:" >&2
    tail -n 30 /tmp/clnrm-dockerd.log >&2
    exit 1
  fi
fi
echo "setup: docker $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"

scripts/build-images.sh
scripts/build-market-images.sh
scripts/build-llm-image.sh
scripts/build-surrealdb-image.sh

#!/usr/bin/env bash
# Builds the container images clnrm's tests and examples use, from Debian packages only, for a
# machine that reaches no container registry (our CI is one). Images already built by the same
# version of this script are kept; pass --force to rebuild.
#
#   clnrm-local/postgres:15      Debian's PostgreSQL 15, entrypoint compatible with `postgres:16`
#   clnrm-local/redis:7          Debian's Redis 7, entrypoint compatible with `redis:7`
#   clnrm-local/toolbox:bookworm bash, curl, psql, redis-cli, netcat: a generic image
#
# The repository's clnrm.toml redirects the official images to these ([images] table); see
# README.md, "Machines without a registry".
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
force=0
[ "${1:-}" = "--force" ] && force=1

packages=postgresql,redis-server,curl,ca-certificates,netcat-openbsd,postgresql-client,redis-tools,procps,iproute2
# The images are rebuilt whenever this script, the entrypoints or the package list change.
version=$(cat "$0" "$here"/images/*.sh | sha256sum | cut -c1-16)

need=0
for image in clnrm-local/postgres:15 clnrm-local/redis:7 clnrm-local/toolbox:bookworm; do
  have=$(docker image inspect --format '{{ index .Config.Labels "dev.clnrm.images" }}' "$image" 2>/dev/null || true)
  [ "$have" = "$version" ] || need=1
done
if [ "$need" = 0 ] && [ "$force" = 0 ]; then
  echo "build-images: images are up to date (version $version)"
  exit 0
fi

# The Debian mirror this machine is configured with (deb822 or one-line sources).
mirror=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -n 1 || true)
if [ -z "$mirror" ]; then
  mirror=$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | grep -v security | head -n 1 || true)
fi
if [ -z "$mirror" ]; then
  echo "build-images: no Debian mirror found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list" >&2
  exit 1
fi
command -v debootstrap >/dev/null || {
  echo "build-images: debootstrap is missing: apt-get install -y debootstrap" >&2
  exit 1
}

cache=${CLNRM_IMAGE_CACHE:-/var/cache/clnrm-images}
rootfs="$cache/rootfs-$version"
if [ ! -f "$rootfs/.complete" ]; then
  rm -rf "$cache"/rootfs-*
  mkdir -p "$cache"
  echo "build-images: debootstrap bookworm from $mirror (about a minute)"
  start=$(date +%s)
  debootstrap --variant=minbase --include="$packages" bookworm "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 || {
    tail -n 30 "$cache/debootstrap.log" >&2
    exit 1
  }
  # The package's own cluster is not used (the entrypoint initialises PGDATA at run time, as the
  # official image does); caches only make the image larger.
  rm -rf "$rootfs"/var/lib/postgresql/*/main "$rootfs"/etc/postgresql/*/main
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  install -m 0755 "$here/images/postgres-entrypoint.sh" "$rootfs/usr/local/bin/postgres-entrypoint"
  install -m 0755 "$here/images/redis-entrypoint.sh" "$rootfs/usr/local/bin/redis-entrypoint"
  touch "$rootfs/.complete"
  echo "build-images: rootfs ready in $(($(date +%s) - start)) s"
fi

label="LABEL dev.clnrm.images=$version"
tar -C "$rootfs" --exclude=./.complete -c . | docker import \
  --change "$label" \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["bash"]' \
  - clnrm-local/base:bookworm >/dev/null

build() {
  local tag=$1
  shift
  { echo 'FROM clnrm-local/base:bookworm'; printf '%s\n' "$@"; } | docker build -q -t "$tag" - >/dev/null 2>"$cache/build.log" || {
    cat "$cache/build.log" >&2
    exit 1
  }
  echo "build-images: built $tag"
}
build clnrm-local/postgres:15 \
  'ENV PGDATA=/var/lib/postgresql/data' \
  'STOPSIGNAL SIGINT' \
  'EXPOSE 5432' \
  'ENTRYPOINT ["/usr/local/bin/postgres-entrypoint"]' \
  'CMD ["postgres"]'
build clnrm-local/redis:7 \
  'EXPOSE 6379' \
  'ENTRYPOINT ["/usr/local/bin/redis-entrypoint"]' \
  'CMD ["redis-server"]'
build clnrm-local/toolbox:bookworm \
  'CMD ["sleep", "infinity"]'

#!/usr/bin/env bash
# Builds the images of the official marketplace plugins (marketplace/plugins/) from Debian
# packages, like scripts/build-images.sh: one debootstrap with the five servers, then one tag per
# plugin. Cached by a content hash of this script and its entrypoints; --force rebuilds.
#
#   clnrm-local/memcached:1.6    memcached
#   clnrm-local/mariadb:10.11    MariaDB (MARIADB_USER / _PASSWORD / _DATABASE as the official image)
#   clnrm-local/nats:2.9         nats-server (client 4222, monitoring 8222)
#   clnrm-local/mosquitto:2.0    Mosquitto, anonymous listener on 1883
#   clnrm-local/rabbitmq:3.10    RabbitMQ, guest allowed from any host
#
# The repository's clnrm.toml redirects memcached, mariadb, nats, eclipse-mosquitto and
# rabbitmq to them.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
force=0
[ "${1:-}" = "--force" ] && force=1
packages=memcached,mariadb-server,mariadb-client,nats-server,mosquitto,rabbitmq-server,netcat-openbsd,procps,ca-certificates
version=$(cat "$0" "$here"/market-images/* | sha256sum | cut -c1-16)
images="clnrm-local/memcached:1.6 clnrm-local/mariadb:10.11 clnrm-local/nats:2.9 clnrm-local/mosquitto:2.0 clnrm-local/rabbitmq:3.10"

need=0
for image in $images; do
  have=$(docker image inspect --format '{{ index .Config.Labels "dev.clnrm.market-images" }}' "$image" 2>/dev/null || true)
  [ "$have" = "$version" ] || need=1
done
if [ "$need" = 0 ] && [ "$force" = 0 ]; then
  echo "build-market-images: images are up to date (version $version)"
  exit 0
fi

mirror=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -n 1 || true)
if [ -z "$mirror" ]; then
  mirror=$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | grep -v security | head -n 1 || true)
fi
[ -n "$mirror" ] || { echo "build-market-images: no Debian mirror configured" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "build-market-images: apt-get install -y debootstrap" >&2; exit 1; }

cache=${CLNRM_MARKET_IMAGE_CACHE:-/var/cache/clnrm-market-images}
rootfs="$cache/rootfs-$version"
if [ ! -f "$rootfs/.complete" ]; then
  rm -rf "$cache"/rootfs-*
  mkdir -p "$cache"
  echo "build-market-images: debootstrap bookworm with $packages from $mirror"
  start=$(date +%s)
  debootstrap --variant=minbase --include="$packages" bookworm "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 || {
    tail -n 30 "$cache/debootstrap.log" >&2
    exit 1
  }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  install -m 0755 "$here/market-images/mariadb-entrypoint.sh" "$rootfs/usr/local/bin/mariadb-entrypoint"
  printf 'listener 1883 0.0.0.0\nallow_anonymous true\nlog_dest stdout\n' >"$rootfs/etc/mosquitto/clnrm.conf"
  mkdir -p "$rootfs/etc/rabbitmq"
  printf 'loopback_users = none\nlisteners.tcp.default = 5672\n' >"$rootfs/etc/rabbitmq/rabbitmq.conf"
  touch "$rootfs/.complete"
  echo "build-market-images: rootfs ready in $(($(date +%s) - start)) s"
fi

tar -C "$rootfs" --exclude=./.complete -c . | docker import \
  --change "LABEL dev.clnrm.market-images=$version" \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["bash"]' \
  - clnrm-local/market-base:bookworm >/dev/null

build() {
  local tag=$1
  shift
  { echo 'FROM clnrm-local/market-base:bookworm'; printf '%s\n' "$@"; } | docker build -q -t "$tag" - >/dev/null 2>"$cache/build.log" || {
    cat "$cache/build.log" >&2
    exit 1
  }
  echo "build-market-images: built $tag"
}
build clnrm-local/memcached:1.6 'EXPOSE 11211' 'CMD ["memcached", "-u", "memcache", "-l", "0.0.0.0", "-p", "11211", "-v"]'
build clnrm-local/mariadb:10.11 'EXPOSE 3306' 'ENTRYPOINT ["/usr/local/bin/mariadb-entrypoint"]'
build clnrm-local/nats:2.9 'EXPOSE 4222 8222' 'CMD ["nats-server", "-p", "4222", "-m", "8222"]'
build clnrm-local/mosquitto:2.0 'EXPOSE 1883' 'CMD ["mosquitto", "-c", "/etc/mosquitto/clnrm.conf"]'
build clnrm-local/rabbitmq:3.10 'EXPOSE 5672' 'ENV HOME=/var/lib/rabbitmq' 'CMD ["rabbitmq-server"]'

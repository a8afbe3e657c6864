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
who=build-market-images
# shellcheck source=lib/images.sh
. "$here/lib/images.sh"
force=0
[ "${1:-}" = "--force" ] && force=1
packages=memcached,mariadb-server,mariadb-client,nats-server,mosquitto,rabbitmq-server,netcat-openbsd,procps,ca-certificates
version=$(cat "$0" "$here/lib/images.sh" "$here"/market-images/* | sha256sum | cut -c1-16)
images="clnrm-local/memcached:1.6 clnrm-local/mariadb:10.11 clnrm-local/nats:2.9 clnrm-local/mosquitto:2.0 clnrm-local/rabbitmq:3.10"
# shellcheck disable=SC2086
if [ "$force" = 0 ] && images_up_to_date dev.clnrm.market-images "$version" $images; then
  echo "$who: images are up to date (version $version)"
  exit 0
fi

customize() {
  local rootfs=$1
  install -m 0755 "$here/market-images/mariadb-entrypoint.sh" "$rootfs/usr/local/bin/mariadb-entrypoint"
  printf 'listener 1883 0.0.0.0\nallow_anonymous true\nlog_dest stdout\n' >"$rootfs/etc/mosquitto/clnrm.conf"
  mkdir -p "$rootfs/etc/rabbitmq"
  printf 'loopback_users = none\nlisteners.tcp.default = 5672\n' >"$rootfs/etc/rabbitmq/rabbitmq.conf"
}
rootfs=$(bootstrap_rootfs "${CLNRM_MARKET_IMAGE_CACHE:-/var/cache/clnrm-market-images}" "$version" "$packages" customize)
import_base "$rootfs" clnrm-local/market-base:bookworm dev.clnrm.market-images "$version"

base=clnrm-local/market-base:bookworm
build_on $base clnrm-local/memcached:1.6 'EXPOSE 11211' 'CMD ["memcached", "-u", "memcache", "-l", "0.0.0.0", "-p", "11211", "-v"]'
build_on $base clnrm-local/mariadb:10.11 'EXPOSE 3306' 'ENTRYPOINT ["/usr/local/bin/mariadb-entrypoint"]'
build_on $base clnrm-local/nats:2.9 'EXPOSE 4222 8222' 'CMD ["nats-server", "-p", "4222", "-m", "8222"]'
build_on $base clnrm-local/mosquitto:2.0 'EXPOSE 1883' 'CMD ["mosquitto", "-c", "/etc/mosquitto/clnrm.conf"]'
build_on $base clnrm-local/rabbitmq:3.10 'EXPOSE 5672' 'ENV HOME=/var/lib/rabbitmq' 'CMD ["rabbitmq-server"]'

#!/usr/bin/env bash
# Builds the container images clnrm's tests and examples use, from Debian packages only, for a
# machine that reaches no container registry (our CI is one). Images already built by the same
# version of this script are kept; pass --force to rebuild.
#
#   clnrm-local/postgres:15      Debian's PostgreSQL 15, entrypoint compatible with `postgres:16`,
#                                with a data directory initialised at build time
#   clnrm-local/redis:7          Debian's Redis 7, entrypoint compatible with `redis:7`
#   clnrm-local/toolbox:bookworm bash, curl, psql, redis-cli, netcat: a generic image
#
# The repository's clnrm.toml redirects the official images to these ([images] table); see
# README.md, "Machines without a registry".
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
who=build-images
# shellcheck source=lib/images.sh
. "$here/lib/images.sh"
force=0
[ "${1:-}" = "--force" ] && force=1

packages=postgresql,redis-server,curl,ca-certificates,netcat-openbsd,postgresql-client,redis-tools,procps,iproute2
# The images are rebuilt whenever this script, the shared steps, the entrypoints or the package
# list change.
version=$(cat "$0" "$here/lib/images.sh" "$here"/images/*.sh | sha256sum | cut -c1-16)
images="clnrm-local/postgres:15 clnrm-local/redis:7 clnrm-local/toolbox:bookworm"
# shellcheck disable=SC2086
if [ "$force" = 0 ] && images_up_to_date dev.clnrm.images "$version" $images; then
  echo "$who: images are up to date (version $version)"
  exit 0
fi

customize() {
  local rootfs=$1
  # The package's own cluster is not used (the entrypoint initialises PGDATA at run time, as the
  # official image does).
  rm -rf "$rootfs"/var/lib/postgresql/*/main "$rootfs"/etc/postgresql/*/main
  install -m 0755 "$here/images/postgres-entrypoint.sh" "$rootfs/usr/local/bin/postgres-entrypoint"
  install -m 0755 "$here/images/redis-entrypoint.sh" "$rootfs/usr/local/bin/redis-entrypoint"
}
rootfs=$(bootstrap_rootfs "${CLNRM_IMAGE_CACHE:-/var/cache/clnrm-images}" "$version" "$packages" customize)
import_base "$rootfs" clnrm-local/base:bookworm dev.clnrm.images "$version"

# The seed: a data directory initialised at build time, which a start copies instead of running
# initdb (see images/postgres-entrypoint.sh). It runs nothing that needs the network.
build_on clnrm-local/base:bookworm clnrm-local/postgres:15 \
  'RUN ["/usr/local/bin/postgres-entrypoint", "seed"]' \
  'ENV PGDATA=/var/lib/postgresql/data' \
  'STOPSIGNAL SIGINT' \
  'EXPOSE 5432' \
  'ENTRYPOINT ["/usr/local/bin/postgres-entrypoint"]' \
  'CMD ["postgres"]'
build_on clnrm-local/base:bookworm clnrm-local/redis:7 \
  'EXPOSE 6379' \
  'ENTRYPOINT ["/usr/local/bin/redis-entrypoint"]' \
  'CMD ["redis-server"]'
build_on clnrm-local/base:bookworm clnrm-local/toolbox:bookworm \
  'CMD ["sleep", "infinity"]'

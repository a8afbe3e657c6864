#!/bin/bash
# Entrypoint of clnrm's locally built Redis image, shaped like the official `redis` image's:
# arguments that start with `-` (or a .conf path) are passed to redis-server, which listens on
# every interface without protected mode, as in a container it must.
set -euo pipefail
if [ "$#" -eq 0 ] || [ "${1:0:1}" = "-" ] || [ "${1%.conf}" != "$1" ]; then
  set -- redis-server "$@"
fi
if [ "$1" = "redis-server" ]; then
  shift
  mkdir -p /data && chown redis:redis /data
  cd /data
  exec setpriv --reuid=redis --regid=redis --init-groups \
    redis-server --bind 0.0.0.0 --protected-mode no --save '' --appendonly no "$@"
fi
exec "$@"

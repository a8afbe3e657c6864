#!/bin/bash
# Entrypoint of clnrm's locally built Postgres image. It behaves like the official `postgres`
# image's entrypoint for the parts tests rely on: POSTGRES_USER / POSTGRES_PASSWORD /
# POSTGRES_DB / PGDATA are honoured, the server runs as the `postgres` user, and a CMD of
# `postgres -c key=value ...` is passed to the server.
set -euo pipefail

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
export PATH="$PG_BIN:$PATH"
export PGDATA=${PGDATA:-/var/lib/postgresql/data}
POSTGRES_USER=${POSTGRES_USER:-postgres}
POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}

if [ "$#" -eq 0 ] || [ "${1:0:1}" = "-" ]; then
  set -- postgres "$@"
fi

if [ "$1" != "postgres" ]; then
  exec "$@"
fi
shift

if [ "$(id -u)" = "0" ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" postgres "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "${POSTGRES_HOST_AUTH_METHOD:-}" != "trust" ]; then
    echo "error: database is uninitialized and superuser password is not specified." >&2
    echo "       set POSTGRES_PASSWORD (or POSTGRES_HOST_AUTH_METHOD=trust), as with the official image" >&2
    exit 1
  fi
  pwfile=$(mktemp)
  printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
  initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust \
    --auth-host="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" --no-sync --encoding=UTF8 \
    --locale=C.UTF-8 ${POSTGRES_INITDB_ARGS:-} >/dev/null
  rm -f "$pwfile"
  {
    echo "listen_addresses = '*'"
    echo "unix_socket_directories = '/var/run/postgresql'"
  } >>"$PGDATA/postgresql.conf"
  echo "host all all all ${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >>"$PGDATA/pg_hba.conf"
  if [ "$POSTGRES_DB" != "postgres" ]; then
    # Single-user mode creates the database without starting a server that listens, so the
    # "ready to accept connections" line is printed once, by the real server.
    echo "CREATE DATABASE \"$POSTGRES_DB\";" | postgres --single -jE -D "$PGDATA" postgres >/dev/null
  fi
  echo "clnrm-postgres: initialised $PGDATA for user $POSTGRES_USER, database $POSTGRES_DB"
fi

exec postgres -D "$PGDATA" "$@"

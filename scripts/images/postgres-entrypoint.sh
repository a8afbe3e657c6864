#!/bin/bash
# Entrypoint of clnrm's locally built Postgres image. It behaves like the official `postgres`
# image's entrypoint for the parts tests rely on: POSTGRES_USER / POSTGRES_PASSWORD /
# POSTGRES_DB / PGDATA are honoured, the server runs as the `postgres` user, and a CMD of
# `postgres -c key=value ...` is passed to the server.
#
# The image carries a data directory initialised at build time (`postgres-entrypoint seed`, run
# by scripts/build-images.sh) for user `clnrm` and database `clnrm`, clnrm's defaults. When
# PGDATA is empty and the request matches it (that user, no POSTGRES_INITDB_ARGS, the default
# host authentication), the seed is copied into PGDATA (a tmpfs under clnrm: a copy is a few tens
# of milliseconds, initdb about two seconds) and only the password (and POSTGRES_DB, when it
# differs) is set, in single-user mode. Anything else runs initdb as the official image does.
set -euo pipefail

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
export PATH="$PG_BIN:$PATH"
export PGDATA=${PGDATA:-/var/lib/postgresql/data}
POSTGRES_USER=${POSTGRES_USER:-postgres}
POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}

SEED=/usr/local/share/clnrm-postgres/seed
SEED_USER=clnrm

# init_cluster DIR USER PASSWORD_FILE: initdb as the official image does, plus the server's
# listening address and the host rule.
init_cluster() {
  initdb -D "$1" --username="$2" --pwfile="$3" --auth-local=trust \
    --auth-host="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" --no-sync --encoding=UTF8 \
    --locale=C.UTF-8 ${POSTGRES_INITDB_ARGS:-} >/dev/null
  {
    echo "listen_addresses = '*'"
    echo "unix_socket_directories = '/var/run/postgresql'"
  } >>"$1/postgresql.conf"
  echo "host all all all ${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >>"$1/pg_hba.conf"
}

# single DIR SQL: runs SQL in single-user mode (no server that listens, so the "ready to accept
# connections" line is printed once, by the real server).
single() {
  echo "$2" | postgres --single -jE -D "$1" -c fsync=off postgres >/dev/null
}

if [ "${1:-}" = "seed" ]; then
  # Build time: the data directory a start copies instead of running initdb.
  if [ "$(id -u)" = "0" ]; then
    mkdir -p "$SEED"
    chown postgres:postgres "$SEED"
    chmod 700 "$SEED"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" seed
  fi
  pwfile=$(mktemp)
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$pwfile"
  init_cluster "$SEED" "$SEED_USER" "$pwfile"
  rm -f "$pwfile"
  single "$SEED" "CREATE DATABASE \"$SEED_USER\";"
  echo "clnrm-postgres: seed data directory for user $SEED_USER in $SEED"
  exit 0
fi

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
  if [ -s "$SEED/PG_VERSION" ] && [ "$POSTGRES_USER" = "$SEED_USER" ] &&
    [ -z "${POSTGRES_INITDB_ARGS:-}" ] && [ -z "${POSTGRES_HOST_AUTH_METHOD:-}" ]; then
    cp -a "$SEED/." "$PGDATA/"
    password=${POSTGRES_PASSWORD//\'/\'\'}
    sql="ALTER ROLE \"$POSTGRES_USER\" PASSWORD '$password';"
    if [ "$POSTGRES_DB" != "postgres" ] && [ "$POSTGRES_DB" != "$SEED_USER" ]; then
      # -j: a statement ends at a semicolon and a blank line (CREATE DATABASE runs alone).
      sql="$sql

CREATE DATABASE \"$POSTGRES_DB\";"
    fi
    single "$PGDATA" "$sql"
    echo "clnrm-postgres: copied the seed data directory to $PGDATA for user $POSTGRES_USER, database $POSTGRES_DB"
  else
    pwfile=$(mktemp)
    printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
    init_cluster "$PGDATA" "$POSTGRES_USER" "$pwfile"
    rm -f "$pwfile"
    if [ "$POSTGRES_DB" != "postgres" ]; then
      single "$PGDATA" "CREATE DATABASE \"$POSTGRES_DB\";"
    fi
    echo "clnrm-postgres: initialised $PGDATA for user $POSTGRES_USER, database $POSTGRES_DB"
  fi
fi

exec postgres -D "$PGDATA" "$@"

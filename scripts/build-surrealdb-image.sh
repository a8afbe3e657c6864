#!/usr/bin/env bash
# Builds clnrm-local/surrealdb:3.3.5, the real SurrealDB server for a machine that cannot pull
# `surrealdb/surrealdb`: crates.io's `surrealdb-server` 3.3.5 (the server itself; the official
# `surreal` binary is the same `init()`) compiled by scripts/surrealdb-image/ with in-memory
# storage only, copied into the bookworm base image of scripts/build-images.sh. Laid out like
# the official image: entrypoint `/surreal`, port 8000, `start --user U --pass P memory`.
#
# The compile is long (measured cold on 2 busy cores: see README.md, "Machines without a
# registry"); its target directory is kept in the cache (CLNRM_SURREALDB_BUILD_CACHE, default
# ${XDG_CACHE_HOME:-~/.cache}/clnrm/surrealdb-build), so only the first build pays it. The image
# is cached by a content hash of this script, the wrapper crate (and its lock) and the base
# image; --force rebuilds the image.
#
# The repository's clnrm.toml redirects surrealdb/surrealdb to it.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
who=build-surrealdb-image
# shellcheck source=lib/images.sh
. "$here/lib/images.sh"
force=0
[ "${1:-}" = "--force" ] && force=1
image=clnrm-local/surrealdb:3.3.5
base=clnrm-local/base:bookworm
crate="$here/surrealdb-image"

base_id=$(docker image inspect --format '{{.Id}}' "$base" 2>/dev/null) || {
  echo "$who: $base is missing: run scripts/build-images.sh first" >&2
  exit 1
}
version=$({ cat "$0" "$crate/Cargo.toml" "$crate/Cargo.lock" "$crate/src/main.rs"; echo "$base_id"; } | sha256sum | cut -c1-16)
if [ "$force" = 0 ] && images_up_to_date dev.clnrm.surrealdb-image "$version" "$image"; then
  echo "$who: image is up to date (version $version)"
  exit 0
fi

target="${CLNRM_SURREALDB_BUILD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/clnrm/surrealdb-build}"
mkdir -p "$target"
echo "$who: compiling surrealdb-server 3.3.5 into $target (cold: tens of minutes on 2 cores)"
start=$(date +%s)
log="$target/build.log"
# The wrapper is its own workspace; no outer CARGO_TARGET_DIR or profile applies to it.
if ! (cd "$crate" && env -u CARGO_BUILD_TARGET_DIR CARGO_TARGET_DIR="$target" \
  cargo build --release --locked >"$log" 2>&1); then
  tail -n 40 "$log" >&2
  exit 1
fi
echo "$who: compiled in $(($(date +%s) - start)) s"

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp "$target/release/surreal" "$context/surreal"
cat >"$context/Dockerfile" <<EOF
FROM $base
COPY surreal /surreal
LABEL dev.clnrm.surrealdb-image=$version
ENV SURREAL_BIND=0.0.0.0:8000 SURREAL_PATH=memory
EXPOSE 8000
ENTRYPOINT ["/surreal"]
CMD ["start"]
EOF
docker build -q -t "$image" "$context" >/dev/null
echo "$who: built $image"

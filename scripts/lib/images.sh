# Shared steps of the scripts that build clnrm's local images (build-images.sh,
# build-market-images.sh, build-llm-image.sh): a bookworm root filesystem from Debian packages
# (debootstrap), imported as a base image, then thin images on top. Sourced, never run.
#
# A script sets `who` (its name, for messages) before sourcing this file.

# Succeeds when every image carries LABEL=VERSION (built by the same version of the script).
images_up_to_date() {
  local label=$1 version=$2 image have
  shift 2
  for image in "$@"; do
    have=$(docker image inspect --format "{{ index .Config.Labels \"$label\" }}" "$image" 2>/dev/null || true)
    [ "$have" = "$version" ] || return 1
  done
}

# The Debian mirror this machine is configured with (deb822 or one-line sources).
debian_mirror() {
  local mirror
  mirror=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -n 1 || true)
  if [ -z "$mirror" ]; then
    mirror=$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | grep -v security | head -n 1 || true)
  fi
  if [ -z "$mirror" ]; then
    echo "$who: no Debian mirror found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list" >&2
    exit 1
  fi
  echo "$mirror"
}

# bootstrap_rootfs CACHE VERSION PACKAGES [CUSTOMIZE]: a bookworm rootfs with PACKAGES at
# CACHE/rootfs-VERSION (kept while VERSION holds; older ones removed). CUSTOMIZE, a function,
# gets the rootfs path once the packages are in. Prints the path.
bootstrap_rootfs() {
  local cache=$1 version=$2 packages=$3 customize=${4:-}
  local rootfs="$cache/rootfs-$version" mirror start
  if [ ! -f "$rootfs/.complete" ]; then
    command -v debootstrap >/dev/null || {
      echo "$who: debootstrap is missing: apt-get install -y debootstrap" >&2
      exit 1
    }
    mirror=$(debian_mirror)
    rm -rf "$cache"/rootfs-*
    mkdir -p "$cache"
    echo "$who: debootstrap bookworm with $packages from $mirror" >&2
    start=$(date +%s)
    debootstrap --variant=minbase --include="$packages" bookworm "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 || {
      tail -n 30 "$cache/debootstrap.log" >&2
      exit 1
    }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    [ -z "$customize" ] || "$customize" "$rootfs"
    touch "$rootfs/.complete"
    echo "$who: rootfs ready in $(($(date +%s) - start)) s" >&2
  fi
  echo "$rootfs"
}

# import_base ROOTFS TAG LABEL VERSION: the rootfs as image TAG, labelled LABEL=VERSION.
import_base() {
  local rootfs=$1 tag=$2 label=$3 version=$4
  tar -C "$rootfs" --exclude=./.complete -c . | docker import \
    --change "LABEL $label=$version" \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["bash"]' \
    - "$tag" >/dev/null
}

# build_on BASE TAG LINE...: image TAG from BASE plus Dockerfile LINEs (no RUN: nothing is
# fetched at build time).
build_on() {
  local base=$1 tag=$2 log
  shift 2
  log=$(mktemp)
  { echo "FROM $base"; printf '%s\n' "$@"; } | docker build -q -t "$tag" - >/dev/null 2>"$log" || {
    cat "$log" >&2
    rm -f "$log"
    exit 1
  }
  rm -f "$log"
  echo "$who: built $tag"
}

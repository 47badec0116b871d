#!/usr/bin/env bash
# Builds the example and test images (busybox:latest, redis:7) from Debian's own binaries into
# `docker save` tarballs under build/images/, without Docker and without the internet: the only
# thing fetched is Debian packages, with `apt-get download` from the machine's package archive.
#
#   scripts/build-images.sh            build what is missing or out of date
#   scripts/build-images.sh --force    rebuild everything
#
# Reproducible: every file in a layer has mtime 0 and numeric owners, entries are sorted, so the
# same packages give byte-identical layers (and the same digests, which the registry dedupes).
# Idempotent: an image is rebuilt only when this script or its packages changed.
set -euo pipefail
umask 022
export LC_ALL=C

cd "$(dirname "$0")/.."
root_dir=$PWD
out_dir=$root_dir/build/images
deb_dir=$out_dir/.cache/debs
work_dir=$out_dir/.work
force=0
[ "${1:-}" = "--force" ] && force=1

die() { echo "build-images: $*" >&2; exit 1; }
say() { echo "==> $*"; }

for tool in apt-get apt-cache dpkg-deb tar sha256sum find sort; do
  command -v "$tool" >/dev/null || die "'$tool' is missing; this script needs a Debian machine with dpkg, apt and GNU tar (run scripts/setup.sh)."
done
[ "$(uname -m)" = x86_64 ] || die "only x86_64 (amd64) hosts are supported, this is $(uname -m)."

mkdir -p "$deb_dir"
# Test suites may call this at the same time: one build at a time, the others then find it done.
if command -v flock >/dev/null; then
  exec 9>"$out_dir/.lock"
  flock 9
fi
trap 'rm -rf "$work_dir"' EXIT

# fetch_debs PKG... — downloads each package's .deb into the cache unless one is already there.
fetch_debs() {
  local missing=() pkg
  for pkg in "$@"; do
    compgen -G "$deb_dir/${pkg}_*.deb" >/dev/null || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "downloading Debian packages: ${missing[*]}"
  # Sandbox user root: the cache is owned by whoever runs this, and _apt may not be able to write it.
  if ! (cd "$deb_dir" && apt-get download -q -o APT::Sandbox::User=root "${missing[@]}" >/dev/null); then
    say "download failed; refreshing the package lists (apt-get update) and retrying"
    apt-get update -qq || die "apt-get update failed; check the machine's apt sources (/etc/apt/sources.list*)."
    (cd "$deb_dir" && apt-get download -q -o APT::Sandbox::User=root "${missing[@]}" >/dev/null) \
      || die "could not download ${missing[*]} from the Debian archive; check apt's sources and network access to the mirror."
  fi
}

deb_of() { compgen -G "$deb_dir/${1}_*.deb" | head -n1; }

# sha256_of FILE — the hex digest only.
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# make_layer ROOTFS OUT.tar [OWNER_UID:GID PATH...] — a reproducible layer tarball: sorted entries,
# no "./" prefix, mtime 0, numeric root owner; the listed paths (directories) are owned by OWNER.
make_layer() {
  local rootfs=$1 out=$2 owner=${3:-} list=$work_dir/entries.txt
  shift 3 || shift $#
  local special=("$@")
  (cd "$rootfs" && find . -mindepth 1 | sed 's|^\./||' | sort) >"$list"
  if [ ${#special[@]} -gt 0 ]; then
    local p
    for p in "${special[@]}"; do grep -vxF "$p" "$list" >"$list.tmp" || true; mv "$list.tmp" "$list"; done
  fi
  tar --create --file "$out" --directory "$rootfs" --format=gnu --no-recursion \
    --mtime=@0 --owner=0 --group=0 --numeric-owner --files-from "$list"
  if [ ${#special[@]} -gt 0 ]; then
    tar --append --file "$out" --directory "$rootfs" --format=gnu --no-recursion \
      --mtime=@0 --owner="${owner%%:*}" --group="${owner##*:}" --numeric-owner "${special[@]}"
  fi
}

# write_image OUT.tar TAG CONFIG_FRAGMENT LAYER.tar... — assembles a `docker save` tarball.
# CONFIG_FRAGMENT is the JSON body of the config's "config" object (Cmd, Env, ...).
write_image() {
  local out=$1 tag=$2 fragment=$3
  shift 3
  local img=$work_dir/image diff_ids=() layer_paths=() layer digest
  rm -rf "$img" && mkdir -p "$img"
  for layer in "$@"; do
    digest=$(sha256_of "$layer")
    mkdir -p "$img/$digest"
    cp "$layer" "$img/$digest/layer.tar"
    diff_ids+=("\"sha256:$digest\"")
    layer_paths+=("\"$digest/layer.tar\"")
  done
  local ids history=""
  ids=$(IFS=,; echo "${diff_ids[*]}")
  for _ in "$@"; do history+="${history:+,}{\"created\":\"1970-01-01T00:00:00Z\",\"created_by\":\"bosun scripts/build-images.sh\"}"; done
  printf '{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z","config":{%s},"rootfs":{"type":"layers","diff_ids":[%s]},"history":[%s]}' \
    "$fragment" "$ids" "$history" >"$img/config.json"
  local config_digest
  config_digest=$(sha256_of "$img/config.json")
  mv "$img/config.json" "$img/$config_digest.json"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":[%s]}]' \
    "$config_digest" "$tag" "$(IFS=,; echo "${layer_paths[*]}")" >"$img/manifest.json"
  (cd "$img" && find . -mindepth 1 | sed 's|^\./||' | sort) >"$work_dir/image-entries.txt"
  tar --create --file "$out.tmp" --directory "$img" --format=gnu --no-recursion \
    --mtime=@0 --owner=0 --group=0 --numeric-owner --files-from "$work_dir/image-entries.txt"
  mv "$out.tmp" "$out"
  say "wrote $out ($tag, config sha256:$config_digest, $(du -h "$out" | cut -f1))"
}

# up_to_date NAME HASH — true when build/images/NAME.tar was built from the same inputs.
up_to_date() {
  [ $force = 0 ] && [ -f "$out_dir/$1.tar" ] && [ -f "$out_dir/$1.tar.inputs" ] &&
    [ "$(cat "$out_dir/$1.tar.inputs")" = "$2" ]
}

script_hash=$(sha256_of "$0")
rm -rf "$work_dir" && mkdir -p "$work_dir"

# ---------------------------------------------------------------- busybox:latest
fetch_debs busybox-static
busybox_deb=$(deb_of busybox-static)
busybox_inputs="$script_hash $(sha256_of "$busybox_deb")"
busybox_layer=$out_dir/.cache/busybox-layer.tar

build_busybox_layer() {
  local x=$work_dir/busybox-deb rootfs=$work_dir/busybox-rootfs
  mkdir -p "$x" "$rootfs"
  dpkg-deb -x "$busybox_deb" "$x"
  [ -x "$x/bin/busybox" ] || die "$busybox_deb has no bin/busybox; is it really busybox-static?"
  mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/var/www" "$rootfs/root" "$rootfs/home"
  cp "$x/bin/busybox" "$rootfs/bin/busybox"
  # One symlink per applet, at the path busybox itself reports (bin/sh, usr/bin/wget, sbin/ip, ...).
  local applet
  while read -r applet; do
    [ -n "$applet" ] && [ "$applet" != bin/busybox ] || continue
    mkdir -p "$rootfs/$(dirname "$applet")"
    [ -e "$rootfs/$applet" ] || ln -s /bin/busybox "$rootfs/$applet"
  done < <("$x/bin/busybox" --list-full)
  [ -L "$rootfs/bin/sh" ] || die "busybox did not list a 'sh' applet; cannot build a usable image."
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
  chmod 1777 "$rootfs/tmp"
  chmod 700 "$rootfs/root"
  make_layer "$rootfs" "$busybox_layer"
}

path_env='"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]'
if up_to_date busybox "$busybox_inputs" && [ -f "$busybox_layer" ]; then
  say "busybox:latest is up to date ($out_dir/busybox.tar)"
else
  say "building busybox:latest from $(basename "$busybox_deb")"
  build_busybox_layer
  write_image "$out_dir/busybox.tar" busybox:latest "$path_env,\"Cmd\":[\"sh\"]" "$busybox_layer"
  echo "$busybox_inputs" >"$out_dir/busybox.tar.inputs"
fi

# ---------------------------------------------------------------- redis:7
# The shared libraries come from Debian's library packages (never from the host): every lib*
# package in redis-tools' dependency closure is extracted into a staging root, and the staged
# dynamic loader itself lists which of them the binaries need.
# libelogind0 is an alternative provider of libsystemd.so.0; libsystemd0 is the one Debian installs.
lib_closure() {
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
    --no-enhances --no-pre-depends redis-tools 2>/dev/null | grep -E '^lib' | grep -v '^libelogind' | sort -u || true
}
mapfile -t redis_lib_pkgs < <(lib_closure)
if [ ${#redis_lib_pkgs[@]} -eq 0 ]; then
  say "apt does not know redis-tools yet; refreshing the package lists (apt-get update)"
  apt-get update -qq || die "apt-get update failed; check the machine's apt sources (/etc/apt/sources.list*)."
  mapfile -t redis_lib_pkgs < <(lib_closure)
fi
[ ${#redis_lib_pkgs[@]} -gt 0 ] || die "apt-cache knows no dependencies of redis-tools; is a Debian archive with redis configured in /etc/apt/sources.list*?"
fetch_debs redis-server redis-tools "${redis_lib_pkgs[@]}"
redis_inputs="$script_hash $busybox_inputs"
for pkg in redis-server redis-tools "${redis_lib_pkgs[@]}"; do redis_inputs+=" $(basename "$(deb_of "$pkg")")"; done
redis_inputs=$(echo "$redis_inputs" | sha256sum | cut -d' ' -f1)

build_redis_layer() {
  local stage=$work_dir/redis-stage rootfs=$work_dir/redis-rootfs pkg
  mkdir -p "$stage" "$rootfs"
  for pkg in redis-server redis-tools "${redis_lib_pkgs[@]}"; do dpkg-deb -x "$(deb_of "$pkg")" "$stage"; done
  local loader=$stage/lib64/ld-linux-x86-64.so.2
  [ -e "$loader" ] || die "libc6 did not provide lib64/ld-linux-x86-64.so.2 in $stage."
  local libpath=$stage/lib/x86_64-linux-gnu:$stage/usr/lib/x86_64-linux-gnu
  mkdir -p "$rootfs/usr/bin" "$rootfs/lib64" "$rootfs/etc/redis"
  cp -L "$stage/usr/bin/redis-check-rdb" "$rootfs/usr/bin/redis-check-rdb"
  cp -L "$stage/usr/bin/redis-cli" "$rootfs/usr/bin/redis-cli"
  # Debian's redis-server is redis-check-rdb under another name (the binary dispatches on argv[0]).
  ln -s redis-check-rdb "$rootfs/usr/bin/redis-server"
  cp -L "$loader" "$rootfs/lib64/ld-linux-x86-64.so.2"
  local bin listing line lib
  for bin in redis-check-rdb redis-cli; do
    listing=$("$loader" --library-path "$libpath" --list "$stage/usr/bin/$bin") ||
      die "the dynamic loader could not resolve the libraries of $bin: $listing"
    if grep -q 'not found' <<<"$listing"; then
      die "$bin needs libraries that no downloaded package provides:$(grep 'not found' <<<"$listing")"
    fi
    while read -r line; do
      lib=$(sed -n 's|.*=> \([^ ]*\) (0x.*|\1|p' <<<"$line")
      [ -n "$lib" ] || continue
      case $lib in "$stage"/*) ;; *) die "$bin resolved $lib outside the staging root; refusing to copy host files." ;; esac
      mkdir -p "$rootfs/$(dirname "${lib#"$stage"/}")"
      cp -L "$lib" "$rootfs/${lib#"$stage"/}"
    done <<<"$listing"
  done
  cp "$stage/etc/redis/redis.conf" "$rootfs/etc/redis/redis.conf"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nredis:x:999:999:redis:/var/lib/redis:/bin/false\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\nredis:x:999:\n' >"$rootfs/etc/group"
  mkdir -p "$rootfs/var/lib/redis" "$rootfs/data"
  make_layer "$rootfs" "$work_dir/redis-layer.tar" 999:999 var/lib/redis data
}

if up_to_date redis "$redis_inputs"; then
  say "redis:7 is up to date ($out_dir/redis.tar)"
else
  say "building redis:7 from $(basename "$(deb_of redis-tools)") and ${#redis_lib_pkgs[@]} library packages"
  build_redis_layer
  write_image "$out_dir/redis.tar" redis:7 \
    "$path_env,\"Cmd\":[\"redis-server\"],\"WorkingDir\":\"/data\",\"ExposedPorts\":{\"6379/tcp\":{}}" \
    "$busybox_layer" "$work_dir/redis-layer.tar"
  echo "$redis_inputs" >"$out_dir/redis.tar.inputs"
fi

#!/usr/bin/env bash
# Installs everything bosun needs on a Debian machine (root) and builds the project.
# Safe to run again: it installs only what is missing and rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "bosun's local cloud needs root (network namespaces, loop devices, mounts): run this as root." >&2
  exit 1
fi

# Debian packages: the VM "stemcell" (dockerd, containerd, runc, docker-init), the image registry,
# disk tools (mkfs.ext4, resize2fs, losetup), network namespaces (ip) and rsync for disk migration.
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
command -v ip >/dev/null || need+=(iproute2)
command -v losetup >/dev/null || need+=(util-linux)
command -v rsync >/dev/null || need+=(rsync)
command -v iptables >/dev/null || need+=(iptables)
command -v dpkg-deb >/dev/null || need+=(dpkg)
# The stemcell builder (mmdebstrap) and the agent's ConfigDrive/CDROM settings sources (mtools, xorriso; mkfs.vfat in their tests).
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
command -v mcopy >/dev/null || need+=(mtools)
command -v xorriso >/dev/null || need+=(xorriso)
command -v mkfs.vfat >/dev/null || need+=(dosfstools)
if [ ${#need[@]} -gt 0 ]; then
  echo "==> installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# npm packages, only when package-lock.json changed since the last install.
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f node_modules/.bosun-lock-hash ] || [ "$(cat node_modules/.bosun-lock-hash)" != "$lock_hash" ]; then
  echo "==> installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.bosun-lock-hash
fi

echo "==> building"
npm run --silent build

echo "==> stemcell"
bash scripts/build-stemcell.sh

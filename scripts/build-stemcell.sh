#!/usr/bin/env bash
# Builds the bosun stemcell into stemcells/ (see docs/stemcells.md). Cached: the builder hashes its
# inputs (Debian package list and mirror, the built agent, node_modules' lock, the Node binary) and
# returns the existing tarball when nothing changed; the Debian root filesystem is cached apart, so
# a code change only re-packs the agent. Needs `npm run build` first (setup.sh does it).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p stemcells
exec 9>stemcells/.build.lock
flock 9
node dist/src/cli/main.js build-stemcell --out stemcells "$@"

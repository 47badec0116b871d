#!/usr/bin/env bash
# Sets everything up and runs bosun's whole test suite: type check + lint, unit and contract
# tests, and the end-to-end tests against real dockerd processes, namespaces and loop devices.
# Safe to run twice; leftovers of an interrupted earlier run are removed first and after.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash scripts/build-images.sh

cleanup() { bash scripts/cleanup-test-resources.sh || true; }
cleanup
trap cleanup EXIT

echo "==> lint"
npm run --silent lint

echo "==> tests"
npx vitest run --reporter=default

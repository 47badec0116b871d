#!/usr/bin/env bash
# Sets everything up, starts the director with the local cloud and deploys examples/demo.yml.
# Safe to run again: setup and image builds skip what is done, `bosun up` says when the director
# is already up, uploads are deduplicated by the registry, and a deploy with no changes converges.
#
#   bash scripts/demo.sh                      # data in /var/lib/bosun, CLI target in ~/.bosun/config
#   BOSUN_DATA_DIR=/tmp/bosun bash scripts/demo.sh
#
# Stop everything with `node dist/src/cli/main.js down --purge`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash scripts/build-images.sh

bosun() { node dist/src/cli/main.js "$@"; }

echo "==> starting the director"
bosun up ${BOSUN_DATA_DIR:+--data-dir "$BOSUN_DATA_DIR"}

echo "==> uploading images"
bosun upload-image build/images/busybox.tar
bosun upload-image build/images/redis.tar

echo "==> deploying examples/demo.yml"
bosun -d demo deploy examples/demo.yml -n

echo "==> instances"
bosun -d demo instances --ps

# Where the services are: the VM's address on the bridge and the ports the manifest binds.
ip=$(bosun -d demo --json instances | node -e '
  let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
    const i = JSON.parse(s).find((x) => x.group === "docker-vm-1" && x.ip);
    process.stdout.write(i ? i.ip : "");
  });')
if [ -n "$ip" ]; then
  cat <<MSG

The demo runs on VM $ip (reachable from this host over the bosun0 bridge):
  redis     $ip:6379        (appendonly, data on the persistent disk)
  web       http://$ip:8080/  (inline Dockerfile, linked to redis)
  notes     http://$ip:8081/boots.txt  (one line per start, kept on the persistent disk)

Try: bosun -d demo logs docker-vm-1/0 redis --lines 20
     bosun -d demo recreate docker-vm-1/0 -n    (a new VM; the disk and its data come along)
     bosun down --purge                          (stop the director, delete VMs, disks and data)
MSG
fi

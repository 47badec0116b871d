#!/usr/bin/env bash
# Removes what earlier test runs of the local cloud left behind: processes and network namespaces
# (bosun-*) of their VMs, veths, bridges (bosunt*), loop devices backed by files under
# /tmp/bosun-test-*, mounts under those dirs, cgroup dirs (bosun-*) and the dirs themselves.
#
# Safe to run any time: a test dir whose owner process (owner.pid, written by
# test/helpers/local-cloud-fixture.ts) is still alive is left alone, as is a dir without an owner
# file changed in the last 10 minutes, and everything on the bridges of such live runs.
# `--force` removes every test resource regardless. Never touches anything outside these names.
set -u
force=0
[ "${1:-}" = "--force" ] && force=1

log() { echo "cleanup-test-resources: $*"; }

live_bridges=" "
# A live run still choosing its bridge has claimed one not yet named in its dir: spare all bridges then.
unnamed_live_run=0
live_vms=" "
stale_dirs=()
for d in /tmp/bosun-test-*; do
  [ -d "$d" ] || continue
  owner=$(cat "$d/owner.pid" 2>/dev/null || true)
  if [ "$force" = 0 ]; then
    if { [ -n "$owner" ] && kill -0 "$owner" 2>/dev/null; } ||
      { [ -z "$owner" ] && [ -n "$(find "$d" -maxdepth 0 -mmin -10 2>/dev/null)" ]; }; then
      for vm in "$d"/vms/*/; do [ -d "$vm" ] && live_vms+="$(basename "$vm") "; done
      if [ -f "$d/bridge" ]; then live_bridges+="$(cat "$d/bridge") "; else unnamed_live_run=1; fi
      continue
    fi
  fi
  stale_dirs+=("$d")
done

# Kills every process of a VM (those in its netns; killing the VM's PID 1 takes the rest of its
# PID namespace with it) and removes its netns, veth and cgroup dirs.
remove_vm() {
  local cid=$1 ns="bosun-$1" pids
  if [ -e "/run/netns/$ns" ]; then
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    if [ -n "$pids" ]; then
      log "killing processes of $ns: $(echo $pids)"
      kill -9 $pids 2>/dev/null || true
      for _ in $(seq 1 50); do
        [ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break
        sleep 0.1
      done
    fi
    log "deleting netns $ns"
    ip netns del "$ns" 2>/dev/null || true
  fi
  local tail
  tail=$(echo "$cid" | tr -cd 'A-Za-z0-9' | tail -c 13)
  ip link del "bv$tail" 2>/dev/null || true
  remove_cgroups "$cid"
}

remove_cgroups() {
  local dir
  for dir in /sys/fs/cgroup/bosun-"$1" /sys/fs/cgroup/*/bosun-"$1"; do
    [ -d "$dir" ] || continue
    find "$dir" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
}

for d in "${stale_dirs[@]}"; do
  log "removing leftovers of $d"
  for vm in "$d"/vms/*/; do
    [ -d "$vm" ] || continue
    remove_vm "$(basename "$vm")"
  done
  # mounts under the dir, deepest first
  grep -F " $d/" /proc/self/mounts | awk '{print $2}' | sort -r | while read -r m; do
    log "unmounting $m"
    umount -l "$m" 2>/dev/null || true
  done
  losetup -l -n -O NAME,BACK-FILE 2>/dev/null | while read -r dev file; do
    case "$file" in
      "$d"/*) log "detaching $dev ($file)"; losetup -d "$dev" 2>/dev/null || true ;;
    esac
  done
  br=$(cat "$d/bridge" 2>/dev/null || true)
  [ -n "$br" ] && ip link del "$br" 2>/dev/null && log "deleted bridge $br"
  rm -rf "$d"
done

# Loop devices whose backing test dir is already gone ("(deleted)").
losetup -l -n -O NAME,BACK-FILE 2>/dev/null | while read -r dev file rest; do
  case "$file" in
    /tmp/bosun-test-*)
      if [ ! -e "$file" ] || [ "${rest:-}" = "(deleted)" ]; then
        log "detaching $dev ($file $rest)"
        losetup -d "$dev" 2>/dev/null || true
      fi ;;
  esac
done

# Network namespaces bosun-* that belong to no live test run: their host veth is missing, has no
# bridge, or sits on a test bridge (bosunt*) of no live run. VMs of a real cloud (bridge bosun0 or
# any other non-test bridge) are left alone unless --force.
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^bosun-' || true); do
  cid=${ns#bosun-}
  [[ "$live_vms" == *" $cid "* ]] && continue
  tail=$(echo "$cid" | tr -cd 'A-Za-z0-9' | tail -c 13)
  master=$(ip -o link show "bv$tail" 2>/dev/null | sed -n 's/.* master \([^ ]*\) .*/\1/p')
  if [ "$force" = 1 ] || [ -z "$master" ] ||
    { [[ "$master" == bosunt* ]] && [[ "$live_bridges" != *" $master "* ]]; }; then
    remove_vm "$cid"
  fi
done

# Test bridges of no live run.
for br in $(ip -o link show type bridge 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^bosunt' || true); do
  if [ "$unnamed_live_run" = 0 ] && [[ "$live_bridges" != *" $br "* ]]; then
    log "deleting bridge $br"
    ip link del "$br" 2>/dev/null || true
  fi
done

# Empty cgroup dirs of VMs whose namespace is gone (rmdir refuses non-empty cgroups).
for dir in /sys/fs/cgroup/bosun-* /sys/fs/cgroup/*/bosun-*; do
  [ -d "$dir" ] || continue
  cid=$(basename "$dir"); cid=${cid#bosun-}
  [ -e "/run/netns/bosun-$cid" ] && continue
  find "$dir" -depth -type d -exec rmdir {} \; 2>/dev/null || true
done
exit 0

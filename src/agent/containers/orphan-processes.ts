import { readFileSync } from 'node:fs';

/**
 * SIGKILLs the main process of a container whose dockerd died, when `/proc/<pid>/cgroup` shows it
 * is still that container's (a pid may have been reused). Returns whether it killed it.
 *
 * Why: without live-restore, a restarted dockerd stops every container that outlived the old one
 * (their shims keep them running) before it answers, each with its stop signal and stop timeout,
 * so one container that ignores SIGTERM holds up the whole VM for its timeout. They are going to
 * be restarted anyway; killing them first lets dockerd come back at once.
 */
export function killOrphanedContainerProcess(pid: number, dockerId: string): boolean {
  if (pid <= 1 || dockerId.length < 12) return false;
  let cgroup: string;
  try {
    cgroup = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return false;
  }
  if (!cgroup.includes(dockerId)) return false;
  try {
    process.kill(pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}

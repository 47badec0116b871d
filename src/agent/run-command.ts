import { spawn } from 'node:child_process';
import type { RunCommandResult } from '../common/contracts/agent-protocol.js';

const MAX_OUTPUT_BYTES = 1024 * 1024;

/** `sh -c CMD` on the VM with DOCKER_HOST set to the VM's dockerd; killed after `timeoutMs`. */
export function runCommand(command: string, timeoutMs: number, env: Record<string, string>): Promise<RunCommandResult> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', command], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    child.stdout.on('data', (b: Buffer) => {
      if (outLen < MAX_OUTPUT_BYTES) out.push(b);
      outLen += b.length;
    });
    child.stderr.on('data', (b: Buffer) => {
      if (errLen < MAX_OUTPUT_BYTES) err.push(b);
      errLen += b.length;
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    const finish = (code: number): void => {
      clearTimeout(timer);
      let stderr = Buffer.concat(err).toString('utf8');
      if (timedOut) stderr += `\nbosun: the command was killed after ${timeoutMs} ms (timeout).`;
      resolve({ exitCode: timedOut ? 124 : code, stdout: Buffer.concat(out).toString('utf8'), stderr });
    };
    child.on('error', (e) => {
      err.push(Buffer.from(String(e.message)));
      finish(127);
    });
    child.on('close', (code, signal) => finish(code ?? (signal ? 128 + 9 : 1)));
  });
}

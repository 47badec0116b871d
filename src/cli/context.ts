import { accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { sleep } from '../common/waiting.js';

/**
 * Everything a command needs from the process it runs in. main.ts builds it from the real process
 * (the only place that reads process.env); tests pass their own to drive commands in process.
 */
export interface CliContext {
  env: Record<string, string | undefined>;
  homeDir: string;
  /** True when a person can answer a confirmation question on stdin. */
  stdinIsTty: boolean;
  prompt(question: string): Promise<string>;
  /** Full path of an executable on PATH, or null. */
  which(command: string): string | null;
  isRoot(): boolean;
  /** How often task events and followed logs are polled. */
  pollIntervalMs: number;
  sleep(ms: number): Promise<void>;
}

export function processContext(): CliContext {
  const env = { ...process.env };
  return {
    env,
    homeDir: homedir(),
    stdinIsTty: Boolean(process.stdin.isTTY),
    prompt: async (question) => {
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        return await rl.question(question);
      } finally {
        rl.close();
      }
    },
    which: (command) => findOnPath(command, env['PATH'] ?? ''),
    isRoot: () => typeof process.getuid === 'function' && process.getuid() === 0,
    pollIntervalMs: 500,
    sleep: (ms) => sleep(ms),
  };
}

/** Like `command -v`, including the sbin directories that a non-login root shell may lack. */
export function findOnPath(command: string, pathEnv: string): string | null {
  const dirs = [
    ...pathEnv.split(delimiter),
    '/usr/local/sbin',
    '/usr/sbin',
    '/sbin',
    '/usr/bin',
    '/bin',
  ].filter(Boolean);
  for (const dir of new Set(dirs)) {
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { InstanceSpec } from '../common/contracts/instance-spec.js';
import type { DiskHint } from '../common/contracts/disk-hint.js';

/** What the agent must remember across its own restarts and VM reboots. */
export interface PersistedState {
  spec: InstanceSpec | null;
  /** The instance was stopped on purpose: containers stay down until `start`. */
  stopped: boolean;
  disks: Array<{ diskCid: string; hint: DiskHint; target: 'store' | 'migration' }>;
}

export const EMPTY_STATE: PersistedState = { spec: null, stopped: false, disks: [] };

/** `<ephemeral>/agent-state.json`, written atomically (temp file + rename), mode 0600. */
export class StateFile {
  readonly path: string;

  constructor(ephemeralDir: string) {
    this.path = join(ephemeralDir, 'agent-state.json');
  }

  async load(): Promise<PersistedState> {
    try {
      const raw = JSON.parse(await readFile(this.path, 'utf8')) as Partial<PersistedState>;
      return { spec: raw.spec ?? null, stopped: raw.stopped ?? false, disks: raw.disks ?? [] };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ...EMPTY_STATE, disks: [] };
      throw err;
    }
  }

  async save(state: PersistedState): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    // 0600: the applied spec holds the containers' environment, secrets included.
    await writeFile(tmp, JSON.stringify(state, null, 2), { mode: 0o600 });
    await chmod(tmp, 0o600);
    await rename(tmp, this.path);
  }
}

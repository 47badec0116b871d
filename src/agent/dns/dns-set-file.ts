import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { DnsRecordSet } from '../../common/contracts/dns-records.js';
import type { Logger } from '../../common/logger.js';
import { parseDnsSet } from './dns-record-store.js';

/**
 * `<ephemeral>/dns-records.json`: the last record set pushed, written atomically (temp file +
 * rename), mode 0600 like the state file. Names keep resolving from it while the director is away
 * and after an agent or VM restart.
 */
export class DnsSetFile {
  readonly path: string;

  constructor(
    dataDir: string,
    private readonly log: Logger,
  ) {
    this.path = join(dataDir, 'dns-records.json');
  }

  /** The saved set; null when there is none. A damaged file is logged and ignored (the director pushes again). */
  async load(): Promise<DnsRecordSet | null> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    let set: DnsRecordSet | null = null;
    try {
      set = parseDnsSet(JSON.parse(text));
    } catch {
      set = null;
    }
    if (!set) this.log.warn('the saved DNS record set is damaged; answering from an empty set until the director pushes one', { file: this.path });
    return set;
  }

  async save(set: DnsRecordSet): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(set), { mode: 0o600 });
    await chmod(tmp, 0o600);
    await rename(tmp, this.path);
  }
}

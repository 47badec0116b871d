/** mount_disk without a hint (a v1 CPI's attach_disk gives none) takes the disk from the settings read again. */
import { describe, expect, it } from 'vitest';
import { diskHintFor, isEmptyHint } from '../../../../src/agent/settings/disk-hint-from-settings.js';
import type { AgentSettings } from '../../../../src/common/contracts/agent-settings.js';

const withDisks = (disks: AgentSettings['disks']): (() => Promise<AgentSettings>) => {
  const reread = async (): Promise<AgentSettings> => ({ disks } as unknown as AgentSettings);
  return reread;
};

describe('the disk hint of mount_disk', () => {
  it('is the one given when the CPI gave one', async () => {
    let reads = 0;
    const hint = await diskHintFor('d1', { path: '', volume_id: 'vol-1' }, async () => {
      reads++;
      return {} as AgentSettings;
    });
    expect(hint).toEqual({ path: '', volume_id: 'vol-1' });
    expect(reads).toBe(0);
  });

  it('comes from the settings read again when the CPI gave none', async () => {
    expect(isEmptyHint({ path: '' })).toBe(true);
    expect(await diskHintFor('d1', { path: '' }, withDisks({ d1: { path: '/dev/sdc' } }))).toEqual({ path: '/dev/sdc' });
  });

  it('fails, naming what the settings have, when they do not name the disk', async () => {
    await expect(diskHintFor('d1', { path: '' }, withDisks({ d2: { path: '/dev/sdd' } }))).rejects.toThrow(/name no persistent disk d1 \(disks.persistent has d2\)/);
    await expect(diskHintFor('d1', { path: '' }, undefined)).rejects.toThrow(/no settings source/);
  });
});

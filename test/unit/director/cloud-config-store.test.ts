import { afterEach, describe, expect, it } from 'vitest';
import { InvalidManifestError } from '../../../src/common/errors.js';
import { createTestDirector, type TestDirector } from '../../helpers/director-fixtures.js';

let t: TestDirector | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe("the director's cloud config", () => {
  it('keeps versions (the same text makes none), diffs against the current one and refuses an invalid one', async () => {
    t = await createTestDirector();
    const d = t.director;
    expect(await d.getCloudConfig()).toEqual({ text: null, version: 0, createdAt: null, user: null });
    expect((await d.diffCloudConfig('azs: [{name: z1}]')).text).toBe('+ azs/z1');
    expect((await d.updateCloudConfig('azs: [{name: z1}]', 'admin')).version).toBe(1);
    expect((await d.updateCloudConfig('azs: [{name: z1}]', 'admin')).version).toBe(1);
    const second = await d.updateCloudConfig('azs: [{name: z2}]', 'ops');
    expect(second).toMatchObject({ version: 2, user: 'ops', text: 'azs: [{name: z2}]' });
    expect((await d.diffCloudConfig('azs: [{name: z2}, {name: z3}]')).text).toBe('+ azs/z3');
    await expect(d.updateCloudConfig('azs: [{nam: z1}]', 'admin')).rejects.toBeInstanceOf(InvalidManifestError);
    expect((await d.getCloudConfig()).version).toBe(2);
    const events = await d.listEvents({});
    expect(events.filter((e) => e.objectType === 'cloud-config').length).toBe(2);
  });
});

import { describe, expect, it } from 'vitest';
import { nearestKey } from '../../../src/manifest/nearest-key.js';

describe('nearestKey', () => {
  it('names the closest known key for a typo, and nothing for a key that is not near any', () => {
    expect(nearestKey('instnces', ['instances', 'name', 'networks'])).toBe('instances');
    expect(nearestKey('persistant_disk', ['persistent_disk', 'vm_type'])).toBe('persistent_disk');
    expect(nearestKey('zzzzzz', ['instances', 'name'])).toBeNull();
    expect(nearestKey('x', [])).toBeNull();
  });
});

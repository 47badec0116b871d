import { describe, expect, it } from 'vitest';
import { checkPrerequisites, PREREQUISITES } from '../../../src/cli/prerequisites.js';
import { newLines } from '../../../src/cli/commands/instances.js';

describe('bosun up prerequisites', () => {
  const all = new Set(PREREQUISITES.map((p) => p.command));

  it('passes when everything is installed and we are root', () => {
    expect(
      checkPrerequisites({ isRoot: () => true, which: (c) => (all.has(c) ? `/usr/bin/${c}` : null) }),
    ).toBeNull();
  });

  it('names the missing commands and the one apt-get command that installs them', () => {
    const missing = new Set(['dockerd', 'docker-init', 'rsync']);
    const message = checkPrerequisites({
      isRoot: () => true,
      which: (c) => (missing.has(c) ? null : `/usr/bin/${c}`),
    });
    expect(message).toContain('dockerd, docker-init, rsync');
    expect(message).toContain('`apt-get install -y docker.io rsync`');
  });

  it('asks for root first', () => {
    expect(checkPrerequisites({ isRoot: () => false, which: () => null })).toMatch(/needs root/);
  });
});

describe('logs --follow', () => {
  it('prints only the lines a new window adds', () => {
    expect(newLines('', 'a\nb\n')).toBe('a\nb\n');
    expect(newLines('a\nb\n', 'a\nb\nc\n')).toBe('c\n');
    expect(newLines('a\nb\nc\n', 'b\nc\nd\ne\n')).toBe('d\ne\n');
    expect(newLines('a\nb\n', 'a\nb\n')).toBe('');
  });
});

/**
 * bosun-local-cpi as an external CPI for tests: the built entry point (run `npm run build`), run
 * by this node, configured with a local-cloud fixture's data dir, bridge and subnet.
 */
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { ExternalCloudOptions } from '../../src/cloud/external/index.js';

const repoRoot = ((): string => {
  const up = resolve(import.meta.dirname, '../..');
  return basename(up) === 'dist' ? dirname(up) : up;
})();

export const builtLocalCpi = join(repoRoot, 'dist/src/cloud/local-cpi/main.js');

export function assertLocalCpiBuilt(): void {
  if (!existsSync(builtLocalCpi)) throw new Error(`${builtLocalCpi} is missing: run \`npm run build\` first.`);
}

export interface LocalCpiProperties {
  data_dir: string;
  bridge: string;
  subnet: string;
  agent_command?: string[];
}

export function localCpiOptions(properties: LocalCpiProperties): ExternalCloudOptions {
  assertLocalCpiBuilt();
  return { cpi: process.execPath, cpiArgs: [builtLocalCpi], properties: { ...properties } };
}

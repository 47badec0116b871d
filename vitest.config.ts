import { defineConfig } from 'vitest/config';

// e2e and contract tests drive real namespaces, loop devices and dockerd processes on one
// host: they run one file at a time so that they never compete for the bridge or the CPU.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});

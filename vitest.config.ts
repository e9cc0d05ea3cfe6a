import { defineConfig } from 'vitest/config';

// Integration tests start real servers (local OSS, FC gateway, sshd) on loopback and move GBs,
// so they get generous timeouts; speed itself is measured by `npm run bench:*`, never by tests.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
    reporters: ['default'],
  },
});

import { defineConfig } from 'vitest/config';

// packages/client is published built; inside the workspace its TypeScript sources are used (packages/client/README.md)
// (the rest is vite's default for server code)
const conditions = ['central-logger-source', 'module', 'node', 'development|production'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ['test/**/*.test.ts'],
    // the fault suite runs on its own: npm run test:faults
    exclude: ['test/faults/**', '**/node_modules/**'],
    globalSetup: ['test/support/global-setup.ts'],
    // kills, by process group, whatever a file's tests spawned and did not stop
    setupFiles: ['test/support/child-cleanup.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // each file makes its own database, queue prefix and tenants, so files run in parallel
    fileParallelism: true,
    reporters: ['default'],
  },
});

import { defineConfig } from 'vitest/config';

// workspace packages export their compiled dist/ by default; tests use their TypeScript sources (packages/client/README.md)
// (the rest is vite's default for server code)
export const conditions = ['central-logger-source', 'module', 'node', 'development|production'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ['test/**/*.test.ts'],
    // the fault suite runs on its own: npm run test:faults
    exclude: ['test/faults/**', '**/node_modules/**'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // each file makes its own database, queue prefix and tenants, so files run in parallel
    fileParallelism: true,
    reporters: ['default'],
  },
});

import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

// workspace packages export their compiled dist/ by default; tests use their TypeScript sources (packages/client/README.md)
// (the rest is vite's default for server code)
export const conditions = ['central-logger-source', 'module', 'node', 'development|production'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  // the environment vitest loads globalSetup in (test/support/global-setup.ts imports @central-logger/db):
  // without this it took the packages' dist/, so a checkout never built failed before any test
  environments: { __vitest__: { resolve: { conditions } } },
  test: {
    include: ['test/**/*.test.ts'],
    // the fault suite runs on its own: npm run test:faults
    exclude: ['test/faults/**', '**/node_modules/**'],
    globalSetup: ['test/support/global-setup.ts'],
    // kills, by process group, whatever a file's tests spawned and did not stop
    setupFiles: ['test/support/child-cleanup.ts'],
    pool: 'forks',
    // One fork per worker runs file after file, importing the workspace once instead of per file: isolated,
    // each file re-imported the apps, BullMQ, Koa, pino… (5-9 s a file on this 2-core machine, most of a
    // run). Files share nothing but those modules: each has its own database, queue prefix, servers and
    // tenants, and the counters tests read (bcryptCalls) are compared before and after.
    isolate: false,
    // vitest's default on 2 cores is 1 worker: files would run one at a time, while most of a file's time
    // is spent waiting on Postgres, Redis and child processes
    maxWorkers: Math.max(2, availableParallelism() - 1),
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // each file makes its own database, queue prefix and tenants, so files run in parallel
    fileParallelism: true,
    reporters: ['default'],
  },
});

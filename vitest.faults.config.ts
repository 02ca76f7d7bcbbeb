import { defineConfig } from 'vitest/config';
import { conditions } from './vitest.config.js';

// The fault suite (`npm run test:faults`): real processes, killed and restarted
// on purpose. Files run one at a time so their timings do not disturb each other.
export default defineConfig({
  // the sources of the workspace packages, as in the main suite (vitest.config.ts)
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  environments: { __vitest__: { resolve: { conditions } } },
  test: {
    include: ['test/faults/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // kills, by process group, whatever a file's tests spawned and did not stop
    setupFiles: ['test/support/child-cleanup.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});

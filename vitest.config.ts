import { defineConfig } from 'vitest/config';

// One vitest process for the whole workspace. Workspace packages resolve to their
// TypeScript sources through the "@cnn-xai/source" export condition, so tests never
// depend on stale builds; the CLI tests run the built binary (root `test` builds first).
export default defineConfig({
  resolve: { conditions: ['@cnn-xai/source'] },
  ssr: { resolve: { conditions: ['@cnn-xai/source'] } },
  test: {
    // apps/*/test: the built site and deck in headless Chromium (the root `test` script builds first).
    include: ['packages/*/src/**/*.test.ts', 'plugins/*/src/**/*.test.ts', 'fixtures/**/*.test.ts', 'apps/*/test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Explanations run on one thread unless a test asks for workers (packages/core/src/parallel,
    // packages/cli/src/workers.test.ts): two test forks already fill the two cores here.
    env: { CNN_XAI_WORKERS: '0' },
    maxWorkers: 2,
    reporters: ['default'],
  },
});

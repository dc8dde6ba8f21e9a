import { defineConfig } from 'vitest/config';

// The release tests run git and node in temporary repositories: a few seconds each on a busy machine.
export default defineConfig({ test: { include: ['test/**/*.test.mjs'], testTimeout: 60_000 } });

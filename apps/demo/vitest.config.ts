import { defineConfig } from 'vitest/config';

// The smoke test starts PGlite (about 4 s in WASM) and the server tests talk to real servers,
// so the timeouts are larger than vitest's 5 s default; every wait in them is still bounded.
export default defineConfig({
  test: { include: ['test/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 60_000 },
});

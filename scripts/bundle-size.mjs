#!/usr/bin/env node
// What each valve costs in a user's bundle: esbuild bundles one import of the built package (dist,
// as published) for Node, minified, tree-shaken, and prints the minified and gzipped bytes next to
// the peers it replaces, and how many of those bytes come from @valve/core. A report, never a
// failure on size (CI prints it). Run after `pnpm build`: `node scripts/bundle-size.mjs [--markdown]`.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const root = new URL('..', import.meta.url).pathname;
// The bench workspace depends on every valve and every peer, so imports resolve from there.
const resolveDir = join(root, 'bench');
const esbuild = createRequire(join(root, 'package.json'))('esbuild');
const markdown = process.argv.includes('--markdown');

// [label, import statement, the imported name to keep]
const cases = [
  ['@valve/burst `BurstValve`', "import { BurstValve as X } from '@valve/burst';"],
  ['burst-valve', "import { BurstValve as X } from 'burst-valve';"],
  ['dataloader', "import X from 'dataloader';"],
  ['@valve/pool `PromisePool`', "import { PromisePool as X } from '@valve/pool';"],
  ['p-queue', "import X from 'p-queue';"],
  ['p-limit', "import X from 'p-limit';"],
  ['@supercharge/promise-pool', "import { PromisePool as X } from '@supercharge/promise-pool';"],
  [
    '@valve/backpressure `BackpressureController`',
    "import { BackpressureController as X } from '@valve/backpressure';",
  ],
  ['@valve/safety `SafetyValve`', "import { SafetyValve as X } from '@valve/safety';"],
  ['cockatiel `bulkhead`', "import { bulkhead as X } from 'cockatiel';"],
  ['@valve/redis `RedisTokenBucket` (ioredis external)', "import { RedisTokenBucket as X } from '@valve/redis';"],
  [
    'rate-limiter-flexible `RateLimiterRedis` (ioredis external)',
    "import { RateLimiterRedis as X } from 'rate-limiter-flexible';",
  ],
  ['@valve/core `isValveError`', "import { isValveError as X } from '@valve/core';"],
  [
    '`BurstValve` + `PromisePool` + `SafetyValve` in one bundle',
    "import { BurstValve } from '@valve/burst'; import { PromisePool } from '@valve/pool'; import { SafetyValve } from '@valve/safety'; const X = [BurstValve, PromisePool, SafetyValve];",
  ],
];

/** Minified bytes, gzipped bytes and bytes from @valve/core's dist for one import. */
export function measure(importLine) {
  const result = esbuild.buildSync({
    stdin: { contents: `${importLine}\nglobalThis.__keep = X;\n`, resolveDir, loader: 'js' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: ['ioredis'],
    write: false,
    metafile: true,
    outfile: 'out.js',
    logLevel: 'silent',
  });
  const code = result.outputFiles[0].contents;
  const inputs = Object.values(result.metafile.outputs)[0].inputs;
  let core = 0;
  for (const [file, { bytesInOutput }] of Object.entries(inputs)) {
    if (/packages\/core\/dist\//.test(file)) core += bytesInOutput;
  }
  return { min: code.length, gzip: gzipSync(code, { level: 9 }).length, core };
}

const kb = (n) => `${(n / 1000).toFixed(1)} kB`;
const rows = cases.map(([label, line]) => ({ label, ...measure(line) }));
if (markdown) {
  console.log('| import | minified | gzipped | of which @valve/core |\n| --- | ---: | ---: | ---: |');
  for (const r of rows) {
    const core = r.core > 0 && !r.label.startsWith('@valve/core') ? kb(r.core) : '';
    console.log(`| ${r.label} | ${kb(r.min)} | ${kb(r.gzip)} | ${core} |`);
  }
} else {
  console.log('bundle size (esbuild, minified, platform node, one import):');
  for (const r of rows) {
    const core = r.label.startsWith('@valve/') && r.core > 0 ? `  (core ${kb(r.core)})` : '';
    console.log(`  ${r.label.padEnd(60)} ${kb(r.min).padStart(9)} min ${kb(r.gzip).padStart(9)} gzip${core}`);
  }
}

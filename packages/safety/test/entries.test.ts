// What each built entry loads at run time: the root entry imports nothing but @valve/core (and Node
// built-ins: node:async_hooks carries a queued job's async context), and the
// framework adapters import only their types from fastify/koa/hono, so `import '@valve/safety'`
// never loads a framework and each adapter loads only with its subpath. Reads dist/ (turbo builds
// this package before its tests).
import { existsSync, readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)["']([^"']+)["']/g;

/** Bare specifiers loaded by `file` and the chunks it imports, Node built-ins left out. */
function packageImports(file: string): string[] {
  return [...bareImports(file)].filter((spec) => !isBuiltin(spec));
}

/** Bare specifiers loaded by `file` and the chunks it imports, followed transitively. */
function bareImports(file: string, seen = new Set<string>()): Set<string> {
  const bare = new Set<string>();
  if (seen.has(file)) return bare;
  seen.add(file);
  const source = readFileSync(file, 'utf8');
  for (const [, spec] of source.matchAll(SPECIFIER)) {
    if (spec!.startsWith('.')) {
      for (const b of bareImports(join(dirname(file), spec!), seen)) bare.add(b);
    } else bare.add(spec!);
  }
  return bare;
}

describe('built entries', () => {
  it('dist exists (run the build first: turbo does)', () => {
    expect(existsSync(join(dist, 'index.js')), `no ${dist}/index.js: run pnpm build`).toBe(true);
  });

  it.each(['index.js', 'index.cjs'])('the root entry %s imports nothing but @valve/core', (file) => {
    expect(packageImports(join(dist, file))).toEqual(['@valve/core']);
  });

  it.each(['http', 'fastify', 'koa', 'hono'].flatMap((e) => [`${e}.js`, `${e}.cjs`]))(
    'the %s adapter loads no framework code (types only)',
    (file) => {
      expect(packageImports(join(dist, file))).toEqual(['@valve/core']);
    },
  );

  it('the scan sees a framework import when there is one', () => {
    const probe = 'import { Hono } from "hono";\nconst x = require("koa");';
    expect([...probe.matchAll(SPECIFIER)].map((m) => m[1])).toEqual(['hono', 'koa']);
  });
});

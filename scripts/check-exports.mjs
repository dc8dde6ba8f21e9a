#!/usr/bin/env node
// Packs every publishable package and runs publint (strict) and attw on the tarball: the
// ecosystem's checks that `exports` works for ESM and CJS consumers and for every resolver.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const out = mkdtempSync(join(tmpdir(), 'valve-pack-'));
let failures = 0;
for (const d of readdirSync(join(root, 'packages'))) {
  const dir = join(root, 'packages', d);
  let pkg;
  try {
    pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  } catch {
    continue;
  }
  if (pkg.private) continue;
  const before = new Set(readdirSync(out));
  execFileSync('pnpm', ['pack', '--pack-destination', out], { cwd: dir, stdio: 'ignore' });
  const tarball = readdirSync(out).find((f) => !before.has(f));
  const file = join(out, tarball);
  for (const [cmd, args] of [
    ['publint', ['run', '--strict', file]],
    ['attw', [file, '--format', 'ascii']],
  ]) {
    try {
      execFileSync(join(root, 'node_modules', '.bin', cmd), args, { stdio: 'pipe' });
      console.log(`ok   ${cmd} ${pkg.name}`);
    } catch (error) {
      failures++;
      console.error(`FAIL ${cmd} ${pkg.name}\n${error.stdout?.toString() ?? ''}${error.stderr?.toString() ?? ''}`);
    }
  }
}
rmSync(out, { recursive: true, force: true });
process.exitCode = failures > 0 ? 1 : 0;

#!/usr/bin/env node
// Packs every publishable package and runs publint (strict) and attw on the tarball: the
// ecosystem's checks that `exports` works for ESM and CJS consumers and for every resolver. Then
// checks what the tarball holds (LICENSE, README, CHANGELOG when there is one, dist) and that its
// package.json is installable by a user: no devDependencies or scripts (.pnpmfile.cjs drops them),
// no `workspace:` range, no dependency on a private workspace package. Prints each tarball's size.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const out = mkdtempSync(join(tmpdir(), 'valve-pack-'));
let failures = 0;
const privateNames = new Set();
for (const group of ['packages', 'apps']) {
  for (const d of readdirSync(join(root, group))) {
    const file = join(root, group, d, 'package.json');
    if (existsSync(file) && JSON.parse(readFileSync(file, 'utf8')).private) {
      privateNames.add(JSON.parse(readFileSync(file, 'utf8')).name);
    }
  }
}
const sizes = [];
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
  const problems = tarballProblems(dir, file);
  if (problems.length > 0) {
    failures++;
    console.error(`FAIL contents ${pkg.name}:\n  ${problems.join('\n  ')}`);
  } else {
    console.log(`ok   contents ${pkg.name}`);
  }
}
console.log('\n| package | tarball (gzip) | unpacked | files |\n| --- | ---: | ---: | ---: |');
for (const s of sizes) {
  console.log(`| \`${s.name}\` | ${kb(s.packed)} | ${kb(s.unpacked)} | ${s.files} |`);
}

function kb(bytes) {
  return `${(bytes / 1000).toFixed(1)} kB`;
}

/** What is wrong with one packed tarball (empty when nothing is). */
function tarballProblems(dir, file) {
  const problems = [];
  const listing = execFileSync('tar', ['tzvf', file], { encoding: 'utf8' }).trim().split('\n');
  const entries = new Map();
  for (const line of listing) {
    const cols = line.trim().split(/\s+/);
    entries.set(
      cols
        .slice(5)
        .join(' ')
        .replace(/^package\//, ''),
      Number(cols[2]),
    );
  }
  const required = ['package.json', 'LICENSE', 'README.md', 'dist/index.js', 'dist/index.cjs', 'dist/index.d.ts'];
  if (existsSync(join(dir, 'CHANGELOG.md'))) required.push('CHANGELOG.md');
  for (const f of required) if (!entries.has(f)) problems.push(`missing ${f}`);
  for (const f of entries.keys()) {
    if (!/^(package\.json|LICENSE|README\.md|CHANGELOG\.md|dist\/.+)$/.test(f)) problems.push(`unexpected file ${f}`);
  }
  // Nothing @internal ships (stripInternal in tsconfig.base.json; issue 14), nor pool's internal Cohort types.
  for (const f of entries.keys()) {
    if (!/\.d\.c?ts$/.test(f)) continue;
    const dts = execFileSync('tar', ['xzf', file, '-O', `package/${f}`], { encoding: 'utf8' });
    if (dts.includes('@internal')) problems.push(`${f} contains an @internal declaration`);
    if (/\bCohort(Owner)?\b/.test(dts)) problems.push(`${f} declares the internal Cohort types`);
  }
  const manifest = JSON.parse(execFileSync('tar', ['xzf', file, '-O', 'package/package.json'], { encoding: 'utf8' }));
  for (const field of ['devDependencies', 'scripts']) {
    if (manifest[field] !== undefined) problems.push(`published package.json keeps ${field}`);
  }
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
    for (const [dep, range] of Object.entries(manifest[field] ?? {})) {
      if (String(range).startsWith('workspace:')) problems.push(`${field}.${dep} is ${range}`);
      if (privateNames.has(dep)) problems.push(`${field}.${dep} is a private workspace package`);
    }
  }
  const packed = statSync(file).size;
  const unpacked = [...entries.values()].reduce((a, b) => a + b, 0);
  sizes.push({ name: manifest.name, packed, unpacked, files: entries.size });
  return problems;
}
rmSync(out, { recursive: true, force: true });
process.exitCode = failures > 0 ? 1 : 0;

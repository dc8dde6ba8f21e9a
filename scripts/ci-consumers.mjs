#!/usr/bin/env node
// The user's side of CI's publish-and-install stage (run by scripts/ci-publish-install.sh once every
// package is on the throwaway registry). For each public package, a fresh project outside the
// workspace runs the install line of the package's README as written (`npm install …`, with
// `@valve:registry` pointing at the throwaway registry) and then the README's quick start, as written:
//   1. ESM TypeScript: `tsc` with module/moduleResolution nodenext and strict must pass, then node runs it;
//   2. CommonJS: the same code compiled to `require()` calls (esbuild transform), body in an async main;
//   3. an esbuild bundle of it (platform node, ESM), run with node.
// Each run must exit 0 within RUN_TIMEOUT_MS: a quick start that leaves a timer or a socket open fails.
// Usage: node scripts/ci-consumers.mjs --registry URL --repo DIR --work DIR
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { publicPackages } from './release.mjs';

const { values: args } = parseArgs({
  options: { registry: { type: 'string' }, repo: { type: 'string' }, work: { type: 'string' } },
});
if (!args.registry || !args.repo || !args.work) throw new Error('usage: --registry URL --repo DIR --work DIR');

const RUN_TIMEOUT_MS = 30_000;
const INSTALL_TIMEOUT_MS = 180_000;
// The toolchain a user would have, pinned like the repository's; installed once next to the
// projects (module resolution finds it by walking up) from the machine's usual registry.
const TOOLS = ['typescript@6.0.3', 'esbuild@0.27.7', '@types/node@20.19.43'];

/** The code of the first fenced block of `lang` under the `## title` heading of a README. */
export function section(readme, title, lang) {
  const start = readme.search(new RegExp(`^## ${title}\\b.*$`, 'm'));
  if (start < 0) return undefined;
  const rest = readme.slice(start).split('\n').slice(1).join('\n');
  const end = rest.search(/^## /m);
  const body = end < 0 ? rest : rest.slice(0, end);
  return new RegExp(`^\`\`\`${lang}\\n([\\s\\S]*?)^\`\`\`$`, 'm').exec(body)?.[1];
}

/** Splits a quick start into its import statements and the rest (for the CommonJS wrapper). */
export function splitImports(code) {
  const lines = code.split('\n');
  const imports = [];
  let i = 0;
  for (; i < lines.length; i++) {
    if (/^import\s/.test(lines[i])) {
      let statement = lines[i];
      while (!/from\s+['"][^'"]+['"];?\s*$/.test(statement) && i + 1 < lines.length) statement += `\n${lines[++i]}`;
      imports.push(statement);
    } else if (lines[i].trim() !== '' && !lines[i].trim().startsWith('//')) {
      break;
    }
  }
  return { imports: imports.join('\n'), body: lines.slice(i).join('\n') };
}

function sh(cmd, cmdArgs, cwd, timeout, env = {}) {
  const started = Date.now();
  const r = spawnSync(cmd, cmdArgs, { cwd, encoding: 'utf8', timeout, env: { ...process.env, ...env } });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  const ms = Date.now() - started;
  if (r.error?.code === 'ETIMEDOUT' || r.signal === 'SIGTERM') {
    return {
      ok: false,
      ms,
      why: `did not exit within ${timeout / 1000} s (a timer, socket or client left open?)`,
      output,
    };
  }
  if (r.status !== 0) return { ok: false, ms, why: `exit ${r.status ?? r.signal}`, output };
  return { ok: true, ms, output };
}

mkdirSync(args.work, { recursive: true });
writeFileSync(join(args.work, 'package.json'), JSON.stringify({ name: 'consumer-tools', private: true }));
console.log(`tools: npm install ${TOOLS.join(' ')}`);
const tools = sh('npm', ['install', '--no-audit', '--no-fund', ...TOOLS], args.work, INSTALL_TIMEOUT_MS);
if (!tools.ok) {
  console.error(`FAIL installing the tools: ${tools.why}\n${tools.output}`);
  process.exit(1);
}
const esbuild = createRequire(join(args.work, 'package.json'))('esbuild');
const tsc = join(args.work, 'node_modules', 'typescript', 'bin', 'tsc');

let failures = 0;
const report = [];
for (const { name, version, dir } of publicPackages(args.repo)) {
  const readme = readFileSync(join(dir, 'README.md'), 'utf8');
  const install = section(readme, 'Install', 'sh')?.trim();
  const quickStart = section(readme, 'Quick start', 'ts');
  const fail = (what, why, output = '') => {
    failures++;
    report.push(`FAIL ${name}: ${what}: ${why}`);
    console.error(`FAIL ${name}: ${what}: ${why}${output ? `\n${output.trimEnd().replace(/^/gm, '    | ')}` : ''}`);
  };
  if (!install || !/^npm install( [@\w./-]+)+$/.test(install) || !install.split(' ').includes(name)) {
    fail('README', `no "## Install" block with one line "npm install ${name} …" (got ${JSON.stringify(install)})`);
    continue;
  }
  if (!quickStart) {
    fail('README', 'no ```ts block under "## Quick start"');
    continue;
  }
  const project = join(args.work, name.replace('@valve/', ''));
  mkdirSync(project, { recursive: true });
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: `consumer-${name.slice(7)}`, private: true, type: 'module' }),
  );
  writeFileSync(join(project, '.npmrc'), `@valve:registry=${args.registry}\n`);
  console.log(`\n${name}@${version}: ${install}`);
  const installed = sh('npm', [...install.split(' ').slice(1), '--no-audit', '--no-fund'], project, INSTALL_TIMEOUT_MS);
  if (!installed.ok) {
    fail('install', installed.why, installed.output);
    continue;
  }
  const got = JSON.parse(readFileSync(join(project, 'node_modules', ...name.split('/'), 'package.json'), 'utf8'));
  if (got.version !== version) {
    fail('install', `installed ${got.version}, published ${version}`);
    continue;
  }
  const valves = readdirSync(join(project, 'node_modules', '@valve')).map((d) => `@valve/${d}`);
  console.log(`  installed ${valves.join(', ')} (${(installed.ms / 1000).toFixed(1)} s)`);

  // 1. ESM TypeScript, nodenext + strict.
  const thirdParty = install
    .split(' ')
    .slice(2)
    .some((dep) => !dep.startsWith('@valve/'));
  writeFileSync(join(project, 'quickstart.ts'), quickStart);
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'nodenext',
        moduleResolution: 'nodenext',
        strict: true,
        types: ['node'],
        outDir: 'dist',
        // Our .d.ts files are checked too, unless a third-party package is installed: ioredis's
        // own declarations fail strict checking (TS7016 on 'redis-errors'), so then, as
        // `tsc --init` does, skipLibCheck.
        skipLibCheck: thirdParty,
      },
      files: ['quickstart.ts'],
    }),
  );
  const runs = [];
  const typed = sh(process.execPath, [tsc, '-p', '.'], project, 120_000);
  if (!typed.ok) fail('tsc (ESM, nodenext, strict)', typed.why, typed.output);
  else runs.push(['ESM TypeScript', [join('dist', 'quickstart.js')]]);

  // 2. CommonJS: require() calls, the body in an async main (CommonJS has no top-level await).
  const { imports, body } = splitImports(quickStart);
  const wrapped = `${imports}\n\nasync function main(): Promise<void> {\n${body}\n}\nmain().catch((error: unknown) => {\n  console.error(error);\n  process.exitCode = 1;\n});\n`;
  try {
    const cjs = esbuild.transformSync(wrapped, { loader: 'ts', format: 'cjs', target: 'node20' }).code;
    if (!/require\("@valve\//.test(cjs)) throw new Error('the CommonJS version has no require("@valve/…")');
    writeFileSync(join(project, 'quickstart.cjs'), cjs);
    runs.push(['CommonJS require', ['quickstart.cjs']]);
  } catch (error) {
    fail('CommonJS transform', String(error));
  }

  // 3. esbuild bundle (ESM; createRequire lets bundled CommonJS dependencies require Node's modules).
  try {
    esbuild.buildSync({
      entryPoints: [join(project, 'quickstart.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile: join(project, 'bundle.mjs'),
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
      logLevel: 'silent',
    });
    runs.push(['esbuild bundle', ['bundle.mjs']]);
  } catch (error) {
    fail('esbuild bundle', String(error));
  }

  for (const [label, nodeArgs] of runs) {
    const r = sh(process.execPath, nodeArgs, project, RUN_TIMEOUT_MS);
    const said = r.output.trim().split('\n')[0]?.slice(0, 100) ?? '';
    if (r.ok)
      console.log(
        `  ok   ${label}: ran and exited 0 in ${(r.ms / 1000).toFixed(1)} s${said ? `, printed: ${said}` : ''}`,
      );
    else fail(label, r.why, r.output);
  }
  if (!existsSync(join(project, 'node_modules', '@valve', name.slice(7), 'README.md'))) {
    fail('tarball', 'README.md is not in the installed package');
  }
}

console.log('');
if (failures > 0) {
  console.error(`consumers: ${failures} failure(s):\n  ${report.join('\n  ')}`);
  process.exit(1);
}
console.log('consumers: every package installed alone and ran its quick start (ESM TypeScript, CommonJS, esbuild)');

/**
 * Runs every suite in ./suites (or those named with --filter), printing one table per case.
 *   --quick   fewer ops and rounds        --smoke   tiny runs: checks the suites work (CI)
 *   --json    also writes bench/results/<suite>-<date>.json with the Node version and CPU
 *   --filter a,b  only the named suites
 * Benchmarks never fail on speed: the exit code is non-zero only when a suite throws.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type CaseResult, environment, formatCase, runCase, type Suite, type SuiteContext } from './harness.js';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const filterArg = args.find((_a, i) => args[i - 1] === '--filter');
const filter = filterArg ? new Set(filterArg.split(',')) : undefined;
const smoke = flag('smoke');
const quick = flag('quick') || smoke;

const ctx: SuiteContext = {
  quick,
  smoke,
  scale: (ops) => (smoke ? Math.max(100, Math.round(ops / 1000)) : quick ? Math.round(ops / 10) : ops),
};

const here = dirname(fileURLToPath(import.meta.url));
const suiteDir = join(here, 'suites');
const files = readdirSync(suiteDir)
  .filter((f) => f.endsWith('.js'))
  .sort();

const env = environment();
console.log(`valve bench: node ${env.node}, ${env.cpu} x${env.cores}${smoke ? ' (smoke)' : quick ? ' (quick)' : ''}`);
let failed = 0;
for (const file of files) {
  const suite = ((await import(pathToFileURL(join(suiteDir, file)).href)) as { default: Suite }).default;
  if (filter && !filter.has(suite.name)) continue;
  console.log(`\n${suite.name}: ${suite.description}`);
  const results: CaseResult[] = [];
  try {
    for (const c of await suite.cases(ctx)) {
      const r = await runCase(c, { rounds: smoke ? 1 : quick ? 3 : 7, warmup: smoke ? 0 : 1, log: console.log });
      results.push(r);
      console.log(formatCase(r));
    }
  } catch (error) {
    failed++;
    console.error(`suite ${suite.name} failed:`, error);
  } finally {
    await suite.teardown?.();
  }
  if (flag('json') && results.length > 0) {
    const out = join(here, '..', '..', 'results');
    mkdirSync(out, { recursive: true });
    const file = join(out, `${suite.name}-${env.date.slice(0, 10)}.json`);
    writeFileSync(file, `${JSON.stringify({ suite: suite.name, environment: env, quick, results }, null, 2)}\n`);
    console.log(`  wrote ${file}`);
  }
}
process.exitCode = failed > 0 ? 1 : 0;

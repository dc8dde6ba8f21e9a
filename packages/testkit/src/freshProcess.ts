import { execFileSync } from 'node:child_process';

/**
 * Runs `body` (the body of an async function; its return value is the result) in a fresh Node
 * process, as an ES module that starts with `imports`, and returns the result (JSON round-tripped).
 * For what a process that has never done something behaves like: no AsyncLocalStorage enabled
 * yet, V8 not warmed up. Use the built `dist/` of the package under test in `imports`.
 */
export function inFreshProcess(imports: string, body: string): unknown {
  const source = `${imports}
const out = await (async () => { ${body} })();
process.stdout.write(JSON.stringify(out));`;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', source], { encoding: 'utf8' }));
}

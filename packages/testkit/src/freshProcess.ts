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

/**
 * Aborts `n` AbortSignals that each have an object listener (`{ handleEvent }`, as core's
 * SignalGroups adds), so that a heap bound measured afterwards sees what the code under test
 * keeps, not Node's own bookkeeping: Node 24 keeps a table sized by the most such signals it has
 * seen (about 44 bytes each, flat over repeated rounds), which Node 20 does not.
 */
export function warmAbortSignals(n: number): void {
  const listener = { handleEvent() {} };
  for (let i = 0; i < n; i++) {
    const ac = new AbortController();
    ac.signal.addEventListener('abort', listener, { once: true });
    ac.abort('warm-up');
  }
}

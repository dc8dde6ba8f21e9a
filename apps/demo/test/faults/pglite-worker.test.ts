/**
 * Issue 18 item 4, as an operator sees it: `node dist/server.js` on the embedded PGlite whose
 * worker thread is killed (the worker script is the test fixture that ends the thread with exit
 * code 3 on an event of type `valve:crash-worker`). Each wait is bounded; nothing sleeps.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { getJson, postJson } from '../helpers.js';
import { killAll, spawnDemo } from './spawnDemo.js';

const WORKER = fileURLToPath(new URL('../fixtures/crashingPgliteWorker.js', import.meta.url));
const CLOSE_CHILD = fileURLToPath(new URL('../fixtures/closeAfterWorkerCrash.mjs', import.meta.url));

afterEach(killAll);

/** Resolves when `predicate(output())` holds, checked on every chunk the child writes; rejects after `ms`. */
function outputMatches(
  child: { stdout: NodeJS.ReadableStream | null; stderr: NodeJS.ReadableStream | null },
  output: () => string,
  pattern: RegExp,
  ms: number,
): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = pattern.exec(output());
      if (m) {
        cleanup();
        resolve(m);
      }
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no ${pattern} within ${ms} ms:\n${output()}`));
    }, ms);
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout?.off('data', check);
      child.stderr?.off('data', check);
    };
    // After the demo's own listeners have appended the chunk.
    child.stdout?.on('data', () => setImmediate(check));
    child.stderr?.on('data', () => setImmediate(check));
    check();
  });
}

describe('PGlite worker killed (node dist/server.js)', () => {
  // Two or three PGlite starts per test (20 s and more each on a loaded machine): generous bounds.
  it('leaves rotation (503) while down, restarts the worker, serves again, and SIGTERM exits 0', {
    timeout: 180_000,
  }, async () => {
    const demo = await spawnDemo({ PGLITE_WORKER_SCRIPT: WORKER, PGLITE_RESTART_DELAY_MS: '0' });
    const up = outputMatches(demo.child, demo.output, /the worker is up again/, 150_000);
    const crashed = await postJson(
      `${demo.url}/direct/events`,
      JSON.stringify([{ type: 'valve:crash-worker', payload: 1 }]),
    );
    expect(crashed.status).toBe(503);
    const down = await getJson(`${demo.url}/healthz`);
    expect(down.status).toBe(503);
    expect(down.body.worker).toMatchObject({ state: 'restarting', exits: 1 });
    expect((await postJson(`${demo.url}/events`, JSON.stringify([{ type: 'meanwhile', payload: 1 }]))).status).toBe(
      202,
    );
    await up;
    expect((await getJson(`${demo.url}/healthz`)).status).toBe(200);
    expect((await getJson(`${demo.url}/customers/3`)).status).toBe(200);
    const stats = await getJson(`${demo.url}/events/stats`);
    expect(stats.body).toMatchObject({ deadLettered: 0 });
    demo.child.kill('SIGTERM');
    expect(await demo.exited).toEqual({ code: 0, signal: null });
  });

  it('exits 1 by itself once the restarts give up (PGLITE_RESTART_MAX_ATTEMPTS=0), for its supervisor to restart', {
    timeout: 180_000,
  }, async () => {
    const demo = await spawnDemo({ PGLITE_WORKER_SCRIPT: WORKER, PGLITE_RESTART_MAX_ATTEMPTS: '0' });
    await postJson(`${demo.url}/direct/events`, JSON.stringify([{ type: 'valve:crash-worker', payload: 1 }]));
    const exited = await Promise.race([
      demo.exited,
      new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 30_000).unref()),
    ]);
    expect(exited).toEqual({ code: 1, signal: null });
    expect(demo.output()).toMatch(/restarts gave up/);
  });

  for (const [when, delayMs] of [
    ['during the restart back-off', '600000'],
    ['while the restarted worker starts', '0'],
  ] as const) {
    it(`close() ${when} leaves nothing open: the process ends by itself`, { timeout: 180_000 }, async () => {
      const child = spawn(process.execPath, [CLOSE_CHILD], {
        env: { ...process.env, PGLITE_WORKER_SCRIPT: WORKER, PGLITE_RESTART_DELAY_MS: delayMs },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        out += d.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      try {
        const closed = await outputMatches(child, () => out, /closed (\[.*\])/, 150_000);
        expect(out).toMatch(/crashed 503 healthz 503/);
        // Nothing but the child's own stdio pipes is left once close() settled...
        expect(JSON.parse(closed[1]!).filter((r: string) => r !== 'PipeWrap' && r !== 'TTYWrap')).toEqual([]);
        // ...so it ends on its own, promptly (bounded; the old code's close took 6 s here).
        const code = await Promise.race([
          exited,
          new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 5000).unref()),
        ]);
        expect(code, out).toBe(0);
      } finally {
        child.kill('SIGKILL');
      }
    });
  }
});

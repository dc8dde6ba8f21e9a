/**
 * `pnpm bench:load --scenario scale-out` (issue 16 item 6): the demo with 1 and with 2 processes
 * (`DEMO_PROCESSES`, node:cluster, one port) on the same PostgreSQL and the same Redis-backed
 * SafetyValve limits (`SAFETY_LIMITS=redis`: a RedisSemaphore cap and a RedisTokenBucket rate,
 * also for the single process, so the two differ only in the number of processes).
 *
 * Each round starts the demo once per process count (the order rotates per round), checks that
 * every process answers (`/healthz` carries the pid), and measures two routes with autocannon:
 *
 * - **ceiling**: `/unprotected/direct/customers/<zipf>`, closed loop, no valve and no Redis: what
 *   N processes serve on this machine, with autocannon on the same cores.
 * - **limited**: `/direct/customers/<zipf>` (the SafetyValve `db`) at an offered rate of
 *   `SCALE_OUT_OFFERED` req/s (spread over 20 autocannon instances, as the overload scenario
 *   does) against a global `SAFETY_RATE` of `SCALE_OUT_RATE`. The requests admitted (2xx, plus any
 *   status other than 503, which also passed the valve) over the whole run must stay within one
 *   bucket: `rate + ceil(rate x seconds) + 1` (the tolerance of apps/demo/test/scaleOut.test.ts:
 *   the bucket starts full, tokenLimit = rate). Two per-process buckets would admit about twice that.
 *
 * The cap (`SAFETY_CONCURRENCY`, a RedisSemaphore) is not checked independently here: its count
 * lives in the semaphore's own Redis set, so sampling it would only read back what the script
 * enforces.
 */
import { median } from '@valve/demo/shared';
import { type DemoProcess, startDemo } from './demoProcess.js';
import { measure, type RunResult, type Target } from './measure.js';

/** Global SafetyValve rate (SAFETY_RATE, queries started per second) on the limited route. */
export const SCALE_OUT_RATE = 400;
/** Offered load on the limited route: twice the rate, so the rate is what binds. */
export const SCALE_OUT_OFFERED = 2 * SCALE_OUT_RATE;
/** Process counts compared (2 cores: 4 processes would only add contention). */
export const SCALE_OUT_PROCESSES = [1, 2] as const;
const WAVES = 20;

export interface ScaleOutSettings {
  connections: number;
  durationS: number;
  runs: number;
}

export interface ScaleOutRun {
  processes: number;
  /** Distinct pids that answered /healthz before the run. */
  pidsSeen: number;
  ceiling: RunResult;
  limited: RunResult;
  /** Requests that passed the SafetyValve on the limited route (every status but 503 and socket errors). */
  admitted: number;
  /** One bucket's worth over the run: `rate + ceil(rate x seconds) + 1`. */
  bound: number;
}

/** Requests one token bucket of `rate` per second (tokenLimit = rate, starting full) may admit in `seconds`. */
export function oneBucketBound(rate: number, seconds: number): number {
  return rate + Math.ceil(rate * seconds) + 1;
}

/** Requests of a run that passed the valve: 2xx and every status other than 503 (socket errors did not). */
export function admittedOf(r: RunResult): number {
  let n = 0;
  for (const [code, count] of Object.entries(r.statuses)) if (Number(code) !== 503) n += count;
  return n;
}

/** Polls /healthz on fresh connections until `n` distinct pids answered (at most 60 s). */
async function waitForPids(url: string, n: number): Promise<number> {
  const pids = new Set<number>();
  const deadline = Date.now() + 60_000;
  while (pids.size < n && Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/healthz`, {
        headers: { connection: 'close' },
        signal: AbortSignal.timeout(2000),
      });
      const body = (await res.json()) as { pid?: number };
      if (typeof body.pid === 'number') pids.add(body.pid);
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return pids.size;
}

export async function runScaleOut(options: {
  serverPath: string;
  databaseUrl: string;
  redisUrl: string;
  seedCustomers: number;
  settings: ScaleOutSettings;
  zipfPath: () => string;
  log: (line: string) => void;
  /** Set while a demo runs, so a signal handler can stop it. */
  onDemo: (demo: DemoProcess | undefined) => void;
}): Promise<ScaleOutRun[]> {
  const { settings: s, log } = options;
  const runs: ScaleOutRun[] = [];
  const ceilingTarget: Target = { method: 'GET', path: () => `/unprotected/direct/customers/${options.zipfPath()}` };
  const limitedTarget: Target = { method: 'GET', path: () => `/direct/customers/${options.zipfPath()}` };
  const limited = (url: string, durationS: number) =>
    measure({
      url,
      target: limitedTarget,
      connections: s.connections,
      durationS,
      overallRate: SCALE_OUT_OFFERED,
      waves: WAVES,
    });
  for (let round = 0; round < s.runs; round++) {
    for (let j = 0; j < SCALE_OUT_PROCESSES.length; j++) {
      const processes = SCALE_OUT_PROCESSES[(round + j) % SCALE_OUT_PROCESSES.length];
      const demo = await startDemo({
        serverPath: options.serverPath,
        env: {
          DEMO_PROCESSES: String(processes),
          SAFETY_LIMITS: 'redis',
          SAFETY_RATE: String(SCALE_OUT_RATE),
          REDIS_URL: options.redisUrl,
          DATABASE_URL: options.databaseUrl,
          SEED_CUSTOMERS: String(options.seedCustomers),
          DEMO_TABLE_PREFIX: 'valve_load_',
        },
      });
      options.onDemo(demo);
      try {
        const pidsSeen = await waitForPids(demo.url, processes);
        if (pidsSeen < processes) throw new Error(`only ${pidsSeen} of ${processes} processes answered /healthz`);
        // Warm-up (not counted): JIT, pg pools, Redis scripts loaded in every process.
        await measure({ url: demo.url, target: ceilingTarget, connections: s.connections, durationS: 1 });
        await limited(demo.url, 1);
        const label = `[scale-out] run ${round + 1}/${s.runs} ${processes} process${processes > 1 ? 'es' : ''}`;
        const ceiling = await measure({
          url: demo.url,
          target: ceilingTarget,
          connections: s.connections,
          durationS: s.durationS,
        });
        log(
          `${label} ceiling ${Math.round(ceiling.okPerSec)} ok/s  p50 ${ceiling.p50Ms.toFixed(1)} ms  p99 ${ceiling.p99Ms.toFixed(1)} ms`,
        );
        const lim = await limited(demo.url, s.durationS);
        const admitted = admittedOf(lim);
        const bound = oneBucketBound(SCALE_OUT_RATE, lim.durationS);
        log(
          `${label} limited ${Math.round(lim.okPerSec)} ok/s  p50 ${lim.p50Ms.toFixed(1)} ms  p99 ${lim.p99Ms.toFixed(1)} ms  ` +
            `503 ${lim.shed}  admitted ${admitted} (bound ${bound})`,
        );
        runs.push({ processes, pidsSeen, ceiling, limited: lim, admitted, bound });
      } finally {
        await demo.stop();
        options.onDemo(undefined);
      }
    }
  }
  return runs;
}

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const ms = (n: number) => (Number.isFinite(n) ? (n < 10 ? n.toFixed(1) : Math.round(n).toString()) : 'n/a');
const share = (r: RunResult) => {
  const total = r.ok + r.shed + r.otherErrors;
  return total === 0 ? 0 : r.shed / total;
};

/** The results section: one row per process count (medians over the rounds), then every run. */
export function scaleOutMarkdown(runs: ScaleOutRun[]): string {
  const by = (p: number) => runs.filter((r) => r.processes === p);
  const med = (p: number, pick: (r: ScaleOutRun) => number) => median(by(p).map(pick));
  const lines = [
    `Limited route: \`GET /direct/customers/<zipf>\` (SafetyValve \`db\`, \`SAFETY_LIMITS=redis\`, global ` +
      `\`SAFETY_RATE=${SCALE_OUT_RATE}\`), ${SCALE_OUT_OFFERED} req/s offered (open loop, ${WAVES} autocannon instances ` +
      'started 50 ms apart). Ceiling: `GET /unprotected/direct/customers/<zipf>`, closed loop, no valve. ' +
      'p50/p99 are of 2xx responses. Medians over the rounds:',
    '',
    '| processes | ceiling 2xx/s | ceiling p50 / p99 | limited 2xx/s | limited p50 / p99 | 503 share | admitted / one-bucket bound (worst run) | limit held |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const p of SCALE_OUT_PROCESSES) {
    if (by(p).length === 0) continue;
    const worst = by(p).reduce((a, r) => (r.admitted / r.bound > a.admitted / a.bound ? r : a));
    const held = by(p).every((r) => r.admitted <= r.bound);
    lines.push(
      `| ${p} | ${int(med(p, (r) => r.ceiling.okPerSec))} | ${ms(med(p, (r) => r.ceiling.p50Ms))} / ${ms(med(p, (r) => r.ceiling.p99Ms))} ms ` +
        `| ${int(med(p, (r) => r.limited.okPerSec))} | ${ms(med(p, (r) => r.limited.p50Ms))} / ${ms(med(p, (r) => r.limited.p99Ms))} ms ` +
        `| ${(100 * med(p, (r) => share(r.limited))).toFixed(1)}% | ${int(worst.admitted)} / ${int(worst.bound)} | ${held ? 'yes' : '**no**'} |`,
    );
  }
  const [one, two] = SCALE_OUT_PROCESSES;
  if (by(one).length > 0 && by(two).length > 0) {
    const ratio = (pick: (r: ScaleOutRun) => number) => (med(two, pick) / med(one, pick)).toFixed(2);
    lines.push(
      '',
      `**${two} processes / ${one} process (medians): ceiling ${ratio((r) => r.ceiling.okPerSec)}x, ` +
        `limited route ${ratio((r) => r.limited.okPerSec)}x.**`,
    );
  }
  lines.push(
    '',
    '| run | processes | ceiling 2xx/s | limited 2xx/s | 503 | other errors | admitted | bound | seconds |',
  );
  lines.push('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  runs.forEach((r, i) => {
    lines.push(
      `| ${Math.floor(i / SCALE_OUT_PROCESSES.length) + 1} | ${r.processes} | ${int(r.ceiling.okPerSec)} | ${int(r.limited.okPerSec)} ` +
        `| ${int(r.limited.shed)} | ${r.limited.otherErrors + r.ceiling.otherErrors} | ${int(r.admitted)} | ${int(r.bound)} | ${r.limited.durationS.toFixed(2)} |`,
    );
  });
  return lines.join('\n');
}

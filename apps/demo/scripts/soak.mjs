// Issue 18 item 8: the memory soak of the embedded PGlite. Starts `node dist/server.js` (own
// process group, a free port), sends a steady mix for DURATION_S seconds (CLIENTS loops: half
// POST /events with EVENTS_PER_POST events each, half GET /customers/:id), and every SAMPLE_S
// seconds records the process RSS (VmRSS of the server, worker thread included) and what the
// database stores (GET /db/stats: rows and bytes per table, the database size, the WAL).
// Prints one JSON line per sample and a summary; SIGTERMs the demo at the end.
//
//   node scripts/soak.mjs [DURATION_S=300] [label]       (run it through bench-lock.sh)
//   extra demo environment is passed through (e.g. DEMO_RETAIN_ROWS=100000)
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const DURATION_S = Number(process.argv[2] ?? 300);
const LABEL = process.argv[3] ?? 'soak';
const SAMPLE_S = Number(process.env.SAMPLE_S ?? 15);
const CLIENTS = Number(process.env.CLIENTS ?? 16);
const EVENTS_PER_POST = Number(process.env.EVENTS_PER_POST ?? 20);
const server = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'server.js');

const child = spawn(process.execPath, [server], {
  env: { ...process.env, PORT: '0' },
  stdio: ['ignore', 'pipe', 'inherit'],
  detached: true,
});
let out = '';
const url = await new Promise((resolve, reject) => {
  child.stdout.on('data', (d) => {
    out += d;
    const m = /listening on (http:\/\/\S+)/.exec(out);
    if (m) resolve(m[1]);
  });
  child.once('exit', () => reject(new Error(`demo exited:\n${out}`)));
  setTimeout(() => reject(new Error('no start in 120 s')), 120_000).unref();
});
const rssMb = () => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
  return Math.round(Number(m[1]) / 1024);
};
const counts = { posts: 0, gets: 0, non2xx: 0, errors: 0 };
let stop = false;
async function client(i) {
  let n = i * 7919;
  while (!stop) {
    n++;
    try {
      let res;
      if (i % 2 === 0) {
        const events = Array.from({ length: EVENTS_PER_POST }, (_, k) => ({
          type: 'soak',
          payload: { n, k, note: 'a small payload of about sixty bytes, like a click event' },
        }));
        res = await fetch(`${url}/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(events),
        });
        counts.posts++;
      } else {
        res = await fetch(`${url}/customers/${1 + (n % 10_000)}`);
        counts.gets++;
      }
      await res.arrayBuffer();
      if (res.status >= 300) counts.non2xx++;
    } catch {
      counts.errors++;
    }
  }
}
const started = performance.now();
const samples = [];
async function sample() {
  const stats = await (await fetch(`${url}/db/stats`)).json();
  const s = { t: Math.round((performance.now() - started) / 1000), rssMb: rssMb(), ...counts, db: stats };
  samples.push(s);
  console.log(JSON.stringify(s));
}
await sample();
const clients = Array.from({ length: CLIENTS }, (_, i) => client(i));
while (performance.now() - started < DURATION_S * 1000) {
  await new Promise((r) => setTimeout(r, SAMPLE_S * 1000));
  await sample();
}
stop = true;
await Promise.all(clients);
await sample();
process.kill(-child.pid, 'SIGTERM');
const first = samples[0];
const last = samples.at(-1);
console.log(
  JSON.stringify({
    label: LABEL,
    durationS: DURATION_S,
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => /^(DEMO_|PGLITE_|EVENTS_|AUDIT_)/.test(k))),
    rssMb: { start: first.rssMb, end: last.rssMb, max: Math.max(...samples.map((x) => x.rssMb)) },
    counts,
    stored: last.db,
  }),
);

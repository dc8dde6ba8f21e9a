/**
 * Entry point: `node dist/server.js` (what a supervisor should run; `pnpm demo` builds and then
 * `exec`s exactly this, so the shell is replaced by node and pnpm's forwarded SIGTERM/SIGINT
 * reach the server). Reads the environment, starts the demo, prints its address and pid, and
 * shuts down gracefully on SIGTERM or SIGINT, exiting 0 once everything accepted is settled.
 *
 * A second signal exits at once (130), unless it comes within DUPLICATE_SIGNAL_MS of the
 * first: Ctrl-C under `pnpm demo` delivers SIGINT twice, once from the terminal to the whole
 * process group and once forwarded by pnpm, and that one keypress must still shut down cleanly.
 */
import cluster from 'node:cluster';
import { startDemo } from './app.js';
import { ConfigError, type DemoConfig, loadConfig } from './config.js';
import { createDatabase } from './db/index.js';

/** Signals closer together than this are one signal delivered twice (see the header). */
const DUPLICATE_SIGNAL_MS = 1000;

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`configuration error: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
  if (config.processes > 1 && cluster.isPrimary) {
    await runPrimary(config);
    return;
  }
  const started = performance.now();
  // The embedded PGlite's worker restarts gave up (issue 18 item 4): leave rotation for good and
  // exit 1, so a supervisor starts a fresh process instead of keeping a zombie.
  let failDatabase = (): void => {};
  const demo = await startDemo(config, { onDatabaseFailed: () => failDatabase() });
  console.log(
    `valve demo listening on ${demo.url} (database: ${demo.db.description}, cache: ${demo.cache.kind}, ` +
      `${config.seedCustomers} customers, ready in ${Math.round(performance.now() - started)} ms, pid ${process.pid})`,
  );

  let firstSignalAt: number | undefined;
  const shutdown = (signal: NodeJS.Signals): void => {
    const now = performance.now();
    if (firstSignalAt !== undefined && now - firstSignalAt < DUPLICATE_SIGNAL_MS) return;
    if (firstSignalAt !== undefined) {
      console.error(`${signal} again: exiting without waiting`);
      process.exit(130);
    }
    firstSignalAt = now;
    console.log(`${signal}: shutting down (draining accepted work)…`);
    demo.close().then(
      () => {
        console.log('shut down cleanly');
        process.exit(0);
      },
      (error: unknown) => {
        console.error('shutdown failed:', error);
        process.exit(1);
      },
    );
  };
  failDatabase = () => {
    if (firstSignalAt !== undefined) return;
    firstSignalAt = performance.now();
    console.error('the embedded database cannot be restarted: shutting down, exit code 1');
    demo.close().then(
      () => process.exit(1),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

/**
 * DEMO_PROCESSES > 1: this process serves nothing itself. It creates and seeds a shared
 * database once (DATABASE_URL; so the workers' own init finds the tables and seed and does not
 * race on them; without it every worker embeds its own PGlite), then forks DEMO_PROCESSES
 * workers with node:cluster; they share the port (the primary hands each connection to a worker
 * in turn) and the SafetyValve's limits (Redis, src/valves.ts). SIGTERM or SIGINT here is passed
 * to every worker, each drains as a single process does, and this process exits once all have
 * exited: 0 if every worker exited 0. A worker that dies otherwise is not replaced: the primary
 * shuts the others down and exits 1, so a supervisor sees the failure.
 */
async function runPrimary(config: DemoConfig): Promise<void> {
  if (config.databaseUrl !== undefined) {
    const db = createDatabase(config.databaseUrl, { tablePrefix: config.tablePrefix, poolSize: 1 });
    try {
      await db.init(config.seedCustomers);
    } finally {
      await db.close();
    }
  }
  const workers = Array.from({ length: config.processes }, () => cluster.fork());
  let listening = 0;
  let stopping: NodeJS.Signals | undefined;
  let failed = false;
  const stopAll = (signal: NodeJS.Signals): void => {
    for (const w of workers) if (!w.isDead()) w.process.kill(signal);
  };
  cluster.on('listening', (_worker, address) => {
    if (++listening === workers.length) {
      console.log(
        `valve demo primary ${process.pid}: ${workers.length} processes listening on port ${address.port} ` +
          `(pids ${workers.map((w) => w.process.pid).join(' ')}), limits shared through Redis`,
      );
    }
  });
  cluster.on('exit', (worker, code, signal) => {
    if (code !== 0) failed = true;
    if (stopping === undefined) {
      console.error(
        `worker ${worker.process.pid} exited (${signal ?? code}) unasked: stopping the others, exit code 1`,
      );
      stopping = 'SIGTERM';
      stopAll('SIGTERM');
    }
    if (workers.every((w) => w.isDead())) process.exit(failed ? 1 : 0);
  });
  const shutdown = (signal: NodeJS.Signals): void => {
    // Ctrl-C reaches the workers from the terminal too (one process group); they tell a repeat
    // within a second from a second Ctrl-C themselves (see the header).
    if (stopping !== undefined) return;
    stopping = signal;
    console.log(`${signal}: stopping ${workers.length} processes (each drains its accepted work)…`);
    stopAll(signal);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((error: unknown) => {
  console.error(`valve demo failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});

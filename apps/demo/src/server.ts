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
import { startDemo } from './app.js';
import { ConfigError, loadConfig } from './config.js';

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

main().catch((error: unknown) => {
  console.error(`valve demo failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
